//! Artifacts on object storage (feature `object-store`): [`ObjectStoreRepo`], a run's
//! directory in an S3, GCS or Azure bucket through the `object_store` crate.
//!
//! Credentials and endpoints come from the environment, as each service's own tools read
//! them: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` (or MLflow's `MLFLOW_S3_ENDPOINT_URL`; an `http://` endpoint is
//! allowed as given) for S3; `GOOGLE_SERVICE_ACCOUNT` / `GOOGLE_APPLICATION_CREDENTIALS`
//! for GCS; `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY` (or a SAS or
//! identity) for Azure.
//!
//! object_store is async. Every request runs on one small tokio runtime owned by this
//! module (two worker threads, started on first use): synchronous callers hand it the
//! work and wait on a channel ([`block_on`]), async callers await its task ([`run`]). No
//! runtime is ever entered from inside another, so both work from plain threads, from
//! `spawn_blocking` threads of the tracking server, and from async tasks of any runtime.

use super::{
    ArtifactRepo, ObjectLocation, ObjectService, file_name, file_path, io_err, join_path,
    no_such_artifact, normalized,
};
use crate::tracking::model::FileInfo;
use crate::tracking::store::{Result, StoreError};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::buffered::BufWriter;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The runtime object storage requests run on, started on first use.
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> =
        OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("hyperflow-object-store")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            StoreError::Unavailable(format!("cannot start the object storage runtime: {e}"))
        })
}

/// Why a task on the object storage runtime ended without an answer.
fn lost_task(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!(
        "an object storage request stopped unexpectedly: {e}"
    ))
}

/// Runs `work` on the object storage runtime and waits for its result on this thread.
/// Never enters a runtime, so it may be called from any thread but the object storage
/// runtime's own.
pub fn block_on<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        let _ = tx.send(work.await);
    });
    rx.recv().map_err(lost_task)
}

/// Runs `work` on the object storage runtime, awaited from async code on any runtime.
pub async fn run<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> Result<T> {
    runtime()?.spawn(work).await.map_err(lost_task)
}

/// How long object_store keeps retrying a failing request before the error is reported.
const RETRY_TIMEOUT: Duration = Duration::from_secs(30);

impl ObjectService {
    /// The environment variables that configure this service, for error messages.
    fn variables(self) -> &'static str {
        match self {
            ObjectService::S3 => {
                "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary \
                 credentials), AWS_REGION, AWS_ENDPOINT_URL for an S3-compatible service"
            }
            ObjectService::Gcs => "GOOGLE_SERVICE_ACCOUNT or GOOGLE_APPLICATION_CREDENTIALS",
            ObjectService::Azure => {
                "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY (or \
                 AZURE_STORAGE_SAS_KEY, or an identity)"
            }
        }
    }

    /// What the service calls a bucket.
    fn bucket_word(self) -> &'static str {
        match self {
            ObjectService::Azure => "container",
            ObjectService::S3 | ObjectService::Gcs => "bucket",
        }
    }
}

/// A run's artifacts (or any directory of artifacts) at an [`ObjectLocation`]: artifact
/// `a/b.txt` is the object `<prefix>/a/b.txt` of the location's bucket. Directories are
/// key prefixes, as MLflow writes them. Cheap to clone; opening does no I/O.
#[derive(Clone)]
pub struct ObjectStoreRepo {
    location: ObjectLocation,
    store: Arc<dyn ObjectStore>,
}

/// Shows the location only: the client's configuration holds credentials.
impl std::fmt::Debug for ObjectStoreRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStoreRepo")
            .field("location", &self.location.to_string())
            .finish_non_exhaustive()
    }
}

impl ObjectStoreRepo {
    /// The repository at `location`, configured from the environment (see the module
    /// documentation). A configuration object_store refuses (e.g. an endpoint that is not
    /// a URL) is [`StoreError::InvalidParameter`] naming the variables.
    pub fn open(location: &ObjectLocation) -> Result<Self> {
        let retry = RetryConfig {
            retry_timeout: RETRY_TIMEOUT,
            ..RetryConfig::default()
        };
        let url = location.bucket_url();
        let built = match location.service() {
            ObjectService::S3 => {
                let mut b = AmazonS3Builder::from_env().with_url(url).with_retry(retry);
                if b.get_config_value(&AmazonS3ConfigKey::Endpoint).is_none()
                    && let Ok(endpoint) = std::env::var("MLFLOW_S3_ENDPOINT_URL")
                {
                    b = b.with_endpoint(endpoint);
                }
                if b.get_config_value(&AmazonS3ConfigKey::Endpoint)
                    .is_some_and(|e| e.starts_with("http://"))
                {
                    b = b.with_allow_http(true);
                }
                b.build().map(|s| Arc::new(s) as Arc<dyn ObjectStore>)
            }
            ObjectService::Gcs => GoogleCloudStorageBuilder::from_env()
                .with_url(url)
                .with_retry(retry)
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
            ObjectService::Azure => MicrosoftAzureBuilder::from_env()
                .with_url(url)
                .with_retry(retry)
                .build()
                .map(|s| Arc::new(s) as Arc<dyn ObjectStore>),
        };
        let store = built.map_err(|e| {
            StoreError::InvalidParameter(format!(
                "cannot use artifact location '{location}': {e}; it is configured from {}",
                location.service().variables()
            ))
        })?;
        Ok(ObjectStoreRepo {
            location: location.clone(),
            store,
        })
    }

    /// The repository of directory `path` (relative, `/`-separated) below this one,
    /// sharing its client.
    pub fn below(&self, path: &str) -> Result<ObjectStoreRepo> {
        Ok(ObjectStoreRepo {
            location: self.location.join(&normalized(path)?),
            store: self.store.clone(),
        })
    }

    /// Where the repository is.
    pub fn location(&self) -> &ObjectLocation {
        &self.location
    }

    /// The object key of artifact path `rel` (already normalized).
    fn key(&self, rel: &str) -> Key {
        Key::from(join_path(self.location.prefix(), rel))
    }

    /// The error for a failed request: `what` on artifact `path` (`""` = the location).
    /// A missing bucket is [`StoreError::NotAccessible`] saying so; a missing object is
    /// [`StoreError::NotFound`] when `missing_is_file` (else it can only mean a missing
    /// bucket); refused credentials are [`StoreError::NotAccessible`];
    /// anything else (the service unreachable, failing) is [`StoreError::Unavailable`].
    fn failure(
        &self,
        what: &str,
        path: &str,
        missing_is_file: bool,
        e: object_store::Error,
    ) -> StoreError {
        let service = self.location.service();
        let not_accessible = |reason: String| StoreError::NotAccessible {
            path: self.location.join(path).to_string(),
            access: if what == "reading" || what == "listing" {
                "readable"
            } else {
                "writable"
            },
            reason,
        };
        // Listings report failures as generic errors (object_store keeps the status to
        // itself): the status and the service's error code are in the text.
        let text = e.to_string();
        let says = |codes: &[&str]| codes.iter().any(|code| text.contains(code));
        let not_found = matches!(e, object_store::Error::NotFound { .. });
        let no_bucket = says(&["NoSuchBucket", "ContainerNotFound", "bucket does not exist"])
            || (not_found && !missing_is_file);
        let refused = matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || says(&[
            "403 Forbidden",
            "401 Unauthorized",
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AuthenticationFailed",
        ]);
        match e {
            _ if no_bucket => not_accessible(format!(
                "the {} '{}' does not exist; create it, or fix the artifact location ({e})",
                service.bucket_word(),
                self.location.bucket()
            )),
            _ if refused => not_accessible(format!(
                "the service refused the credentials while {what} ({e}); they come from {}",
                service.variables()
            )),
            object_store::Error::NotFound { .. } => no_such_artifact(path),
            e => StoreError::Unavailable(format!(
                "{what} artifact location '{}' failed: {e}",
                self.location.join(path)
            )),
        }
    }

    /// Writes and deletes a probe object at the location: fails as a first artifact
    /// would (a missing bucket, refused credentials, an unreachable service).
    pub fn check_writable(&self) -> Result<()> {
        let probe = format!(".hyperflow-write-check-{}", uuid::Uuid::new_v4().simple());
        self.write_bytes(&probe, b"")?;
        let (store, key) = (self.store.clone(), self.key(&probe));
        block_on(async move { store.delete(&key).await })?
            .map_err(|e| self.failure("deleting", &probe, false, e))
    }

    /// Deletes artifact `path`: the file of that name and everything below the directory
    /// of that name. `Ok(false)` when there was nothing to delete.
    pub fn delete(&self, path: &str) -> Result<bool> {
        let rel = file_path(path)?;
        let (store, key) = (self.store.clone(), self.key(&rel));
        block_on(async move {
            let mut keys: Vec<Key> = store
                .list(Some(&key))
                .map_ok(|meta| meta.location)
                .try_collect()
                .await?;
            match store.head(&key).await {
                Ok(_) => keys.push(key),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            if keys.is_empty() {
                return Ok(false);
            }
            let deleted = futures_util::stream::iter(keys.into_iter().map(Ok)).boxed();
            store.delete_stream(deleted).try_collect::<Vec<_>>().await?;
            Ok(true)
        })?
        .map_err(|e| self.failure("deleting", &rel, false, e))
    }

    /// Starts an upload of artifact file `path`, streamed in parts: objects above 10 MiB
    /// go up as multipart uploads. Nothing is visible until [`ObjectUpload::finish`].
    pub fn start_upload(&self, path: &str) -> Result<ObjectUpload> {
        let rel = file_path(path)?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
        let mut writer = BufWriter::new(self.store.clone(), self.key(&rel));
        let task = runtime()?.spawn(async move {
            while let Some(chunk) = rx.recv().await {
                if let Err(e) = writer.put(chunk).await {
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
            // The sender is gone: finished, or given up (dropped) when `finish_tx` is too.
            if finish_rx.await.is_ok() {
                writer.shutdown().await.map_err(unwrap_io)
            } else {
                writer.abort().await
            }
        });
        Ok(ObjectUpload {
            repo: self.clone(),
            path: rel,
            tx,
            finish_tx,
            task: Some(task),
        })
    }

    /// Streams artifact file `path`: its bytes, read on the object storage runtime and
    /// handed over in chunks (the caller may poll from any runtime).
    pub async fn read_stream(
        &self,
        path: &str,
    ) -> Result<impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send + 'static> {
        let rel = file_path(path)?;
        let (store, key) = (self.store.clone(), self.key(&rel));
        let (head_tx, head_rx) = tokio::sync::oneshot::channel();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        runtime()?.spawn(async move {
            let got = match store.get(&key).await {
                Ok(got) => got,
                Err(e) => {
                    let _ = head_tx.send(Err(e));
                    return;
                }
            };
            let _ = head_tx.send(Ok(()));
            let mut body = got.into_stream();
            while let Some(chunk) = body.next().await {
                let failed = chunk.is_err();
                if tx.send(chunk.map_err(std::io::Error::other)).await.is_err() || failed {
                    break;
                }
            }
        });
        head_rx
            .await
            .map_err(lost_task)?
            .map_err(|e| self.failure("reading", &rel, true, e))?;
        Ok(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}

/// An upload under way ([`ObjectStoreRepo::start_upload`]). Dropping it without
/// [`finish`](Self::finish) abandons the upload (a multipart upload is aborted).
#[derive(Debug)]
pub struct ObjectUpload {
    repo: ObjectStoreRepo,
    path: String,
    tx: tokio::sync::mpsc::Sender<Bytes>,
    finish_tx: tokio::sync::oneshot::Sender<()>,
    /// The writer's task; taken when it stopped early.
    task: Option<tokio::task::JoinHandle<object_store::Result<()>>>,
}

impl ObjectUpload {
    /// Sends the next bytes of the file. After an error the upload is over: drop it.
    pub async fn send(&mut self, chunk: Bytes) -> Result<()> {
        if self.tx.send(chunk).await.is_ok() {
            return Ok(());
        }
        // The writer stopped: its error says why.
        self.outcome()
            .await
            .and(Err(lost_task("the upload ended early")))
    }

    /// Completes the upload: the object appears with everything sent.
    pub async fn finish(mut self) -> Result<()> {
        let (tx, _) = tokio::sync::mpsc::channel(1);
        drop(std::mem::replace(&mut self.tx, tx));
        let (finish_tx, _) = tokio::sync::oneshot::channel();
        let _ = std::mem::replace(&mut self.finish_tx, finish_tx).send(());
        self.outcome().await
    }

    /// How the writer's task ended.
    async fn outcome(&mut self) -> Result<()> {
        let task = self
            .task
            .take()
            .ok_or_else(|| lost_task("the upload had already failed"))?;
        task.await
            .map_err(lost_task)?
            .map_err(|e| self.repo.failure("writing", &self.path, false, e))
    }
}

impl ArtifactRepo for ObjectStoreRepo {
    fn write_bytes(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let rel = file_path(path)?;
        let (store, key) = (self.store.clone(), self.key(&rel));
        let payload = PutPayload::from(bytes.to_vec());
        block_on(async move { store.put(&key, payload).await.map(drop) })?
            .map_err(|e| self.failure("writing", &rel, false, e))
    }

    fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let rel = file_path(path)?;
        let (store, key) = (self.store.clone(), self.key(&rel));
        block_on(async move { store.get(&key).await?.bytes().await })?
            .map(|b| b.to_vec())
            .map_err(|e| self.failure("reading", &rel, true, e))
    }

    fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
        let rel = normalized(path)?;
        let (store, key) = (self.store.clone(), self.key(&rel));
        let listing = block_on(async move {
            let prefix = Some(&key).filter(|k| !k.as_ref().is_empty());
            store.list_with_delimiter(prefix).await
        })?
        .map_err(|e| self.failure("listing", &rel, false, e))?;
        let name = |key: &Key| {
            let last = key.filename().unwrap_or_default();
            let decoded = percent_encoding::percent_decode_str(last).decode_utf8_lossy();
            join_path(&rel, &decoded)
        };
        let mut out: Vec<FileInfo> = listing
            .common_prefixes
            .iter()
            .map(|dir| FileInfo {
                path: name(dir),
                is_dir: true,
                file_size: None,
            })
            .chain(listing.objects.iter().map(|object| FileInfo {
                path: name(&object.location),
                is_dir: false,
                file_size: Some(object.size),
            }))
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Streams the file up (multipart above 10 MiB) instead of reading it whole.
    fn log_file(&self, local: &Path, artifact_dir: Option<&str>) -> Result<()> {
        let path = join_path(&normalized(artifact_dir.unwrap_or(""))?, file_name(local)?);
        let mut upload = self.start_upload(&path)?;
        let local = local.to_path_buf();
        block_on(async move {
            let mut file = tokio::fs::File::open(&local)
                .await
                .map_err(|e| io_err("reading", &local, e))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file
                    .read(&mut buf)
                    .await
                    .map_err(|e| io_err("reading", &local, e))?;
                if n == 0 {
                    return upload.finish().await;
                }
                upload.send(Bytes::copy_from_slice(&buf[..n])).await?;
            }
        })?
    }

    /// Streams the object into the file instead of reading it whole.
    fn read_to_file(&self, path: &str, target: &Path) -> Result<()> {
        let repo = self.clone();
        let (path, to) = (path.to_string(), target.to_path_buf());
        let copied = block_on(async move {
            let mut body = repo.read_stream(&path).await?;
            let mut file = tokio::fs::File::create(&to)
                .await
                .map_err(|e| io_err("writing", &to, e))?;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| io_err("downloading into", &to, e))?;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| io_err("writing", &to, e))?;
            }
            file.flush().await.map_err(|e| io_err("writing", &to, e))
        });
        copied?
    }
}

/// The object_store error inside an I/O error of [`BufWriter`]'s `AsyncWrite` side.
fn unwrap_io(e: std::io::Error) -> object_store::Error {
    match e
        .into_inner()
        .map(|inner| inner.downcast::<object_store::Error>())
    {
        Some(Ok(inner)) => *inner,
        Some(Err(other)) => object_store::Error::Generic {
            store: "upload",
            source: other,
        },
        None => object_store::Error::Generic {
            store: "upload",
            source: "the upload failed".into(),
        },
    }
}
