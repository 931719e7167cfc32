//! The artifact proxy over an object storage destination (`--artifacts-destination
//! s3://bucket/prefix`, ...): the same routes, answered by an
//! [`ObjectStoreRepo`] rooted at the destination. Uploads are streamed (multipart above
//! 10 MiB) and appear only when complete; downloads are streamed.
//!
//! A failure of the storage service (unreachable, refusing the server's credentials, a
//! bucket deleted since the server started) is not the client's mistake: it is answered
//! 503 `TEMPORARILY_UNAVAILABLE`, saying what failed.

use super::{AppState, blocking, next_upload_chunk};
use crate::server::error::{ApiError, ApiResult};
use crate::tracking::artifacts::object::ObjectStoreRepo;
use crate::tracking::{ArtifactRepo, FileInfo, StoreError};
use axum::body::Body;
use axum::http::StatusCode;

/// The answer for a failed request to the destination.
pub(super) fn backend(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound(_)
        | StoreError::InvalidArtifactPath { .. }
        | StoreError::InvalidParameter(_) => e.into(),
        e => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "TEMPORARILY_UNAVAILABLE",
            format!("The server's artifact storage cannot be used: {e}"),
        ),
    }
}

/// `PUT`: streams the body into object `path`, within the upload size limit. On any
/// error the upload is dropped, which aborts it: nothing partial is left.
pub(super) async fn upload(
    st: &AppState,
    repo: &ObjectStoreRepo,
    path: &str,
    mut body: Body,
) -> ApiResult<()> {
    let mut upload = repo.start_upload(path).map_err(backend)?;
    let mut written = 0;
    while let Some(chunk) = next_upload_chunk(st, &mut body, &mut written).await {
        upload.send(chunk?).await.map_err(backend)?;
    }
    upload.finish().await.map_err(backend)
}

/// `GET`: the object's bytes, streamed.
pub(super) async fn download(repo: &ObjectStoreRepo, path: &str) -> ApiResult<Body> {
    let stream = repo.read_stream(path).await.map_err(backend)?;
    Ok(Body::from_stream(stream))
}

/// `DELETE`: the object and everything below the prefix of that name.
pub(super) async fn delete(repo: ObjectStoreRepo, path: String) -> ApiResult<()> {
    blocking(move || match repo.delete(&path).map_err(backend)? {
        true => Ok(()),
        false => Err(ApiError::not_found(format!("No such artifact: '{path}'"))),
    })
    .await
}

/// `GET ...artifacts?path=<dir>`: the directory's entries as basenames.
pub(super) async fn list(repo: ObjectStoreRepo, path: String) -> ApiResult<Vec<FileInfo>> {
    blocking(move || {
        Ok(repo
            .list(&path)
            .map_err(backend)?
            .into_iter()
            .map(|f| FileInfo {
                path: f.path.rsplit('/').next().unwrap_or_default().to_string(),
                ..f
            })
            .collect())
    })
    .await
}
