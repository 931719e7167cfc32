//! The artifact proxy, `/api/2.0/mlflow-artifacts/artifacts/<path>`: clients upload (PUT),
//! download (GET), delete (DELETE) and list (`GET ...artifacts?path=<dir>`, basenames)
//! files below the server's artifacts destination without access of their own to it.
//!
//! Paths are relative to the destination, and every one is resolved *beneath* it without
//! races: the destination is opened as a directory and each path is walked from that
//! handle by cap-std (`openat2` with `RESOLVE_BENEATH` where the kernel has it, else a
//! per-component walk that never leaves the directory). A symbolic link inside the
//! destination that points outside it is never followed out: such a path is answered 400.
//! Paths that escape by themselves (`..`, absolute), names longer than
//! [`MAX_NAME_BYTES`], paths longer than [`MAX_PATH_BYTES`] or deeper than [`MAX_DEPTH`],
//! uploads onto a folder or below a file: 400 `INVALID_PARAMETER_VALUE` saying which.

// Without the `object-store` feature a destination is always a directory, and the
// matches below that pick the object storage arm have one arm left.
#![cfg_attr(
    not(feature = "object-store"),
    allow(clippy::infallible_destructuring_match)
)]

use super::error::{ApiError, ApiResult};
use super::fields;
use super::{AppState, ArtifactsDestination};
use crate::tracking::artifacts::safe_relative_path;
use crate::tracking::wire::{self, Empty};
use crate::tracking::{ArtifactLocation, FileInfo};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path as UrlPath, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cap_std::fs::{Dir, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

/// Longest artifact path below the destination, in bytes (the usual `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;
/// Longest name of one file or folder, in bytes (the usual `NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;
/// Most folders an artifact path may pass through.
pub const MAX_DEPTH: usize = 256;

/// Files being uploaded are written under this prefix and renamed into place; listings
/// leave them out.
const UPLOAD_PREFIX: &str = ".upload-";

#[cfg(feature = "object-store")]
mod object;

fn destination(st: &AppState) -> ApiResult<ArtifactsDestination> {
    st.artifacts_destination().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "FEATURE_DISABLED",
            "This server does not serve artifacts (started without an artifacts destination)",
        )
    })
}

/// `path` as shown in messages: at most 100 characters.
fn shown(path: &str) -> String {
    match path.char_indices().nth(100) {
        Some((i, _)) => format!("{}...", &path[..i]),
        None => path.to_string(),
    }
}

/// A client's artifact path, checked: relative, inside the destination, within the
/// length and depth limits.
fn checked(path: &str) -> ApiResult<PathBuf> {
    let rel = safe_relative_path(path)?;
    let bad = |why: String| {
        Err(ApiError::invalid(format!(
            "Invalid artifact path '{}': {why}",
            shown(path)
        )))
    };
    if path.len() > MAX_PATH_BYTES {
        return bad(format!(
            "it is {} bytes long; artifact paths are at most {MAX_PATH_BYTES} bytes",
            path.len()
        ));
    }
    let depth = rel.components().count();
    if depth > MAX_DEPTH {
        return bad(format!(
            "it is {depth} levels deep; artifact paths are at most {MAX_DEPTH} levels deep"
        ));
    }
    if let Some(name) = rel
        .components()
        .map(|c| c.as_os_str())
        .find(|c| c.len() > MAX_NAME_BYTES)
    {
        return bad(format!(
            "the name '{}' is {} bytes long; a file or folder name is at most \
             {MAX_NAME_BYTES} bytes",
            shown(&name.to_string_lossy()),
            name.len()
        ));
    }
    Ok(rel)
}

/// Does this error say that a path led outside the directory it was resolved in?
fn is_escape(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EXDEV | libc::ELOOP))
        || (e.kind() == io::ErrorKind::PermissionDenied && e.raw_os_error().is_none())
}

/// The answer for a failed file operation `what` on artifact `path`.
fn fs_error(path: &str, what: &str, e: io::Error) -> ApiError {
    let invalid =
        |why: &str| ApiError::invalid(format!("Invalid artifact path '{}': {why}", shown(path)));
    if is_escape(&e) {
        return invalid(
            "it leads outside the artifacts destination through a symbolic link, which the \
             artifact proxy does not follow",
        );
    }
    match e.raw_os_error() {
        Some(libc::ENOENT) => ApiError::not_found(format!("No such artifact: '{}'", shown(path))),
        Some(libc::ENOTDIR) | Some(libc::EEXIST) => {
            invalid("a part of it that must be a folder is a file")
        }
        Some(libc::EISDIR) => invalid("it is a folder; upload to a file path, e.g. 'dir/file.txt'"),
        Some(libc::ENAMETOOLONG) => invalid("it is too long for the file system"),
        _ => ApiError::internal(format!("{what} artifact '{}': {e}", shown(path))),
    }
}

/// Run blocking file work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|_| {
        Err(ApiError::internal(
            "the artifact operation failed unexpectedly",
        ))
    })
}

/// The artifacts destination, opened as a directory: every path is resolved beneath it.
struct Destination {
    root: Dir,
}

impl Destination {
    /// Open the destination (creating it when `create`); `None` when it does not exist.
    fn open(root: &Path, create: bool) -> ApiResult<Option<Destination>> {
        let io = |e: io::Error| {
            ApiError::internal(format!(
                "opening the artifacts destination {}: {e}",
                root.display()
            ))
        };
        if create {
            std::fs::create_dir_all(root).map_err(io)?;
        }
        match Dir::open_ambient_dir(root, cap_std::ambient_authority()) {
            Ok(root) => Ok(Some(Destination { root })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// The entries of directory `rel`, as basenames, sorted; a missing directory (or a
    /// file) lists empty.
    fn list(&self, path: &str, rel: &Path) -> ApiResult<Vec<FileInfo>> {
        let entries = match self.root.read_dir(rel) {
            Ok(entries) => entries,
            Err(e) if is_escape(&e) => return Err(fs_error(path, "listing", e)),
            Err(_) => return Ok(Vec::new()),
        };
        let mut files = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Links are followed beneath the destination only; others are left out.
            let Ok(meta) = self.root.metadata(rel.join(&name)) else {
                continue;
            };
            if name.starts_with(UPLOAD_PREFIX) {
                continue;
            }
            files.push(FileInfo {
                path: name,
                is_dir: meta.is_dir(),
                file_size: (!meta.is_dir()).then_some(meta.len()),
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// Open file `rel` for reading, with its length.
    fn open_file(&self, path: &str, rel: &Path) -> ApiResult<(std::fs::File, u64)> {
        let file = self
            .root
            .open(rel)
            .map_err(|e| fs_error(path, "reading", e))?;
        match file.metadata() {
            Ok(m) if m.is_file() => Ok((file.into_std(), m.len())),
            _ => Err(ApiError::not_found(format!(
                "No such artifact: '{}'",
                shown(path)
            ))),
        }
    }

    /// Why storing file `rel` failed with `e`: the first part of its folder that is not a
    /// folder beneath the destination, else what `e` says.
    fn explain(&self, path: &str, rel: &Path, e: io::Error) -> ApiError {
        let mut prefix = PathBuf::new();
        for part in rel.parent().into_iter().flat_map(Path::components) {
            prefix.push(part);
            match self.root.metadata(&prefix) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return ApiError::invalid(format!(
                        "Invalid artifact path '{}': '{}' is a file, so it cannot hold other \
                         files",
                        shown(path),
                        shown(&prefix.to_string_lossy())
                    ));
                }
                Err(e) if is_escape(&e) => return fs_error(path, "storing", e),
                Err(_) => break,
            }
        }
        fs_error(path, "storing", e)
    }

    /// Make the folders of file `rel` and open a new temporary file next to it.
    fn start_upload(&self, path: &str, rel: &Path) -> ApiResult<(Upload, std::fs::File)> {
        let fail = |e| self.explain(path, rel, e);
        let parent = rel.parent().unwrap_or(Path::new(""));
        let dir = if parent.as_os_str().is_empty() {
            self.root.try_clone().map_err(fail)?
        } else {
            self.root.create_dir_all(parent).map_err(fail)?;
            self.root.open_dir(parent).map_err(fail)?
        };
        let name = rel.file_name().map(PathBuf::from).unwrap_or_default();
        if dir.symlink_metadata(&name).is_ok_and(|m| m.is_dir()) {
            return Err(fail(io::Error::from_raw_os_error(libc::EISDIR)));
        }
        let tmp = PathBuf::from(format!(
            "{UPLOAD_PREFIX}{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        let file = dir
            .open_with(&tmp, OpenOptions::new().write(true).create_new(true))
            .map_err(fail)?;
        Ok((Upload { dir, tmp, name }, file.into_std()))
    }

    /// Delete file or folder `rel` (a link is removed, never followed).
    fn delete(&self, path: &str, rel: &Path) -> ApiResult<()> {
        let fail = |e| fs_error(path, "deleting", e);
        let meta = self.root.symlink_metadata(rel).map_err(fail)?;
        if meta.is_dir() {
            self.root.remove_dir_all(rel).map_err(fail)
        } else {
            self.root.remove_file(rel).map_err(fail)
        }
    }
}

/// An upload under way: a temporary file in the target's folder.
struct Upload {
    dir: Dir,
    tmp: PathBuf,
    name: PathBuf,
}

impl Upload {
    /// Move the finished file into place.
    fn finish(self, path: &str) -> ApiResult<()> {
        self.dir
            .rename(&self.tmp, &self.dir, &self.name)
            .map_err(|e| fs_error(path, "storing", e))
            .inspect_err(|_| self.abandon())
    }

    /// Remove the temporary file.
    fn abandon(&self) {
        let _ = self.dir.remove_file(&self.tmp);
    }
}

/// `PUT .../artifacts/<path>`: the body is the file; streamed to a temporary file next to
/// the target and renamed into place, with the configured upload size limit.
pub async fn upload(
    State(st): State<AppState>,
    UrlPath(path): UrlPath<String>,
    req: Request,
) -> Response {
    match upload_inner(&st, path, req).await {
        Ok(()) => Json(Empty {}).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn upload_inner(st: &AppState, path: String, req: Request) -> ApiResult<()> {
    let rel = checked(&path)?;
    if rel.as_os_str().is_empty() || path.ends_with('/') {
        return Err(ApiError::invalid(format!(
            "Invalid artifact path '{}': a file name is needed",
            shown(&path)
        )));
    }
    let root = match destination(st)? {
        ArtifactsDestination::Local(root) => root,
        #[cfg(feature = "object-store")]
        ArtifactsDestination::Object(repo) => {
            return object::upload(st, &repo, &path, req.into_body()).await;
        }
    };
    let p = path.clone();
    let (upload, file) = blocking(move || {
        Destination::open(&root, true)?
            .ok_or_else(|| ApiError::internal("the artifacts destination vanished"))?
            .start_upload(&p, &rel)
    })
    .await?;
    match write_body(st, tokio::fs::File::from_std(file), req.into_body()).await {
        Ok(()) => blocking(move || upload.finish(&path)).await,
        Err(e) => {
            blocking(move || {
                upload.abandon();
                Ok(())
            })
            .await?;
            Err(e)
        }
    }
}

/// Stream a request body into `file`, within the upload size limit.
async fn write_body(st: &AppState, mut file: tokio::fs::File, mut body: Body) -> ApiResult<()> {
    let io = |e: io::Error| ApiError::internal(format!("writing the artifact: {e}"));
    let mut written: u64 = 0;
    while let Some(chunk) = next_upload_chunk(st, &mut body, &mut written).await {
        file.write_all(&chunk?).await.map_err(io)?;
    }
    file.flush().await.map_err(io)
}

/// The next chunk of an upload's body; `written` counts the bytes so far against the
/// upload size limit.
async fn next_upload_chunk(
    st: &AppState,
    body: &mut Body,
    written: &mut u64,
) -> Option<ApiResult<axum::body::Bytes>> {
    let limit = st.limits.max_artifact_bytes;
    let chunk = match next_chunk(body).await? {
        Ok(chunk) => chunk,
        Err(e) => return Some(Err(ApiError::invalid(format!("reading the upload: {e}")))),
    };
    *written += chunk.len() as u64;
    if *written > limit {
        return Some(Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "INVALID_PARAMETER_VALUE",
            format!("Artifact upload is larger than the server's limit of {limit} bytes"),
        )));
    }
    Some(Ok(chunk))
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

/// `GET .../artifacts/<path>`: the file's bytes with a guessed `Content-Type` and
/// `Content-Disposition: attachment`.
pub async fn download(State(st): State<AppState>, UrlPath(path): UrlPath<String>) -> Response {
    match download_inner(&st, path).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn download_inner(st: &AppState, path: String) -> ApiResult<Response> {
    let rel = checked(&path)?;
    let root = match destination(st)? {
        ArtifactsDestination::Local(root) => root,
        #[cfg(feature = "object-store")]
        ArtifactsDestination::Object(repo) => {
            return Ok(attachment(&path, object::download(&repo, &path).await?));
        }
    };
    let p = path.clone();
    let (file, len) = blocking(move || match Destination::open(&root, false)? {
        Some(dest) => dest.open_file(&p, &rel),
        None => Err(ApiError::not_found(format!(
            "No such artifact: '{}'",
            shown(&p)
        ))),
    })
    .await?;
    let file = tokio::fs::File::from_std(file);
    Ok(attachment(&path, Body::new(FileBody { file, left: len })))
}

/// The answer carrying artifact `path`'s bytes: a guessed `Content-Type` and
/// `Content-Disposition: attachment`.
fn attachment(path: &str, body: Body) -> Response {
    let name = path.rsplit('/').next().unwrap_or(path).replace('"', "");
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// A file streamed as a response body in 64 KiB chunks, with its exact length announced.
struct FileBody {
    file: tokio::fs::File,
    left: u64,
}

impl axum::body::HttpBody for FileBody {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        use tokio::io::AsyncRead;
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let want = this.left.min(64 * 1024) as usize;
        let mut buf = vec![0u8; want];
        let mut rb = tokio::io::ReadBuf::new(&mut buf);
        match std::pin::Pin::new(&mut this.file).poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "artifact shrank while being read",
                    ))));
                }
                this.left -= n as u64;
                buf.truncate(n);
                Poll::Ready(Some(Ok(http_body::Frame::data(buf.into()))))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.left)
    }
}

/// `DELETE .../artifacts/<path>`: removes a file or a directory tree.
pub async fn delete(State(st): State<AppState>, UrlPath(path): UrlPath<String>) -> Response {
    let result = async {
        let rel = checked(&path)?;
        if rel.as_os_str().is_empty() {
            return Err(ApiError::invalid(
                "Refusing to delete the whole artifacts destination",
            ));
        }
        let root = match destination(&st)? {
            ArtifactsDestination::Local(root) => root,
            #[cfg(feature = "object-store")]
            ArtifactsDestination::Object(repo) => return object::delete(repo, path).await,
        };
        blocking(move || match Destination::open(&root, false)? {
            Some(dest) => dest.delete(&path, &rel),
            None => Err(ApiError::not_found(format!(
                "No such artifact: '{}'",
                shown(&path)
            ))),
        })
        .await
    };
    match result.await {
        Ok(()) => Json(Empty {}).into_response(),
        Err(e) => e.into_response(),
    }
}

/// `GET .../artifacts?path=<dir>`: the directory's entries as basenames; a missing
/// directory lists as `{}`.
pub async fn list(State(st): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let result = async {
        let query: wire::ProxyList = fields::parse(fields::from_query(query.as_deref()))?;
        let path = query.path.unwrap_or_default();
        let rel = checked(&path)?;
        let root = match destination(&st)? {
            ArtifactsDestination::Local(root) => root,
            #[cfg(feature = "object-store")]
            ArtifactsDestination::Object(repo) => return object::list(repo, path).await,
        };
        blocking(move || match Destination::open(&root, false)? {
            Some(dest) => dest.list(&path, &rel),
            None => Ok(Vec::new()),
        })
        .await
    };
    match result.await {
        Ok(files) => Json(wire::ProxyListing {
            files: wire::all(&files),
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

impl AppState {
    /// The entries of directory `path` of the run whose artifact location is `uri`, with
    /// paths relative to the run's root: beneath the artifacts destination when the
    /// location is there, else in the local directory it names.
    pub(crate) fn list_run_artifacts(&self, uri: &str, path: &str) -> ApiResult<Vec<FileInfo>> {
        let public = self.public_artifact_uri(uri);
        match ArtifactLocation::parse(&public)? {
            ArtifactLocation::Proxy {
                authority: None,
                path: run_root,
            } => {
                let rel = checked(path)?;
                let full = crate::tracking::artifacts::join_path(&run_root, path);
                let root = match destination(self)? {
                    ArtifactsDestination::Local(root) => root,
                    #[cfg(feature = "object-store")]
                    ArtifactsDestination::Object(repo) => {
                        let run = repo.below(&run_root)?;
                        return crate::tracking::ArtifactRepo::list(&run, path)
                            .map_err(object::backend);
                    }
                };
                let Some(dest) = Destination::open(&root, false)? else {
                    return Ok(Vec::new());
                };
                let prefix = rel.to_string_lossy().replace('\\', "/");
                Ok(dest
                    .list(&full, &checked(&full)?)?
                    .into_iter()
                    .map(|f| FileInfo {
                        path: crate::tracking::artifacts::join_path(&prefix, &f.path),
                        ..f
                    })
                    .collect())
            }
            ArtifactLocation::Proxy { .. } => Err(ApiError::invalid(format!(
                "The run's artifacts are behind another server's artifact proxy ({uri})"
            ))),
            ArtifactLocation::Local(_) | ArtifactLocation::Object(_) => {
                Ok(crate::tracking::artifacts::open_repo(uri)?.list(path)?)
            }
        }
    }
}
