//! Local artifact repository: the files under a run's `artifact_uri`.
//!
//! Every artifact path is relative to the run's artifact root and must stay inside it:
//! absolute paths, `..` segments, drive prefixes and backslashes are rejected with
//! [`StoreError::InvalidArtifactPath`].

use super::model::FileInfo;
use super::store::{Result, StoreError};
use std::path::{Component, Path, PathBuf};

/// The artifacts of one run, stored as plain files under a local directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalArtifactRepo {
    root: PathBuf,
}

/// Turn an artifact URI (`file:///abs/dir`, `file:/abs/dir` or a plain path) into a path.
pub fn local_path_from_uri(uri: &str) -> Result<PathBuf> {
    if let Some(rest) = uri.strip_prefix("file://") {
        // file:///abs → /abs ; file://localhost/abs → /abs
        let rest = rest.strip_prefix("localhost").unwrap_or(rest);
        return Ok(PathBuf::from(rest));
    }
    if let Some(rest) = uri.strip_prefix("file:") {
        return Ok(PathBuf::from(rest));
    }
    // Any other `scheme:` (also `mlflow-artifacts:/x`, which has no `//`) is remote; a
    // one-letter scheme is a Windows drive.
    if let Some((scheme, _)) = uri.split_once(':')
        && scheme.len() > 1
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err(StoreError::UnsupportedUri {
            uri: uri.to_string(),
            reason: "only local artifact locations (a path or file://) are supported so far"
                .to_string(),
        });
    }
    Ok(PathBuf::from(uri))
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

fn rel_string(p: &Path) -> String {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn io_err(what: &str, p: &Path, e: std::io::Error) -> StoreError {
    StoreError::io(format!("{what} {}", p.display()), e)
}

fn copy_dir(src: &Path, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).map_err(|e| io_err("creating directory", dest, e))?;
    let entries = std::fs::read_dir(src).map_err(|e| io_err("reading directory", src, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err("reading directory", src, e))?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let ft = entry
            .file_type()
            .map_err(|e| io_err("reading file type of", &from, e))?;
        if ft.is_dir() {
            copy_dir(&from, &to)?;
        } else {
            std::fs::copy(&from, &to).map_err(|e| io_err("copying", &from, e))?;
        }
    }
    Ok(())
}

impl LocalArtifactRepo {
    /// A repository rooted at a run's `artifact_uri`.
    pub fn new(artifact_uri: &str) -> Result<Self> {
        Ok(LocalArtifactRepo {
            root: local_path_from_uri(artifact_uri)?,
        })
    }

    /// The run's artifact directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The local path of artifact `path` (validated).
    pub fn resolve(&self, path: &str) -> Result<PathBuf> {
        Ok(self.root.join(safe_relative_path(path)?))
    }

    /// Write `bytes` to artifact `path` (a file path like `plots/loss.svg`), creating
    /// directories as needed.
    pub fn write_bytes(&self, path: &str, bytes: &[u8]) -> Result<()> {
        let rel = safe_relative_path(path)?;
        if rel.as_os_str().is_empty() {
            return Err(StoreError::InvalidArtifactPath {
                path: path.to_string(),
                reason: "a file name is needed, e.g. 'notes.txt'".to_string(),
            });
        }
        let dest = self.root.join(rel);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io_err("creating directory", dir, e))?;
        }
        std::fs::write(&dest, bytes).map_err(|e| io_err("writing artifact", &dest, e))
    }

    /// Copy local file `local` into directory `artifact_dir` (`None` = the root), keeping its
    /// file name.
    pub fn log_file(&self, local: &Path, artifact_dir: Option<&str>) -> Result<()> {
        let dir = self
            .root
            .join(safe_relative_path(artifact_dir.unwrap_or(""))?);
        let name = local
            .file_name()
            .ok_or_else(|| StoreError::InvalidArtifactPath {
                path: local.display().to_string(),
                reason: "the local path has no file name".to_string(),
            })?;
        std::fs::create_dir_all(&dir).map_err(|e| io_err("creating directory", &dir, e))?;
        let dest = dir.join(name);
        std::fs::copy(local, &dest).map_err(|e| io_err("copying", local, e))?;
        Ok(())
    }

    /// Copy the contents of local directory `local` into `artifact_dir` (`None` = the root).
    pub fn log_dir(&self, local: &Path, artifact_dir: Option<&str>) -> Result<()> {
        if !local.is_dir() {
            return Err(StoreError::io(
                format!("logging artifacts from {}", local.display()),
                std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            ));
        }
        let dir = self
            .root
            .join(safe_relative_path(artifact_dir.unwrap_or(""))?);
        copy_dir(local, &dir)
    }

    /// List the direct children of artifact directory `path` (`""` = the root), sorted by
    /// path. Paths are relative to the run's artifact root. A missing directory lists empty.
    pub fn list(&self, path: &str) -> Result<Vec<FileInfo>> {
        let rel = safe_relative_path(path)?;
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
            let p = rel_string(&rel.join(entry.file_name()));
            out.push(FileInfo {
                path: p,
                is_dir: meta.is_dir(),
                file_size: (!meta.is_dir()).then_some(meta.len()),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Read artifact file `path`.
    pub fn read_bytes(&self, path: &str) -> Result<Vec<u8>> {
        let src = self.resolve(path)?;
        if !src.is_file() {
            return Err(StoreError::NotFound(format!("No such artifact: '{path}'")));
        }
        std::fs::read(&src).map_err(|e| io_err("reading artifact", &src, e))
    }

    /// Copy artifact `path` (file or directory; `""` = everything) into local directory
    /// `dest`; returns the local path of the copy.
    pub fn download(&self, path: &str, dest: &Path) -> Result<PathBuf> {
        let rel = safe_relative_path(path)?;
        let src = self.root.join(&rel);
        std::fs::create_dir_all(dest).map_err(|e| io_err("creating directory", dest, e))?;
        let target = match rel.file_name() {
            Some(name) => dest.join(name),
            None => dest.to_path_buf(),
        };
        if src.is_dir() {
            copy_dir(&src, &target)?;
        } else if src.is_file() {
            std::fs::copy(&src, &target).map_err(|e| io_err("copying", &src, e))?;
        } else {
            return Err(StoreError::NotFound(format!("No such artifact: '{path}'")));
        }
        Ok(target)
    }
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
    }

    #[test]
    fn uris() {
        assert_eq!(
            local_path_from_uri("file:///a/b").ok(),
            Some(PathBuf::from("/a/b"))
        );
        assert_eq!(
            local_path_from_uri("/a/b").ok(),
            Some(PathBuf::from("/a/b"))
        );
        assert!(local_path_from_uri("s3://bucket/x").is_err());
        assert!(local_path_from_uri("mlflow-artifacts:/1/r/artifacts").is_err());
    }
}
