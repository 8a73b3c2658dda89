//! The trees a plugin's work lands in, as the host touches them on its behalf.
//!
//! A plugin's steps can leave anything in its output tree: symlinks to any
//! host path, FIFOs, device nodes, setuid files, files of other owners,
//! sparse files of a terabyte. Every host access on a plugin's behalf (the
//! workspace capability, the plugin's store publish and fetch, artifact
//! checks and hashing, license copies, set publishing, the chown to the
//! invoking user) goes through [`LentDir`] or [`OutputTree`]:
//!
//! - paths are relative, `/`-separated, without `..`; they are resolved by
//!   cap-std inside the tree, so a symlink that leads out of it is refused;
//! - files are opened without following a symlink in the last component,
//!   non-blocking (a FIFO never hangs an open) and must be regular files;
//! - sizes are checked before anything is read, and reads stream;
//! - new files are written to a temporary name and renamed into place, which
//!   replaces a planted symlink instead of writing through it;
//! - messages name paths relative to the tree, never host paths.
//!
//! The output tree itself (`OUT/build.<platform>`) must be a real directory:
//! a project that ships it as a symlink (or as a file) is refused.

mod scan;
mod unpack;

use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::path::{Component, Path, PathBuf};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};

pub use scan::Unsafe;

/// Why an operation on a lent tree was refused or failed. Shown to plugins:
/// paths are relative to the tree.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("`{path}` is not a path inside the tree: {problem}")]
    InvalidPath { path: String, problem: &'static str },
    #[error("`{0}` leads outside the tree")]
    Escapes(String),
    #[error("`{path}` is {kind}, not a regular file")]
    NotRegular { path: String, kind: &'static str },
    #[error("`{path}` is {size} bytes, over the limit of {limit} bytes")]
    TooLarge { path: String, size: u64, limit: u64 },
    #[error("`{0}` does not exist")]
    NotFound(String),
    #[error("`{path}`: permission denied")]
    Denied { path: String },
    #[error("`{path}`: {message}")]
    Io { path: String, message: String },
}

impl TreeError {
    /// Whether the refusal is one a well-behaved plugin never meets: a path
    /// that leaves the tree, or a file that is not a regular file.
    pub fn is_escape(&self) -> bool {
        matches!(self, TreeError::InvalidPath { .. } | TreeError::Escapes(_) | TreeError::NotRegular { .. })
    }
}

/// A directory lent to a plugin (its source tree, or the inside of its
/// output tree), with the safe operations above.
#[derive(Debug)]
pub struct LentDir {
    dir: Dir,
}

/// What a path names, without following a symlink there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Directory,
    Symlink,
    Other,
}

/// An entry of a lent tree.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub kind: Kind,
    pub size: u64,
    pub executable: bool,
}

impl Entry {
    fn new(name: String, meta: &cap_std::fs::Metadata) -> Self {
        use cap_std::fs::PermissionsExt;
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Directory
        } else if ft.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        let size = if kind == Kind::File { meta.len() } else { 0 };
        Self { name, kind, size, executable: kind == Kind::File && meta.permissions().mode() & 0o111 != 0 }
    }
}

/// A plugin path as a relative path with no `..`; `""` and `.` are the root.
pub fn relative(path: &str) -> Result<PathBuf, TreeError> {
    let invalid = |problem| TreeError::InvalidPath { path: path.to_string(), problem };
    if path.contains('\0') {
        return Err(invalid("it contains a NUL byte"));
    }
    let mut out = PathBuf::new();
    for part in Path::new(path).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            Component::ParentDir => return Err(invalid("it contains `..`")),
            Component::RootDir | Component::Prefix(_) => return Err(invalid("it is absolute")),
        }
    }
    Ok(out)
}

/// The name of a kind of file that is not a regular one, for messages.
fn kind_name(ft: &cap_std::fs::FileType) -> &'static str {
    use cap_std::fs::FileTypeExt;
    if ft.is_symlink() {
        "a symlink"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device node"
    } else {
        "not a regular file"
    }
}

fn io_error(path: &str, e: std::io::Error) -> TreeError {
    let path = path.to_string();
    match e.kind() {
        ErrorKind::NotFound => TreeError::NotFound(path),
        // cap-std reports a path that resolves outside the tree this way.
        ErrorKind::PermissionDenied if e.to_string().contains("outside") => TreeError::Escapes(path),
        ErrorKind::PermissionDenied => TreeError::Denied { path },
        // O_NOFOLLOW on a symlink.
        _ if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            TreeError::NotRegular { path, kind: "a symlink" }
        }
        _ => TreeError::Io { path, message: e.kind().to_string() },
    }
}

/// Opening a FIFO never waits for a writer (O_NONBLOCK), and a terminal
/// device never becomes our controlling terminal (O_NOCTTY).
fn special_flags() -> i32 {
    (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOCTTY).bits() as i32
}

impl LentDir {
    /// Opens a directory the user named (trusted path).
    pub fn open_ambient(path: &Path) -> std::io::Result<Self> {
        Ok(Self { dir: Dir::open_ambient_dir(path, ambient_authority())? })
    }

    /// Opens a regular file for reading: no symlink in the last component,
    /// none leading out, no FIFO, device or socket, at most `limit` bytes.
    /// Returns the file and its size.
    pub fn open_regular(&self, path: &str, limit: u64) -> Result<(std::fs::File, u64), TreeError> {
        let rel = relative(path)?;
        if rel.as_os_str().is_empty() {
            return Err(TreeError::NotRegular { path: path.into(), kind: "the tree itself" });
        }
        let mut options = OpenOptions::new();
        options.read(true).follow(FollowSymlinks::No);
        cap_std::fs::OpenOptionsExt::custom_flags(&mut options, special_flags());
        let file = self.dir.open_with(&rel, &options).map_err(|e| io_error(path, e))?;
        let meta = file.metadata().map_err(|e| io_error(path, e))?;
        if !meta.is_file() {
            return Err(TreeError::NotRegular { path: path.into(), kind: kind_name(&meta.file_type()) });
        }
        if meta.len() > limit {
            return Err(TreeError::TooLarge { path: path.into(), size: meta.len(), limit });
        }
        // O_NONBLOCK stays set: regular files ignore it.
        Ok((file.into_std(), meta.len()))
    }

    /// Reads a whole regular file of at most `limit` bytes.
    pub fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>, TreeError> {
        use std::io::Read;
        let (file, size) = self.open_regular(path, limit)?;
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        // The file may grow while it is read: never past the limit.
        file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| io_error(path, e))?;
        if bytes.len() as u64 > limit {
            return Err(TreeError::TooLarge { path: path.into(), size: bytes.len() as u64, limit });
        }
        Ok(bytes)
    }

    /// The entries of a directory, sorted by name.
    pub fn list(&self, path: &str) -> Result<Vec<Entry>, TreeError> {
        let rel = relative(path)?;
        let read = if rel.as_os_str().is_empty() {
            self.dir.entries()
        } else {
            let meta = self.dir.symlink_metadata(&rel).map_err(|e| io_error(path, e))?;
            if !meta.is_dir() {
                return Err(TreeError::NotRegular { path: path.into(), kind: kind_name(&meta.file_type()) });
            }
            self.dir.read_dir(&rel)
        };
        let mut entries = Vec::new();
        for item in read.map_err(|e| io_error(path, e))? {
            let item = item.map_err(|e| io_error(path, e))?;
            let meta = item.metadata().map_err(|e| io_error(path, e))?;
            entries.push(Entry::new(item.file_name().to_string_lossy().into_owned(), &meta));
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// What `path` names, not following a symlink there.
    pub fn metadata(&self, path: &str) -> Result<Entry, TreeError> {
        let rel = relative(path)?;
        let meta = self.dir.symlink_metadata(&rel).map_err(|e| io_error(path, e))?;
        Ok(Entry::new(path.to_string(), &meta))
    }

    /// Starts writing `path` (parents created): the bytes go to a temporary
    /// file beside it, which [`NewFile::commit`] renames into place.
    pub fn create(&self, path: &str) -> Result<NewFile, TreeError> {
        let rel = relative(path)?;
        let (Some(name), parent) = (rel.file_name(), rel.parent().unwrap_or(Path::new(""))) else {
            return Err(TreeError::InvalidPath { path: path.into(), problem: "it names the tree itself, not a file" });
        };
        let parent_dir = if parent.as_os_str().is_empty() {
            self.dir.try_clone().map_err(|e| io_error(path, e))?
        } else {
            self.dir.create_dir_all(parent).map_err(|e| match e.kind() {
                // Something other than a directory of the tree is in the way.
                ErrorKind::AlreadyExists => TreeError::InvalidPath {
                    path: path.into(),
                    problem: "one of its parents is not a directory inside the tree (a file, or a symlink)",
                },
                _ => io_error(path, e),
            })?;
            self.dir.open_dir(parent).map_err(|e| io_error(path, e))?
        };
        if let Ok(meta) = parent_dir.symlink_metadata(name) {
            if meta.is_dir() {
                return Err(TreeError::NotRegular { path: path.into(), kind: "a directory" });
            }
        }
        for attempt in 0..16u32 {
            let tmp = format!(".hostbuild-tmp-{}-{attempt}-{}", std::process::id(), name.to_string_lossy());
            let mut options = OpenOptions::new();
            options.write(true).create_new(true).follow(FollowSymlinks::No);
            cap_std::fs::OpenOptionsExt::mode(&mut options, 0o644);
            match parent_dir.open_with(&tmp, &options) {
                Ok(file) => {
                    return Ok(NewFile {
                        dir: parent_dir,
                        tmp,
                        name: name.to_os_string(),
                        file: Some(file.into_std()),
                        path: path.to_string(),
                    })
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error(path, e)),
            }
        }
        Err(TreeError::Io { path: path.into(), message: "cannot create a temporary file".into() })
    }

    /// Writes a whole file (see [`LentDir::create`]).
    pub fn write(&self, path: &str, contents: &[u8]) -> Result<(), TreeError> {
        use std::io::Write;
        let mut new = self.create(path)?;
        new.file().write_all(contents).map_err(|e| io_error(path, e))?;
        new.commit()
    }
}

/// A file being written into a lent tree; removed unless committed.
pub struct NewFile {
    dir: Dir,
    tmp: String,
    name: std::ffi::OsString,
    file: Option<std::fs::File>,
    path: String,
}

impl NewFile {
    /// The file to write into (empty, positioned at 0).
    pub fn file(&mut self) -> &mut std::fs::File {
        self.file.as_mut().expect("a new file is open until committed")
    }

    /// Puts the file in place, replacing whatever was there (a planted
    /// symlink is replaced, not followed).
    pub fn commit(mut self) -> Result<(), TreeError> {
        if let Some(file) = self.file.take() {
            file.sync_all().map_err(|e| io_error(&self.path, e))?;
        }
        self.dir.rename(&self.tmp, &self.dir, &self.name).map_err(|e| io_error(&self.path, e))?;
        self.tmp.clear();
        Ok(())
    }
}

impl Drop for NewFile {
    fn drop(&mut self) {
        if !self.tmp.is_empty() {
            let _ = self.dir.remove_file(&self.tmp);
        }
    }
}

/// Why the output tree itself cannot be used. Shown to the user.
#[derive(Debug, thiserror::Error)]
pub enum OutputTreeError {
    #[error("the output tree {} is a symlink (to {target}); hostbuild never builds through one", .path.display())]
    Symlink { path: PathBuf, target: String },
    #[error("the output tree {} exists and is not a directory", .path.display())]
    NotADirectory { path: PathBuf },
    #[error("cannot use the output tree {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A platform's output tree, `OUT/build.<platform>/`.
#[derive(Debug)]
pub struct OutputTree {
    inside: LentDir,
    host: PathBuf,
}

impl OutputTree {
    /// Opens `out/name`, creating it when missing. `out` is the user's
    /// (trusted); `name` inside it may have been shipped by a project, so a
    /// symlink or a non-directory there is refused, and the directory is
    /// opened without following links.
    pub fn open(out: &Path, name: &str) -> Result<Self, OutputTreeError> {
        let path = out.join(name);
        let io = |source| OutputTreeError::Io { path: path.clone(), source };
        std::fs::create_dir_all(out).map_err(io)?;
        let out = std::fs::canonicalize(out).map_err(io)?;
        let parent = Dir::open_ambient_dir(&out, ambient_authority()).map_err(io)?;
        match parent.symlink_metadata(name) {
            Ok(meta) if meta.is_symlink() => {
                let target = std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default();
                return Err(OutputTreeError::Symlink { path, target });
            }
            Ok(meta) if !meta.is_dir() => return Err(OutputTreeError::NotADirectory { path }),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => match parent.create_dir(name) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(e)),
            },
            Err(e) => return Err(io(e)),
        }
        let dir = parent.open_dir_nofollow(name).map_err(|e| {
            let (notdir, eloop) = (rustix::io::Errno::NOTDIR.raw_os_error(), rustix::io::Errno::LOOP.raw_os_error());
            match e.raw_os_error() {
                Some(code) if code == notdir || code == eloop => OutputTreeError::NotADirectory { path: path.clone() },
                _ => io(e),
            }
        })?;
        Ok(Self { inside: LentDir { dir }, host: out.join(name) })
    }

    /// Where the tree is on the host: for bind mounts and messages to the
    /// user, never for opening files.
    pub fn host_path(&self) -> &Path {
        &self.host
    }

    /// The tree's contents, as plugins and artifact checks reach them.
    pub fn dir(&self) -> &LentDir {
        &self.inside
    }

    /// Gives the tree's top directory to `uid:gid` (the invoking user, when
    /// root runs hostbuild through sudo) so the steps, which run as that
    /// user, can write in it. Changes the open directory, not a path.
    pub fn give_to(&self, uid: u32, gid: u32) -> std::io::Result<()> {
        use cap_std::fs::MetadataExt;
        let meta = self.inside.dir.dir_metadata()?;
        if (meta.uid(), meta.gid()) != (uid, gid) {
            // The directory may be open as O_PATH: change it through the
            // descriptor itself (AT_EMPTY_PATH), never through a path.
            use rustix::fs::{chownat, AtFlags, Gid, Uid};
            let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
            chownat(self.inside.dir.as_fd(), "", Some(uid), Some(gid), AtFlags::EMPTY_PATH)?;
        }
        Ok(())
    }

    /// Files the steps left that the user must not be handed: setuid or
    /// setgid files, device nodes, FIFOs, sockets, and anything not owned by
    /// `uid`. Symlinks are listed by [`LentDir::list`] but never followed.
    pub fn scan(&self, uid: u32) -> Result<Vec<Unsafe>, TreeError> {
        scan::scan(&self.inside.dir, uid)
    }
}

impl crate::diagnostics::Diagnose for OutputTreeError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        match self {
            OutputTreeError::Symlink { path, .. } | OutputTreeError::NotADirectory { path } => (
                ExitStatus::Refused,
                Some(format!(
                    "a project may ship {} to redirect the build's writes; remove it (or pass another --out)",
                    path.display()
                )),
            ),
            OutputTreeError::Io { .. } => (ExitStatus::Unavailable, Some("check the directory's permissions".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, OutputTree) {
        let tmp = tempfile::tempdir().unwrap();
        let tree = OutputTree::open(tmp.path(), "build.x").unwrap();
        std::fs::write(tmp.path().join("secret"), "s").unwrap();
        (tmp, tree)
    }

    #[test]
    fn regular_files_only_inside_the_tree() {
        let (tmp, tree) = tree();
        let out = tmp.path().join("build.x");
        std::fs::write(out.join("a.txt"), "alpha").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), out.join("escape")).unwrap();
        std::os::unix::fs::symlink("a.txt", out.join("inner-link")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), out.join("up")).unwrap();
        let mode = rustix::fs::Mode::from_raw_mode(0o644);
        rustix::fs::mknodat(rustix::fs::CWD, out.join("fifo"), rustix::fs::FileType::Fifo, mode, 0).unwrap();

        let dir = tree.dir();
        assert_eq!(dir.read("a.txt", 100).unwrap(), b"alpha");
        assert!(matches!(dir.read("a.txt", 2), Err(TreeError::TooLarge { size: 5, .. })));
        assert!(matches!(dir.read("escape", 100), Err(TreeError::NotRegular { kind: "a symlink", .. })));
        assert!(matches!(dir.read("inner-link", 100), Err(TreeError::NotRegular { kind: "a symlink", .. })));
        assert!(matches!(dir.read("up/secret", 100), Err(TreeError::Escapes(_))));
        assert!(matches!(dir.read("fifo", 100), Err(TreeError::NotRegular { kind: "a FIFO", .. })));
        assert!(matches!(dir.read("../secret", 100), Err(TreeError::InvalidPath { .. })));
        assert!(matches!(dir.read("/etc/passwd", 100), Err(TreeError::InvalidPath { .. })));
        assert!(matches!(dir.read("missing", 100), Err(TreeError::NotFound(_))));
        assert_eq!(dir.metadata("escape").unwrap().kind, Kind::Symlink);
        assert!(matches!(dir.list("up"), Err(TreeError::NotRegular { kind: "a symlink", .. })));
    }

    #[test]
    fn writes_replace_planted_links_instead_of_following_them() {
        let (tmp, tree) = tree();
        let out = tmp.path().join("build.x");
        std::os::unix::fs::symlink(tmp.path().join("secret"), out.join("victim")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), out.join("up")).unwrap();
        tree.dir().write("victim", b"mine").unwrap();
        assert_eq!(std::fs::read(tmp.path().join("secret")).unwrap(), b"s");
        assert_eq!(std::fs::read(out.join("victim")).unwrap(), b"mine");
        assert!(!out.join("victim").is_symlink());
        let err = tree.dir().write("up/evil", b"x").unwrap_err();
        assert!(matches!(err, TreeError::InvalidPath { .. }), "{err:?}");
        assert!(!tmp.path().join("evil").exists());
        tree.dir().write("deep/er/file.txt", b"x").unwrap();
        assert_eq!(std::fs::read(out.join("deep/er/file.txt")).unwrap(), b"x");
        assert!(tree.dir().write("", b"x").is_err());
        let leftovers: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".hostbuild-tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_shipped_symlink_or_file_is_never_the_output_tree() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), tmp.path().join("build.a")).unwrap();
        std::fs::write(tmp.path().join("build.b"), "x").unwrap();
        assert!(matches!(OutputTree::open(tmp.path(), "build.a"), Err(OutputTreeError::Symlink { .. })));
        assert!(matches!(OutputTree::open(tmp.path(), "build.b"), Err(OutputTreeError::NotADirectory { .. })));
        let made = OutputTree::open(tmp.path(), "build.c").unwrap();
        assert!(made.host_path().is_dir());
    }
}
