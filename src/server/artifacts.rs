//! The artifact proxy, `/api/2.0/mlflow-artifacts/artifacts/<path>`: clients upload (PUT),
//! download (GET), delete (DELETE) and list (`GET ...artifacts?path=<dir>`, basenames)
//! files below the server's artifacts destination without access of their own to it.
//! Paths are relative to the destination; anything escaping it is rejected with 400.

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::fields::Fields;
use crate::tracking::artifacts::safe_relative_path;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

fn destination(st: &AppState) -> ApiResult<&Path> {
    st.artifacts_dir().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "FEATURE_DISABLED",
            "This server does not serve artifacts (started without an artifacts destination)",
        )
    })
}

fn resolve(st: &AppState, path: &str) -> ApiResult<PathBuf> {
    let rel = safe_relative_path(path).map_err(ApiError::from)?;
    Ok(destination(st)?.join(rel))
}

fn json_ok(v: Value) -> Response {
    super::json_response(StatusCode::OK, &v)
}

fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("txt" | "log" | "py" | "yaml" | "yml" | "toml" | "md" | "csv" | "tsv") => "text/plain",
        Some("json") => "application/json",
        Some("html" | "htm") => "text/html",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("pdf") => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// `PUT .../artifacts/<path>`: the body is the file; streamed to a temporary file next to
/// the target and renamed into place, with the configured upload size limit.
pub async fn upload(
    State(st): State<AppState>,
    UrlPath(path): UrlPath<String>,
    req: Request,
) -> Response {
    match upload_inner(&st, &path, req).await {
        Ok(()) => json_ok(json!({})),
        Err(e) => e.into_response(),
    }
}

async fn upload_inner(st: &AppState, path: &str, req: Request) -> ApiResult<()> {
    let target = resolve(st, path)?;
    if target == destination(st)? || path.ends_with('/') {
        return Err(ApiError::invalid(format!(
            "Invalid artifact path '{path}': a file name is needed"
        )));
    }
    let dir = target
        .parent()
        .ok_or_else(|| ApiError::invalid(format!("Invalid artifact path '{path}'")))?;
    let io = |what: &str, e: std::io::Error| ApiError::internal(format!("{what}: {e}"));
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io("creating the artifact directory", e))?;
    let tmp = dir.join(format!(".upload-{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = async {
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| io("creating the artifact file", e))?;
        let limit = st.limits.max_artifact_bytes;
        let mut written: u64 = 0;
        let mut body = req.into_body();
        while let Some(chunk) = next_chunk(&mut body).await {
            let chunk = chunk.map_err(|e| ApiError::invalid(format!("reading the upload: {e}")))?;
            written += chunk.len() as u64;
            if written > limit {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "INVALID_PARAMETER_VALUE",
                    format!("Artifact upload is larger than the server's limit of {limit} bytes"),
                ));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| io("writing the artifact", e))?;
        }
        file.flush()
            .await
            .map_err(|e| io("writing the artifact", e))?;
        drop(file);
        tokio::fs::rename(&tmp, &target)
            .await
            .map_err(|e| io("storing the artifact", e))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}

/// The next data chunk of a request body (trailers read as empty chunks).
async fn next_chunk(body: &mut Body) -> Option<Result<axum::body::Bytes, axum::Error>> {
    use axum::body::HttpBody;
    use std::task::Poll;
    std::future::poll_fn(|cx| match std::pin::Pin::new(&mut *body).poll_frame(cx) {
        Poll::Ready(Some(Ok(frame))) => {
            Poll::Ready(Some(Ok(frame.into_data().unwrap_or_default())))
        }
        Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
        Poll::Ready(None) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    })
    .await
}

/// `GET .../artifacts/<path>`: the file's bytes with a guessed `Content-Type` and
/// `Content-Disposition: attachment`.
pub async fn download(State(st): State<AppState>, UrlPath(path): UrlPath<String>) -> Response {
    let target = match resolve(&st, &path) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let bytes = match tokio::fs::read(&target).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::not_found(format!("No such artifact: '{path}'")).into_response();
        }
    };
    let name = path.rsplit('/').next().unwrap_or(&path).replace('"', "");
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&path)),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// `DELETE .../artifacts/<path>`: removes a file or a directory tree.
pub async fn delete(State(st): State<AppState>, UrlPath(path): UrlPath<String>) -> Response {
    let target = match resolve(&st, &path) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    if safe_relative_path(&path).is_ok_and(|p| p.as_os_str().is_empty()) {
        return ApiError::invalid("Refusing to delete the whole artifacts destination")
            .into_response();
    }
    let result = match tokio::fs::metadata(&target).await {
        Ok(m) if m.is_dir() => tokio::fs::remove_dir_all(&target).await,
        Ok(_) => tokio::fs::remove_file(&target).await,
        Err(_) => {
            return ApiError::not_found(format!("No such artifact: '{path}'")).into_response();
        }
    };
    match result {
        Ok(()) => json_ok(json!({})),
        Err(e) => ApiError::internal(format!("deleting artifact '{path}': {e}")).into_response(),
    }
}

/// `GET .../artifacts?path=<dir>`: the directory's entries as basenames; a missing
/// directory lists as `{}`.
pub async fn list(State(st): State<AppState>, req: Request) -> Response {
    let fields = Fields::from_query(req.uri().query());
    match list_inner(&st, &fields).await {
        Ok(v) => json_ok(v),
        Err(e) => e.into_response(),
    }
}

async fn list_inner(st: &AppState, f: &Fields) -> ApiResult {
    let path = f.str_or_empty("path")?;
    let dir = resolve(st, &path)?;
    let mut files = Vec::new();
    if let Ok(mut rd) = tokio::fs::read_dir(&dir).await {
        while let Ok(Some(entry)) = rd.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".upload-") {
                continue;
            }
            let Ok(meta) = entry.metadata().await else {
                continue;
            };
            let mut o = Map::new();
            o.insert("path".into(), json!(name));
            o.insert("is_dir".into(), json!(meta.is_dir()));
            if !meta.is_dir() {
                o.insert("file_size".into(), json!(meta.len()));
            }
            files.push(Value::Object(o));
        }
    }
    files.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    let mut o = Map::new();
    if !files.is_empty() {
        o.insert("files".into(), Value::Array(files));
    }
    Ok(Value::Object(o))
}
