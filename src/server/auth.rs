//! Auth: when the server has a token, every request except `GET /health` must carry it,
//! as `Authorization: Bearer <token>` (MLflow clients: `MLFLOW_TRACKING_TOKEN`) or as the
//! password of HTTP basic auth (`MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`; the
//! user name is not checked). A missing or wrong token gets 401 with an MLflow error body.

use super::AppState;
use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Does this `Authorization` header value carry `token`?
pub(crate) fn authorized(value: &str, token: &str) -> bool {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return same(rest.as_bytes(), token.as_bytes());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) else {
            return false;
        };
        let password = match decoded.iter().position(|&b| b == b':') {
            Some(i) => &decoded[i + 1..],
            None => return false,
        };
        return same(password, token.as_bytes());
    }
    false
}

/// The auth middleware.
pub(crate) async fn require_auth(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = st.auth_token.as_deref() else {
        return next.run(req).await;
    };
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    let ok = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| authorized(v, token));
    if ok {
        next.run(req).await
    } else {
        ApiError::unauthenticated().into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_basic() {
        assert!(authorized("Bearer s3cret", "s3cret"));
        assert!(authorized("bearer  s3cret ", "s3cret"));
        assert!(!authorized("Bearer s3cre", "s3cret"));
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        assert!(authorized(&format!("Basic {basic}"), "s3cret"));
        let wrong = base64::engine::general_purpose::STANDARD.encode("alice:nope");
        assert!(!authorized(&format!("Basic {wrong}"), "s3cret"));
        assert!(!authorized("Basic !!!", "s3cret"));
        assert!(!authorized("Token s3cret", "s3cret"));
    }
}
