//! `workspace`: the source tree (read-only) and the plugin's output tree,
//! opened as cap-std directories so no path can leave them, symlinks
//! included.

mod host;

use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

/// The two trees a plugin may touch; either may be absent (e.g. during
/// `describe`), and then every access is refused.
#[derive(Default)]
pub struct Workspace {
    source: Option<Dir>,
    output: Option<Dir>,
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

impl Workspace {
    /// Opens both trees; `output` must exist.
    pub fn open(source: &Path, output: &Path) -> std::io::Result<Self> {
        Ok(Self {
            source: Some(Dir::open_ambient_dir(source, ambient_authority())?),
            output: Some(Dir::open_ambient_dir(output, ambient_authority())?),
        })
    }

    fn tree(&self, output: bool) -> Result<&Dir, FsError> {
        let dir = if output { &self.output } else { &self.source };
        dir.as_ref().ok_or_else(|| FsError::NotPermitted("no workspace is open during this call".into()))
    }

    pub fn read(&self, output: bool, path: &str) -> Result<Vec<u8>, FsError> {
        let rel = relative(path)?;
        self.tree(output)?.read(&rel).map_err(|e| io_error(path, e))
    }

    pub fn list(&self, output: bool, path: &str) -> Result<Vec<Entry>, FsError> {
        let rel = relative(path)?;
        let dir = self.tree(output)?;
        let read = if rel.as_os_str().is_empty() { dir.entries() } else { dir.read_dir(&rel) };
        let mut entries = Vec::new();
        for item in read.map_err(|e| io_error(path, e))? {
            let item = item.map_err(|e| io_error(path, e))?;
            let meta = item.metadata().map_err(|e| io_error(path, e))?;
            entries.push(Entry::new(item.file_name().to_string_lossy().into_owned(), &meta));
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    pub fn metadata(&self, output: bool, path: &str) -> Result<Entry, FsError> {
        let rel = relative(path)?;
        let meta = self.tree(output)?.symlink_metadata(&rel).map_err(|e| io_error(path, e))?;
        Ok(Entry::new(path.to_string(), &meta))
    }

    /// Writes a file of the output tree, creating parents.
    pub fn write(&self, path: &str, contents: &[u8]) -> Result<(), FsError> {
        let rel = relative(path)?;
        if rel.as_os_str().is_empty() {
            return Err(FsError::InvalidPath(format!("`{path}` names the tree itself, not a file")));
        }
        let dir = self.tree(true)?;
        if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
            dir.create_dir_all(parent).map_err(|e| io_error(path, e))?;
        }
        dir.write(&rel, contents).map_err(|e| io_error(path, e))
    }
}

/// What a path names, as the WIT `entry`.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
    pub size: u64,
    pub executable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    Other,
}

impl Entry {
    fn new(name: String, meta: &cap_std::fs::Metadata) -> Self {
        use cap_std::fs::PermissionsExt;
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            EntryKind::Symlink
        } else if ft.is_dir() {
            EntryKind::Directory
        } else if ft.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        };
        let size = if kind == EntryKind::File { meta.len() } else { 0 };
        Self { name, kind, size, executable: kind == EntryKind::File && meta.permissions().mode() & 0o111 != 0 }
    }
}

/// A plugin path as a relative path with no `..`; `""` and `.` are the root.
fn relative(path: &str) -> Result<PathBuf, FsError> {
    let mut out = PathBuf::new();
    for part in Path::new(path).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err(FsError::InvalidPath(format!("`{path}` contains `..`"))),
            Component::RootDir | Component::Prefix(_) => {
                return Err(FsError::InvalidPath(format!("`{path}` is absolute; paths are relative to the tree")))
            }
        }
    }
    Ok(out)
}

fn io_error(path: &str, e: std::io::Error) -> FsError {
    match e.kind() {
        ErrorKind::NotFound => FsError::NotFound(path.to_string()),
        // cap-std reports a symlink that leads outside the tree this way.
        ErrorKind::PermissionDenied if e.to_string().contains("outside") => {
            FsError::InvalidPath(format!("`{path}` leads outside the tree"))
        }
        ErrorKind::PermissionDenied => FsError::NotPermitted(format!("`{path}`: {e}")),
        _ => FsError::Io(format!("`{path}`: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trees() -> (tempfile::TempDir, Workspace) {
        let tmp = tempfile::tempdir().unwrap();
        let (src, out) = (tmp.path().join("src"), tmp.path().join("out"));
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(src.join("sub/a.txt"), "alpha").unwrap();
        std::fs::write(tmp.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), src.join("escape")).unwrap();
        let ws = Workspace::open(&src, &out).unwrap();
        (tmp, ws)
    }

    #[test]
    fn reads_inside_and_refuses_escapes() {
        let (_tmp, ws) = trees();
        assert_eq!(ws.read(false, "sub/a.txt").unwrap(), b"alpha");
        assert_eq!(ws.list(false, "").unwrap().len(), 2);
        assert!(matches!(ws.read(false, "../secret"), Err(FsError::InvalidPath(_))));
        assert!(matches!(ws.read(false, "/etc/passwd"), Err(FsError::InvalidPath(_))));
        assert!(matches!(ws.read(false, "escape"), Err(FsError::InvalidPath(_))));
        assert!(matches!(ws.read(false, "missing"), Err(FsError::NotFound(_))));
        assert_eq!(ws.metadata(false, "escape").unwrap().kind, EntryKind::Symlink);
    }

    #[test]
    fn writes_only_the_output_tree() {
        let (tmp, ws) = trees();
        ws.write("deep/er/file.txt", b"x").unwrap();
        assert_eq!(std::fs::read(tmp.path().join("out/deep/er/file.txt")).unwrap(), b"x");
        assert!(matches!(ws.write("../src/evil", b"x"), Err(FsError::InvalidPath(_))));
        assert!(matches!(ws.write("", b"x"), Err(FsError::InvalidPath(_))));
        assert!(Workspace::default().read(false, "a").is_err());
    }
}
