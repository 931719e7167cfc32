//! API errors: MLflow's JSON error bodies with MLflow's HTTP statuses, except that no
//! client mistake ever gets a 5xx (the official client retries those for minutes).

use crate::tracking::StoreError;
use crate::tracking::wire::ErrorBody;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An error answer: `{"error_code": ..., "message": ...}` with an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// MLflow error code, e.g. `INVALID_PARAMETER_VALUE`.
    pub error_code: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with an explicit status and code.
    pub fn new(status: StatusCode, error_code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error_code,
            message: message.into(),
        }
    }

    /// 400 `INVALID_PARAMETER_VALUE`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    /// 400 "Missing value for required parameter 'x'."
    pub fn missing(name: &str) -> Self {
        Self::invalid(format!("Missing value for required parameter '{name}'."))
    }

    /// 400 "Invalid value ... for parameter 'x' supplied: Hint: ..."
    pub fn invalid_value(name: &str, value: &serde_json::Value, hint: &str) -> Self {
        Self::invalid(format!(
            "Invalid value {value} for parameter '{name}' supplied: Hint: {hint}"
        ))
    }

    /// 404 `RESOURCE_DOES_NOT_EXIST`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }

    /// 404 `ENDPOINT_NOT_FOUND` for an unknown route.
    pub fn no_endpoint(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ENDPOINT_NOT_FOUND",
            format!("No API endpoint {method} {path}"),
        )
    }

    /// 500 `INTERNAL_ERROR`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message)
    }

    /// 401 `UNAUTHENTICATED`.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "You are not authenticated. Send the server's token as 'Authorization: Bearer \
             <token>' (MLFLOW_TRACKING_TOKEN) or as the password of HTTP basic auth \
             (MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD).",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&ErrorBody {
            error_code: self.error_code.to_string(),
            message: self.message.clone(),
        })
        .unwrap_or_default()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = e.error_code();
        let status = match code {
            "RESOURCE_DOES_NOT_EXIST" | "ENDPOINT_NOT_FOUND" => StatusCode::NOT_FOUND,
            "PERMISSION_DENIED" => StatusCode::FORBIDDEN,
            "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
            // A client mistake: MLflow answers 500, which its client retries for minutes.
            "INVALID_STATE" => StatusCode::BAD_REQUEST,
            "TEMPORARILY_UNAVAILABLE" => StatusCode::SERVICE_UNAVAILABLE,
            "REQUEST_LIMIT_EXCEEDED" | "RESOURCE_EXHAUSTED" => StatusCode::TOO_MANY_REQUESTS,
            "INTERNAL_ERROR" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, self.body()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // Answered before the request's body was read (or while it was too large to read):
        // the connection cannot carry another request, and the client must know.
        if matches!(
            self.status,
            StatusCode::PAYLOAD_TOO_LARGE
                | StatusCode::URI_TOO_LONG
                | StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        ) {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"hyperflow\""),
            );
        }
        resp
    }
}

/// Result of an API operation.
pub type ApiResult<T> = std::result::Result<T, ApiError>;
