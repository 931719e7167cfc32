//! Artifact repositories: the files of a run, wherever its `artifact_uri` points.
//!
//! - [`ArtifactRepo`]: what every repository does. Writing, reading and listing are its
//!   own; copying local files and directories in and artifacts out have defaults built on
//!   those three.
//! - [`LocalArtifactRepo`]: a local directory (a plain path or a `file:` URI).
//! - `ObjectStoreRepo` (feature `object-store`, in [`object`]): a prefix in an object
//!   store bucket (`s3://`, `gs://`, `az://` / `abfs://` / `abfss://`), through the
//!   `object_store` crate, with credentials from the environment.
//! - `ProxyArtifactRepo` (feature `rest`, in [`super::rest`]): a tracking server's
//!   artifact proxy, for `mlflow-artifacts:` URIs, as MLflow's clients use it.
//! - [`ArtifactLocation`]: which of those an artifact URI names, parsed once.
//!
//! A run's repository is opened by its store ([`Store::artifact_repo`]), because only the
//! store knows the server an `mlflow-artifacts:/...` URI is relative to; the locations a
//! process reaches by itself (local and object storage) open through [`open_repo`].
//!
//! Every artifact path is relative to the run's artifact root and must stay inside it:
//! absolute paths, `..` segments, drive prefixes and backslashes are rejected with
//! [`StoreError::InvalidArtifactPath`].

use super::model::FileInfo;
#[cfg(doc)]
use super::store::Store;
use super::store::{Result, StoreError};
use std::path::{Component, Path, PathBuf};

/// The scheme of artifact URIs served by a tracking server's artifact proxy.
pub const MLFLOW_ARTIFACTS_SCHEME: &str = "mlflow-artifacts:";

/// What artifact URIs hyperflow can use; the reason given for any other.
const SUPPORTED_LOCATIONS: &str = "hyperflow keeps artifacts in a local directory (a path or \
     a file:// URI), on object storage (s3://bucket/prefix, gs://bucket/prefix, \
     az://container/prefix or abfss://container@account.dfs.core.windows.net/prefix) or \
     behind a tracking server's artifact proxy (mlflow-artifacts:/ URIs, reached through an \
     http:// tracking URI)";

#[cfg(feature = "object-store")]
pub mod object;

/// The object storage services artifacts can live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObjectService {
    /// Amazon S3 and S3-compatible stores: `s3://bucket/prefix`.
    S3,
    /// Google Cloud Storage: `gs://bucket/prefix`.
    Gcs,
    /// Azure Blob Storage / Data Lake: `az://container/prefix`,
    /// `abfs[s]://container@account.dfs.core.windows.net/prefix`.
    Azure,
}

impl ObjectService {
    /// The service of URI scheme `scheme` (without `:`), if it names one.
    fn of_scheme(scheme: &str) -> Option<ObjectService> {
        match scheme {
            "s3" => Some(ObjectService::S3),
            "gs" => Some(ObjectService::Gcs),
            "az" | "abfs" | "abfss" => Some(ObjectService::Azure),
            _ => None,
        }
    }
}

/// A directory on object storage: a bucket (or container) and a `/`-separated key prefix,
/// read from `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix` or
/// `abfs[s]://container@account.host/prefix`.
///
/// ```
/// use hyperflow::tracking::{ArtifactLocation, ObjectService};
///
/// let ArtifactLocation::Object(loc) = ArtifactLocation::parse("s3://team/mlruns/")? else {
///     unreachable!()
/// };
/// assert_eq!((loc.service(), loc.bucket(), loc.prefix()), (ObjectService::S3, "team", "mlruns"));
/// assert_eq!(loc.join("1/abc").to_string(), "s3://team/mlruns/1/abc");
/// # Ok::<(), hyperflow::tracking::StoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectLocation {
    service: ObjectService,
    scheme: String,
    bucket: String,
    prefix: String,
}

impl ObjectLocation {
    /// The service the location is on.
    pub fn service(&self) -> ObjectService {
        self.service
    }

    /// The URI scheme as written (`s3`, `gs`, `az`, `abfs`, `abfss`).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The bucket (S3, GCS) or container (Azure; with `@account.host` when the URI names
    /// the account).
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix below the bucket, `/`-separated, without leading or trailing `/`
    /// (`""` = the whole bucket).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The location of `path` (relative, `/`-separated, already checked) below this one.
    pub fn join(&self, path: &str) -> ObjectLocation {
        let path = path.trim_matches('/');
        if path.is_empty() {
            return self.clone();
        }
        ObjectLocation {
            prefix: join_path(&self.prefix, path),
            ..self.clone()
        }
    }

    /// `path` relative to this location, when `other` is this location or below it.
    pub fn relative<'a>(&self, other: &'a ObjectLocation) -> Option<&'a str> {
        if other.scheme != self.scheme || other.bucket != self.bucket {
            return None;
        }
        if self.prefix.is_empty() {
            return Some(&other.prefix);
        }
        match other.prefix.strip_prefix(&self.prefix)? {
            "" => Some(""),
            rest => rest.strip_prefix('/'),
        }
    }

    /// The bucket's URL without the prefix (`s3://bucket`), as object_store's builders
    /// read it.
    pub fn bucket_url(&self) -> String {
        format!("{}://{}", self.scheme, self.bucket)
    }
}

impl std::fmt::Display for ObjectLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

/// Where a run's artifacts are, read off its artifact URI.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArtifactLocation {
    /// A local directory: `file:///abs/dir`, `file:/abs/dir` or a plain path.
    Local(PathBuf),
    /// A directory behind a tracking server's artifact proxy: `mlflow-artifacts:/<path>`
    /// (the server of the tracking URI) or `mlflow-artifacts://<host:port>/<path>`.
    Proxy {
        /// The `host:port` the URI names, if any.
        authority: Option<String>,
        /// The directory below the proxy's root, `/`-separated, without leading `/`.
        path: String,
    },
    /// A location on object storage (see [`ObjectLocation`]).
    Object(ObjectLocation),
}

impl ArtifactLocation {
    /// Read an artifact URI. Other schemes (`hdfs://`, `ftp://`, ...) are
    /// [`StoreError::UnsupportedArtifactUri`], naming the URI and what is supported.
    pub fn parse(uri: &str) -> Result<ArtifactLocation> {
        if let Some(rest) = uri.strip_prefix(MLFLOW_ARTIFACTS_SCHEME) {
            let (authority, path) = match rest.strip_prefix("//") {
                Some(r) => {
                    let (authority, path) = r.split_once('/').unwrap_or((r, ""));
                    (Some(authority.to_string()).filter(|a| !a.is_empty()), path)
                }
                None => (None, rest),
            };
            let path = normalized(path.trim_start_matches('/')).map_err(|e| {
                StoreError::UnsupportedArtifactUri {
                    uri: uri.to_string(),
                    reason: e.to_string(),
                }
            })?;
            return Ok(ArtifactLocation::Proxy { authority, path });
        }
        if let Some((scheme, rest)) = uri.split_once("://")
            && let Some(service) = ObjectService::of_scheme(scheme)
        {
            return object_location(uri, service, scheme, rest).map(ArtifactLocation::Object);
        }
        if let Some(rest) = uri.strip_prefix("file://") {
            // file:///abs → /abs ; file://localhost/abs → /abs
            let rest = rest.strip_prefix("localhost").unwrap_or(rest);
            return Ok(ArtifactLocation::Local(PathBuf::from(rest)));
        }
        if let Some(rest) = uri.strip_prefix("file:") {
            return Ok(ArtifactLocation::Local(PathBuf::from(rest)));
        }
        // A one-letter "scheme" is a Windows drive.
        if let Some((scheme, _)) = uri.split_once(':')
            && scheme.len() > 1
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            return Err(StoreError::UnsupportedArtifactUri {
                uri: uri.to_string(),
                reason: format!("its scheme '{scheme}' is not supported; {SUPPORTED_LOCATIONS}"),
            });
        }
        Ok(ArtifactLocation::Local(PathBuf::from(uri)))
    }
}

/// `scheme://rest` read as an object storage location of `service`.
fn object_location(
    uri: &str,
    service: ObjectService,
    scheme: &str,
    rest: &str,
) -> Result<ObjectLocation> {
    let refuse = |reason: String| StoreError::UnsupportedArtifactUri {
        uri: uri.to_string(),
        reason,
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let what = if service == ObjectService::Azure {
        "container"
    } else {
        "bucket"
    };
    if bucket.is_empty() {
        return Err(refuse(format!(
            "it names no {what}; write {scheme}://<{what}>/<prefix>, e.g. \
             {scheme}://my-{what}/mlruns"
        )));
    }
    if bucket.contains(['?', '#']) || prefix.contains(['?', '#']) {
        return Err(refuse(format!(
            "'?' and '#' are not allowed; write {scheme}://<{what}>/<prefix>"
        )));
    }
    let prefix = normalized(prefix).map_err(|e| refuse(e.to_string()))?;
    Ok(ObjectLocation {
        service,
        scheme: scheme.to_string(),
        bucket: bucket.to_string(),
        prefix,
    })
}

/// The location `name` below artifact location `root` (a local directory or an object
/// storage URI): how stores derive an experiment's default location from their root.
#[cfg(any(feature = "sqlite", test))]
pub(crate) fn child_location(root: &str, name: &str) -> String {
    match ArtifactLocation::parse(root) {
        Ok(ArtifactLocation::Local(dir)) => dir.join(name).display().to_string(),
        _ => join_path(root, name),
    }
}

/// Opens the repository at `uri` when this process reaches it by itself: a local directory
/// or object storage. An `mlflow-artifacts:` URI is reached through the tracking server
/// (a REST store's [`Store::artifact_repo`]) and is [`StoreError::UnsupportedArtifactUri`]
/// here; so is object storage in a build without the `object-store` feature.
pub fn open_repo(uri: &str) -> Result<Box<dyn ArtifactRepo>> {
    open_location(uri, ArtifactLocation::parse(uri)?)
}

/// [`open_repo`] of `location`, parsed from `uri`.
pub(crate) fn open_location(
    uri: &str,
    location: ArtifactLocation,
) -> Result<Box<dyn ArtifactRepo>> {
    match location {
        ArtifactLocation::Local(dir) => Ok(Box::new(LocalArtifactRepo::at(dir))),
        ArtifactLocation::Object(location) => open_object(uri, &location),
        ArtifactLocation::Proxy { .. } => Err(behind_proxy(uri)),
    }
}

/// Why a process cannot open `mlflow-artifacts:` location `uri` by itself.
fn behind_proxy(uri: &str) -> StoreError {
    StoreError::UnsupportedArtifactUri {
        uri: uri.to_string(),
        reason: "it lives behind a tracking server's artifact proxy; open the store through \
                 that server (an http:// tracking URI) to reach it"
            .to_string(),
    }
}

#[cfg(feature = "object-store")]
fn open_object(_uri: &str, location: &ObjectLocation) -> Result<Box<dyn ArtifactRepo>> {
    Ok(Box::new(object::ObjectStoreRepo::open(location)?))
}

#[cfg(not(feature = "object-store"))]
fn open_object(uri: &str, _: &ObjectLocation) -> Result<Box<dyn ArtifactRepo>> {
    Err(StoreError::UnsupportedArtifactUri {
        uri: uri.to_string(),
        reason: "this build of hyperflow has no object storage support; build it with the \
                 `object-store` feature (the `hyperflow` command has it)"
            .to_string(),
    })
}

/// Checks that artifacts can be written at `location` (an experiment's artifact location)
/// before anything is stored there: a local directory is created if missing and must
/// accept a file; on object storage a probe object is written and deleted (a missing
/// bucket or refused credentials fail here); a proxy location is the server's to check;
/// any other scheme is [`StoreError::UnsupportedArtifactUri`].
pub fn check_writable(location: &str) -> Result<()> {
    let dir = match ArtifactLocation::parse(location)? {
        ArtifactLocation::Local(dir) => dir,
        ArtifactLocation::Proxy { .. } => return Ok(()),
        ArtifactLocation::Object(object) => return check_object_writable(location, &object),
    };
    let refuse = |what: &str, e: std::io::Error| {
        StoreError::InvalidParameter(format!(
            "artifact location '{location}' cannot be written: {what} {}: {e}; choose a \
         directory this process can create and write",
            dir.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(|e| refuse("cannot create directory", e))?;
    let probe = dir.join(format!(
        ".hyperflow-write-check-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| refuse("cannot create a file in", e))?;
    std::fs::remove_file(&probe).map_err(|e| refuse("cannot remove a file from", e))
}

#[cfg(feature = "object-store")]
fn check_object_writable(_: &str, location: &ObjectLocation) -> Result<()> {
    object::ObjectStoreRepo::open(location)?.check_writable()
}

#[cfg(not(feature = "object-store"))]
fn check_object_writable(uri: &str, location: &ObjectLocation) -> Result<()> {
    open_object(uri, location).map(drop)
}

/// The files of one run. Paths are relative to the run's artifact root and `/`-separated;
/// every implementation rejects paths that would leave the root.
///
/// Implementors provide [`write_bytes`](Self::write_bytes),
/// [`read_bytes`](Self::read_bytes) and [`list`](Self::list); copying files and
/// directories in and out works through those by default.
///
/// ```
/// use hyperflow::tracking::{ArtifactRepo, RunOptions, Tracker};
/// # let dir = tempfile::tempdir()?;
/// # let tracker = Tracker::open(&format!("sqlite:///{}/t.db", dir.path().display()))?;
/// let run = tracker.start_run(RunOptions::new())?;
/// run.log_text("hello", "notes/hello.txt")?;
/// let repo = tracker.artifacts(run.id())?;
/// assert_eq!(repo.read_bytes("notes/hello.txt")?, b"hello");
/// assert_eq!(repo.list("notes")?[0].path, "notes/hello.txt");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait ArtifactRepo: Send + Sync + std::fmt::Debug {
    /// Write `bytes` to artifact file `path` (e.g. `plots/loss.svg`), creating directories
    /// as needed and replacing an existing file.
    fn write_bytes(&self, path: &str, bytes: &[u8]) -> Result<()>;

    /// Read artifact file `path`; [`StoreError::NotFound`] when there is none.
    fn read_bytes(&self, path: &str) -> Result<Vec<u8>>;

    /// The direct children of artifact directory `path` (`""` = the root), sorted by path;
    /// their paths are relative to the run's root. A missing directory lists empty.
    fn list(&self, path: &str) -> Result<Vec<FileInfo>>;

    /// Copy artifact file `path` into local file `target` (replacing it);
    /// [`StoreError::NotFound`] when there is none. The default reads the file whole.
    fn read_to_file(&self, path: &str, target: &Path) -> Result<()> {
        let bytes = self.read_bytes(path)?;
        std::fs::write(target, bytes).map_err(|e| io_err("writing", target, e))
    }

    /// Copy local file `local` into artifact directory `artifact_dir` (`None` = the root),
    /// keeping its file name.
    fn log_file(&self, local: &Path, artifact_dir: Option<&str>) -> Result<()> {
        let bytes = std::fs::read(local).map_err(|e| io_err("reading", local, e))?;
        self.write_bytes(
            &join_path(artifact_dir.unwrap_or(""), file_name(local)?),
            &bytes,
        )
    }

    /// Copy the contents of local directory `local` into artifact directory `artifact_dir`
    /// (`None` = the root), file by file through [`log_file`](Self::log_file).
    fn log_dir(&self, local: &Path, artifact_dir: Option<&str>) -> Result<()> {
        let base = normalized(artifact_dir.unwrap_or(""))?;
        require_dir(local)?;
        walk(local, "", &mut |from, rel, is_dir| {
            if is_dir {
                return Ok(());
            }
            let dir = rel.rsplit_once('/').map_or("", |(dir, _)| dir);
            self.log_file(from, Some(&join_path(&base, dir)))
        })
    }

    /// Copy artifact `path` (a file or a directory; `""` = everything) into local directory
    /// `dest`; returns the local path of the copy. As in MLflow, a path with children is a
    /// directory and any other path a file.
    fn download(&self, path: &str, dest: &Path) -> Result<PathBuf> {
        let path = normalized(path)?;
        let target = match path.rsplit('/').next().filter(|n| !n.is_empty()) {
            Some(name) => dest.join(name),
            None => dest.to_path_buf(),
        };
        let children = self.list(&path)?;
        create_dir(dest)?;
        if path.is_empty() || !children.is_empty() {
            download_tree(self, children, &target)?;
        } else {
            self.read_to_file(&path, &target)?;
        }
        Ok(target)
    }
}

/// Write the artifacts `entries` (and what is below the directories among them) into local
/// directory `into`.
fn download_tree<R: ArtifactRepo + ?Sized>(
    repo: &R,
    entries: Vec<FileInfo>,
    into: &Path,
) -> Result<()> {
    create_dir(into)?;
    for entry in entries {
        let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        let to = into.join(name);
        if entry.is_dir {
            download_tree(repo, repo.list(&entry.path)?, &to)?;
        } else {
            repo.read_to_file(&entry.path, &to)?;
        }
    }
    Ok(())
}

/// The repository in `cell`, opened through `store` for `artifact_uri` the first time.
pub(crate) fn open_once<'a>(
    cell: &'a std::sync::OnceLock<Box<dyn ArtifactRepo>>,
    store: &dyn super::store::Store,
    artifact_uri: &str,
) -> Result<&'a dyn ArtifactRepo> {
    if let Some(repo) = cell.get() {
        return Ok(repo.as_ref());
    }
    let repo = store.artifact_repo(artifact_uri)?;
    Ok(cell.get_or_init(|| repo).as_ref())
}

/// A run's artifacts as plain files under a local directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalArtifactRepo {
    root: PathBuf,
}

impl LocalArtifactRepo {
    /// The repository of a run whose `artifact_uri` is a local location (see
    /// [`ArtifactLocation`]); an `mlflow-artifacts:`, object storage or other remote URI
    /// is [`StoreError::UnsupportedArtifactUri`] (open those with [`open_repo`] or
    /// [`Store::artifact_repo`]).
    pub fn new(artifact_uri: &str) -> Result<Self> {
        match ArtifactLocation::parse(artifact_uri)? {
            ArtifactLocation::Local(root) => Ok(Self::at(root)),
            ArtifactLocation::Object(_) => Err(StoreError::UnsupportedArtifactUri {
                uri: artifact_uri.to_string(),
                reason: "it is on object storage, not in a local directory; open it with \
                         artifacts::open_repo or the store's artifact_repo"
                    .to_string(),
            }),
            ArtifactLocation::Proxy { .. } => Err(behind_proxy(artifact_uri)),
        }
    }

    /// The repository rooted at local directory `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        LocalArtifactRepo { root: root.into() }
    }

    /// The run's artifact directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local path of artifact `path` (validated).
    pub fn resolve(&self, path: &str) -> Result<PathBuf> {
        Ok(self.root.join(safe_relative_path(path)?))
    }
}

impl ArtifactRepo for LocalArtifactRepo {
    fn write_bytes(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let dest = self.root.join(file_path(path)?);
        if let Some(dir) = dest.parent() {
            create_dir(dir)?;
        }
        std::fs::write(&dest, bytes).map_err(|e| io_err("writing artifact", &dest, e))
    }

    fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let src = self.resolve(path)?;
        if !src.is_file() {
            return Err(no_such_artifact(path));
        }
        std::fs::read(&src).map_err(|e| io_err("reading artifact", &src, e))
    }

    fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
        let rel = normalized(path)?;
        let dir = self.root.join(&rel);
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&dir).map_err(|e| io_err("listing", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_err("listing", &dir, e))?;
            let meta = entry
                .metadata()
                .map_err(|e| io_err("reading metadata of", &entry.path(), e))?;
            out.push(FileInfo {
                path: join_path(&rel, &entry.file_name().to_string_lossy()),
                is_dir: meta.is_dir(),
                file_size: (!meta.is_dir()).then_some(meta.len()),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    // The local overrides copy with the file system instead of reading whole files.

    fn log_file(&self, local: &Path, artifact_dir: Option<&str>) -> Result<()> {
        let dir = self.resolve(artifact_dir.unwrap_or(""))?;
        create_dir(&dir)?;
        let dest = dir.join(file_name(local)?);
        std::fs::copy(local, &dest).map_err(|e| io_err("copying", local, e))?;
        Ok(())
    }

    fn log_dir(&self, local: &Path, artifact_dir: Option<&str>) -> Result<()> {
        copy_dir(local, &self.resolve(artifact_dir.unwrap_or(""))?)
    }

    fn download(&self, path: &str, dest: &Path) -> Result<PathBuf> {
        let rel = safe_relative_path(path)?;
        let src = self.root.join(&rel);
        create_dir(dest)?;
        let target = match rel.file_name() {
            Some(name) => dest.join(name),
            None => dest.to_path_buf(),
        };
        if src.is_dir() {
            copy_dir(&src, &target)?;
        } else if src.is_file() {
            std::fs::copy(&src, &target).map_err(|e| io_err("copying", &src, e))?;
        } else {
            return Err(no_such_artifact(path));
        }
        Ok(target)
    }
}

/// Check that `path` is a relative artifact path that stays inside the run's directory and
/// return its components. `""` and `"."` mean the root.
pub fn safe_relative_path(path: &str) -> Result<PathBuf> {
    let reject = |reason: &str| {
        Err(StoreError::InvalidArtifactPath {
            path: path.to_string(),
            reason: format!(
                "{reason}; artifact paths are relative '/'-separated paths inside the run's \
                 artifact directory, e.g. 'plots/loss.svg'"
            ),
        })
    };
    if path.contains('\\') {
        return reject("backslashes are not allowed");
    }
    if path.contains('\0') {
        return reject("NUL characters are not allowed");
    }
    let mut out = PathBuf::new();
    for comp in Path::new(path).components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::ParentDir => return reject("'..' would escape the run's directory"),
            Component::RootDir | Component::Prefix(_) => {
                return reject("absolute paths are not allowed");
            }
        }
    }
    Ok(out)
}

/// `path` checked with [`safe_relative_path`] and written back `/`-separated (`""` for the
/// root).
pub(crate) fn normalized(path: &str) -> Result<String> {
    let rel = safe_relative_path(path)?;
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/"))
}

/// [`normalized`] for a path that must name a file (not the root).
pub(crate) fn file_path(path: &str) -> Result<String> {
    let p = normalized(path)?;
    if p.is_empty() {
        return Err(StoreError::InvalidArtifactPath {
            path: path.to_string(),
            reason: "a file name is needed, e.g. 'notes.txt'".to_string(),
        });
    }
    Ok(p)
}

/// `dir/name`, or `name` alone below the root (`dir` = `""`).
pub(crate) fn join_path(dir: &str, name: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// The answer for an artifact file that does not exist.
pub(crate) fn no_such_artifact(path: &str) -> StoreError {
    StoreError::NotFound(format!("No such artifact: '{path}'"))
}

fn file_name(local: &Path) -> Result<&str> {
    local
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| StoreError::InvalidArtifactPath {
            path: local.display().to_string(),
            reason: "the local path has no file name in UTF-8".to_string(),
        })
}

fn io_err(what: &str, p: &Path, e: std::io::Error) -> StoreError {
    StoreError::io(format!("{what} {}", p.display()), e)
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io_err("creating directory", dir, e))
}

/// Call `f(path, relative path, is_dir)` for everything below local directory `dir`,
/// directories before their contents; `rel` is the `/`-separated prefix of `dir` itself.
fn walk(dir: &Path, rel: &str, f: &mut dyn FnMut(&Path, &str, bool) -> Result<()>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| io_err("reading directory", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err("reading directory", dir, e))?;
        let from = entry.path();
        let child = join_path(rel, &entry.file_name().to_string_lossy());
        let is_dir = entry
            .file_type()
            .map_err(|e| io_err("reading file type of", &from, e))?
            .is_dir();
        f(&from, &child, is_dir)?;
        if is_dir {
            walk(&from, &child, f)?;
        }
    }
    Ok(())
}

/// A local directory to copy from; anything else is an error saying so.
fn require_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    Err(io_err(
        "copying artifacts from",
        dir,
        std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
    ))
}

fn copy_dir(src: &Path, dest: &Path) -> Result<()> {
    require_dir(src)?;
    create_dir(dest)?;
    walk(src, "", &mut |from, rel, is_dir| {
        let to = dest.join(rel);
        if is_dir {
            create_dir(&to)
        } else {
            std::fs::copy(from, &to)
                .map(drop)
                .map_err(|e| io_err("copying", from, e))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_rejected() {
        for bad in ["../x", "a/../../b", "/etc/passwd", "a\\b", ".."] {
            assert!(
                matches!(
                    safe_relative_path(bad),
                    Err(StoreError::InvalidArtifactPath { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(safe_relative_path("a/./b").ok(), Some(PathBuf::from("a/b")));
        assert_eq!(safe_relative_path("").ok(), Some(PathBuf::new()));
        assert_eq!(normalized("./a//b/").ok().as_deref(), Some("a/b"));
        assert!(file_path(".").is_err());
    }

    #[test]
    fn locations() {
        let local = |p: &str| Some(ArtifactLocation::Local(PathBuf::from(p)));
        assert_eq!(ArtifactLocation::parse("file:///a/b").ok(), local("/a/b"));
        assert_eq!(ArtifactLocation::parse("file:/a/b").ok(), local("/a/b"));
        assert_eq!(ArtifactLocation::parse("/a/b").ok(), local("/a/b"));
        assert_eq!(ArtifactLocation::parse("rel/dir").ok(), local("rel/dir"));
        assert_eq!(
            ArtifactLocation::parse("mlflow-artifacts:/1/r/artifacts").ok(),
            Some(ArtifactLocation::Proxy {
                authority: None,
                path: "1/r/artifacts".into()
            })
        );
        assert_eq!(
            ArtifactLocation::parse("mlflow-artifacts://h:5000/1/r/artifacts").ok(),
            Some(ArtifactLocation::Proxy {
                authority: Some("h:5000".into()),
                path: "1/r/artifacts".into()
            })
        );
        let e = ArtifactLocation::parse("hdfs://nn/x").unwrap_err();
        assert!(
            matches!(e, StoreError::UnsupportedArtifactUri { .. }),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("hdfs://nn/x")
                && text.contains("'hdfs'")
                && text.contains("file://")
                && text.contains("s3://bucket/prefix"),
            "{text}"
        );
        assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
        assert!(ArtifactLocation::parse("mlflow-artifacts:/../x").is_err());
        let e = LocalArtifactRepo::new("mlflow-artifacts:/1/r/artifacts").unwrap_err();
        assert!(e.to_string().contains("http://"), "{e}");
    }

    #[test]
    fn object_locations() {
        let object = |uri: &str| match ArtifactLocation::parse(uri) {
            Ok(ArtifactLocation::Object(l)) => l,
            other => panic!("{uri}: {other:?}"),
        };
        let s3 = object("s3://team/a//b/");
        assert_eq!(
            (s3.service(), s3.bucket(), s3.prefix()),
            (ObjectService::S3, "team", "a/b")
        );
        assert_eq!(s3.to_string(), "s3://team/a/b");
        assert_eq!(object("s3://team").prefix(), "");
        assert_eq!(object("gs://b/p").service(), ObjectService::Gcs);
        let az = object("abfss://c@acct.dfs.core.windows.net/p");
        assert_eq!(
            (az.service(), az.bucket()),
            (ObjectService::Azure, "c@acct.dfs.core.windows.net")
        );
        assert_eq!(object("az://c/p").bucket_url(), "az://c");
        // Relative locations, as the server maps its destination's runs.
        let run = object("s3://team/a/b/1/r/artifacts");
        assert_eq!(s3.relative(&run), Some("1/r/artifacts"));
        assert_eq!(s3.relative(&s3), Some(""));
        assert_eq!(s3.relative(&object("s3://team/a/bc")), None);
        assert_eq!(s3.relative(&object("s3://other/a/b/1")), None);
        assert_eq!(
            object("s3://team").relative(&run),
            Some("a/b/1/r/artifacts")
        );
        assert_eq!(child_location("s3://team/a", "1"), "s3://team/a/1");
        assert_eq!(child_location("/abs/dir", "1"), "/abs/dir/1");
        // Mistakes say what and what is accepted.
        for (bad, says) in [
            ("s3:///prefix", "names no bucket"),
            ("az:///p", "names no container"),
            ("s3://b/../x", "'..'"),
            ("s3://b/p?versionId=1", "'?'"),
        ] {
            let e = ArtifactLocation::parse(bad).unwrap_err();
            assert!(
                matches!(e, StoreError::UnsupportedArtifactUri { .. }),
                "{bad}: {e:?}"
            );
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
        let e = LocalArtifactRepo::new("s3://b/p").unwrap_err();
        assert!(e.to_string().contains("object storage"), "{e}");
    }

    #[cfg(not(feature = "object-store"))]
    #[test]
    fn object_storage_needs_its_feature() {
        let e = open_repo("s3://b/p").unwrap_err();
        assert!(e.to_string().contains("`object-store` feature"), "{e}");
        assert!(check_writable("gs://b/p").is_err());
    }

    #[test]
    fn default_methods_round_trip() {
        // The defaults, as a remote repository uses them, over the local primitives.
        #[derive(Debug)]
        struct Primitives(LocalArtifactRepo);
        impl ArtifactRepo for Primitives {
            fn write_bytes(&self, path: &str, bytes: &[u8]) -> Result<()> {
                self.0.write_bytes(path, bytes)
            }
            fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
                self.0.read_bytes(path)
            }
            fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
                self.0.list(path)
            }
        }
        let d = tempfile::tempdir().unwrap();
        let repo = Primitives(LocalArtifactRepo::at(d.path().join("run")));
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::write(src.join("top.txt"), "top").unwrap();
        std::fs::write(src.join("a/b/deep.txt"), "deep").unwrap();
        repo.log_dir(&src, Some("in")).unwrap();
        repo.log_file(&src.join("top.txt"), None).unwrap();
        assert_eq!(repo.read_bytes("in/a/b/deep.txt").unwrap(), b"deep");
        assert_eq!(repo.read_bytes("top.txt").unwrap(), b"top");

        let out = d.path().join("out");
        let p = repo.download("in", &out).unwrap();
        assert_eq!(p, out.join("in"));
        assert_eq!(
            std::fs::read_to_string(p.join("a/b/deep.txt")).unwrap(),
            "deep"
        );
        let p = repo.download("top.txt", &out).unwrap();
        assert_eq!(std::fs::read_to_string(p).unwrap(), "top");
        let all = repo.download("", &d.path().join("all")).unwrap();
        assert!(all.join("in/top.txt").is_file());
        assert!(matches!(
            repo.download("missing.txt", &out),
            Err(StoreError::NotFound(_))
        ));
    }
}
