//! Artifact repositories: the files of a run, wherever its `artifact_uri` points.
//!
//! - [`ArtifactRepo`]: what every repository does. Writing, reading and listing are its
//!   own; copying local files and directories in and artifacts out have defaults built on
//!   those three.
//! - [`LocalArtifactRepo`]: a local directory (a plain path or a `file:` URI).
//! - `ProxyArtifactRepo` (feature `rest`, in [`super::rest`]): a tracking server's
//!   artifact proxy, for `mlflow-artifacts:` URIs, as MLflow's clients use it.
//! - [`ArtifactLocation`]: which of those an artifact URI names.
//!
//! A run's repository is opened by its store ([`Store::artifact_repo`]), because only the
//! store knows the server an `mlflow-artifacts:/...` URI is relative to.
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
     a file:// URI) or behind a tracking server's artifact proxy (mlflow-artifacts:/ URIs, \
     reached through an http:// tracking URI)";

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
}

impl ArtifactLocation {
    /// Read an artifact URI. Other schemes (`s3://`, `gs://`, ...) are
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

/// Checks that artifacts can be written at `location` (an experiment's artifact location)
/// before anything is stored there: a local directory is created if missing and must
/// accept a file; a proxy location is the server's to check; any other scheme is
/// [`StoreError::UnsupportedArtifactUri`].
pub fn check_writable(location: &str) -> Result<()> {
    let ArtifactLocation::Local(dir) = ArtifactLocation::parse(location)? else {
        return Ok(());
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
    /// (`None` = the root).
    fn log_dir(&self, local: &Path, artifact_dir: Option<&str>) -> Result<()> {
        let base = normalized(artifact_dir.unwrap_or(""))?;
        require_dir(local)?;
        walk(local, "", &mut |from, rel, is_dir| {
            if is_dir {
                return Ok(());
            }
            let bytes = std::fs::read(from).map_err(|e| io_err("reading", from, e))?;
            self.write_bytes(&join_path(&base, rel), &bytes)
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
            let bytes = self.read_bytes(&path)?;
            std::fs::write(&target, bytes).map_err(|e| io_err("writing", &target, e))?;
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
            let bytes = repo.read_bytes(&entry.path)?;
            std::fs::write(&to, bytes).map_err(|e| io_err("writing", &to, e))?;
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
    /// [`ArtifactLocation`]); an `mlflow-artifacts:` or other remote URI is
    /// [`StoreError::UnsupportedArtifactUri`].
    pub fn new(artifact_uri: &str) -> Result<Self> {
        match ArtifactLocation::parse(artifact_uri)? {
            ArtifactLocation::Local(root) => Ok(Self::at(root)),
            ArtifactLocation::Proxy { .. } => Err(StoreError::UnsupportedArtifactUri {
                uri: artifact_uri.to_string(),
                reason: "it lives behind a tracking server's artifact proxy; open the \
                         store through that server (an http:// tracking URI) to reach it"
                    .to_string(),
            }),
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
        let e = ArtifactLocation::parse("s3://bucket/x").unwrap_err();
        assert!(
            matches!(e, StoreError::UnsupportedArtifactUri { .. }),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains("s3://bucket/x") && text.contains("'s3'") && text.contains("file://"),
            "{text}"
        );
        assert_eq!(e.error_code(), "INVALID_PARAMETER_VALUE");
        assert!(ArtifactLocation::parse("mlflow-artifacts:/../x").is_err());
        let e = LocalArtifactRepo::new("mlflow-artifacts:/1/r/artifacts").unwrap_err();
        assert!(e.to_string().contains("http://"), "{e}");
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
