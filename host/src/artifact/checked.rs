//! A file that may be published: a regular file, opened without following
//! links (inside a plugin's output tree, or a path the user named), with its
//! size and the sha256 of its bytes computed in a stream. Publishing, set
//! building and the run summary take only this type, so nothing reaches a
//! store before it was checked.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::output_tree::{LentDir, TreeError};
use crate::store::FileSlice;

/// What an artifact is for: where it goes in a set, and how it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Primary,
    License,
    Dependency,
    Wheel,
    TestReport,
}

/// A checked artifact file.
#[derive(Debug, Clone)]
pub struct CheckedArtifact {
    /// Relative to the output tree (or the path the user gave).
    pub path: String,
    pub role: Role,
    pub properties: BTreeMap<String, String>,
    pub size: u64,
    pub sha256: String,
    file: Arc<File>,
}

/// Why a file cannot become a checked artifact.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Tree(#[from] TreeError),
    #[error("reading `{path}` failed: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reading `{0}` was interrupted")]
    Interrupted(String),
    #[error("`{path}` changed while it was hashed ({was} bytes, now {now})")]
    Changed { path: String, was: u64, now: u64 },
}

impl CheckedArtifact {
    /// Opens `path` inside `tree` (a regular file of at most `limit` bytes,
    /// no symlink followed out or at its end) and hashes it. Stops early
    /// when `cancel` is set (a signal arrived).
    pub fn in_tree(
        tree: &LentDir,
        path: &str,
        role: Role,
        properties: BTreeMap<String, String>,
        limit: u64,
        cancel: &AtomicBool,
    ) -> Result<Self, CheckError> {
        let (file, size) = tree.open_regular(path, limit)?;
        Self::hashed(file, size, path.to_string(), role, properties, cancel)
    }

    /// A file the user named on the command line (trusted): opened as it
    /// is, but still a regular file; not hashed yet, see [`UserFile`].
    pub fn open_user_file(path: &Path, role: Role) -> Result<UserFile, CheckError> {
        let shown = path.display().to_string();
        let read = |source| CheckError::Read { path: shown.clone(), source };
        let file = File::open(path).map_err(read)?;
        let meta = file.metadata().map_err(read)?;
        if !meta.is_file() {
            return Err(TreeError::NotRegular { path: shown, kind: "not a regular file" }.into());
        }
        Ok(UserFile { file: Arc::new(file), size: meta.len(), path: shown, role })
    }

    fn hashed(
        file: File,
        size: u64,
        path: String,
        role: Role,
        properties: BTreeMap<String, String>,
        cancel: &AtomicBool,
    ) -> Result<Self, CheckError> {
        let sha256 = hash(&file, size, &path, cancel)?;
        Ok(Self { path, role, properties, size, sha256, file: Arc::new(file) })
    }

    /// The open file, to stream to a store (read it with positioned reads,
    /// e.g. [`FileSlice`]).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The last component of its path: its name in a set.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// A property the plugin reported.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }
}

/// A file the user named (`hostbuild artifacts push`), open and regular,
/// not hashed yet. Its bytes may already move to a store, invisibly
/// (`artifact::publish::publish_user_files` stages them while it hashes);
/// only `check` makes it a [`CheckedArtifact`], and nothing becomes visible
/// in a store before that.
#[derive(Debug, Clone)]
pub struct UserFile {
    file: Arc<File>,
    size: u64,
    path: String,
    role: Role,
}

impl UserFile {
    /// Its size when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The open file, to read with positioned reads.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The last component of its path: its name in a set.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Hashes the file (the same open file) into a checked artifact.
    pub fn check(self, cancel: &AtomicBool) -> Result<CheckedArtifact, CheckError> {
        let sha256 = hash(&self.file, self.size, &self.path, cancel)?;
        let UserFile { file, size, path, role } = self;
        Ok(CheckedArtifact { path, role, properties: BTreeMap::new(), size, sha256, file })
    }
}

/// sha256 of the first `size` bytes of `file`, read in 1 MiB chunks; checks
/// `cancel` between chunks and that the file did not change size.
fn hash(file: &File, size: u64, path: &str, cancel: &AtomicBool) -> Result<String, CheckError> {
    use std::io::Read;
    let mut reader = FileSlice::new(file, 0, size);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut seen = 0u64;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(CheckError::Interrupted(path.into()));
        }
        let n = reader.read(&mut buf).map_err(|source| CheckError::Read { path: path.into(), source })?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        seen += n as u64;
    }
    let now = file.metadata().map(|m| m.len()).unwrap_or(seen);
    if seen != size || now != size {
        return Err(CheckError::Changed { path: path.into(), was: size, now: seen.max(now) });
    }
    Ok(hex::encode(hasher.finalize()))
}

impl crate::diagnostics::Diagnose for CheckError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        match self {
            CheckError::Interrupted(_) => (ExitStatus::Interrupted, None),
            CheckError::Changed { .. } => {
                (ExitStatus::Usage, Some("the file was written to while it was read; retry once it is complete".into()))
            }
            _ => (ExitStatus::Usage, Some("check the file paths".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_it_opened() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("lib.so"), b"abc").unwrap();
        let dir = LentDir::open_ambient(tmp.path()).unwrap();
        let never = AtomicBool::new(false);
        let a = CheckedArtifact::in_tree(&dir, "lib.so", Role::Primary, BTreeMap::new(), 10, &never).unwrap();
        assert_eq!((a.size, a.file_name()), (3, "lib.so"));
        assert_eq!(a.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let stop = AtomicBool::new(true);
        let err = CheckedArtifact::in_tree(&dir, "lib.so", Role::Primary, BTreeMap::new(), 10, &stop).unwrap_err();
        assert!(matches!(err, CheckError::Interrupted(_)));
        let err = CheckedArtifact::in_tree(&dir, "lib.so", Role::Primary, BTreeMap::new(), 2, &never).unwrap_err();
        assert!(matches!(err, CheckError::Tree(TreeError::TooLarge { .. })));
    }
}
