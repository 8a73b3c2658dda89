//! `workspace`: the source tree (read-only) and the plugin's output tree,
//! reached only through [`crate::output_tree`]: paths stay inside the trees,
//! symlinks are never followed out, only regular files are read (no FIFO can
//! hang a call), and no read is larger than the plugin could hold.

mod host;

pub use host::{add_to_linker, WorkspaceCtxView, WorkspaceView};

use std::sync::Arc;

use crate::output_tree::{Entry, LentDir, OutputTree, TreeError};

/// The two trees a plugin may touch; either may be absent (e.g. during
/// `describe`), and then every access is refused. Cheap to clone: file work
/// runs on a blocking thread with a clone.
#[derive(Default, Clone)]
pub struct Workspace {
    source: Option<Arc<LentDir>>,
    output: Option<Arc<OutputTree>>,
    /// Largest file a read may return: the plugin's memory limit (a larger
    /// file could not be lent to it anyway).
    read_limit: u64,
}

/// A refused or failed file operation, as the WIT `fs-error` cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FsError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid path: {0}")]
    InvalidPath(String),
    #[error("not permitted: {0}")]
    NotPermitted(String),
    #[error("i/o error: {0}")]
    Io(String),
}

impl From<TreeError> for FsError {
    fn from(e: TreeError) -> Self {
        match e {
            TreeError::NotFound(path) => FsError::NotFound(path),
            e @ (TreeError::InvalidPath { .. } | TreeError::Escapes(_)) => FsError::InvalidPath(e.to_string()),
            e @ (TreeError::NotRegular { .. } | TreeError::TooLarge { .. } | TreeError::Denied { .. }) => {
                FsError::NotPermitted(e.to_string())
            }
            e @ TreeError::Io { .. } => FsError::Io(e.to_string()),
        }
    }
}

impl Workspace {
    /// Lends `source` (read-only) and `output`; reads return at most
    /// `read_limit` bytes.
    pub fn new(source: LentDir, output: Arc<OutputTree>, read_limit: u64) -> Self {
        Self { source: Some(Arc::new(source)), output: Some(output), read_limit }
    }

    fn tree(&self, output: bool) -> Result<&LentDir, FsError> {
        let dir = if output { self.output.as_deref().map(OutputTree::dir) } else { self.source.as_deref() };
        dir.ok_or_else(|| FsError::NotPermitted("no workspace is open during this call".into()))
    }

    pub fn read(&self, output: bool, path: &str) -> Result<Vec<u8>, FsError> {
        Ok(self.tree(output)?.read(path, self.read_limit)?)
    }

    pub fn list(&self, output: bool, path: &str) -> Result<Vec<Entry>, FsError> {
        Ok(self.tree(output)?.list(path)?)
    }

    pub fn metadata(&self, output: bool, path: &str) -> Result<Entry, FsError> {
        Ok(self.tree(output)?.metadata(path)?)
    }

    /// Writes a file of the output tree, creating parents; a symlink or
    /// FIFO planted at `path` is replaced, never written through.
    pub fn write(&self, path: &str, contents: &[u8]) -> Result<(), FsError> {
        Ok(self.tree(true)?.write(path, contents)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output_tree::Kind;

    fn trees() -> (tempfile::TempDir, Workspace) {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/a.txt"), "alpha").unwrap();
        std::fs::write(tmp.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), src.join("escape")).unwrap();
        let output = OutputTree::open(tmp.path(), "out").unwrap();
        let ws = Workspace::new(LentDir::open_ambient(&src).unwrap(), Arc::new(output), 1 << 20);
        (tmp, ws)
    }

    #[test]
    fn reads_inside_and_refuses_escapes() {
        let (_tmp, ws) = trees();
        assert_eq!(ws.read(false, "sub/a.txt").unwrap(), b"alpha");
        assert_eq!(ws.list(false, "").unwrap().len(), 2);
        assert!(matches!(ws.read(false, "../secret"), Err(FsError::InvalidPath(_))));
        assert!(matches!(ws.read(false, "/etc/passwd"), Err(FsError::InvalidPath(_))));
        assert!(matches!(ws.read(false, "escape"), Err(FsError::NotPermitted(_))));
        assert!(matches!(ws.read(false, "missing"), Err(FsError::NotFound(_))));
        assert_eq!(ws.metadata(false, "escape").unwrap().kind, Kind::Symlink);
    }

    #[test]
    fn writes_only_the_output_tree() {
        let (tmp, ws) = trees();
        ws.write("deep/er/file.txt", b"x").unwrap();
        assert_eq!(std::fs::read(tmp.path().join("out/deep/er/file.txt")).unwrap(), b"x");
        assert!(matches!(ws.write("../src/evil", b"x"), Err(FsError::InvalidPath(_))));
        assert!(ws.write("", b"x").is_err());
        assert!(Workspace::default().read(false, "a").is_err());
    }
}
