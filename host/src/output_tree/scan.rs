//! The check of an output tree after a plugin's steps ran: the user is handed
//! regular files, directories and symlinks of their own, nothing else.
//!
//! Steps run as the invoking user with every capability dropped and
//! `no-new-privileges`, so most of what this finds cannot be made; a setuid
//! file of the user's own, or a FIFO, still can. The walk opens each
//! directory without following links and never opens a file.

use std::path::{Path, PathBuf};

use cap_fs_ext::DirExt;
use cap_std::fs::{Dir, MetadataExt};

use super::{kind_name, TreeError};

/// One file the user must not be handed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsafe {
    /// Relative to the output tree.
    pub path: String,
    /// What is wrong, e.g. `setuid`, `a FIFO`, `owned by uid 0, not 4321`.
    pub problem: String,
}

impl std::fmt::Display for Unsafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.path, self.problem)
    }
}

/// Most entries visited; a tree with more is refused rather than walked
/// for ever.
const MAX_ENTRIES: usize = 5_000_000;

pub(super) fn scan(root: &Dir, uid: u32) -> Result<Vec<Unsafe>, TreeError> {
    let mut found = Vec::new();
    let mut visited = 0usize;
    let mut pending: Vec<(PathBuf, Dir)> = vec![(PathBuf::new(), root.try_clone().map_err(|e| io("", e))?)];
    while let Some((rel, dir)) = pending.pop() {
        for entry in dir.entries().map_err(|e| io(&show(&rel), e))? {
            let entry = entry.map_err(|e| io(&show(&rel), e))?;
            visited += 1;
            if visited > MAX_ENTRIES {
                return Err(TreeError::Io {
                    path: String::new(),
                    message: format!("the output tree has more than {MAX_ENTRIES} entries"),
                });
            }
            let name = entry.file_name();
            let path = rel.join(&name);
            let meta = dir.symlink_metadata(&name).map_err(|e| io(&show(&path), e))?;
            let ft = meta.file_type();
            let mut problems = Vec::new();
            if !(ft.is_file() || ft.is_dir() || ft.is_symlink()) {
                problems.push(kind_name(&ft).to_string());
            }
            if !ft.is_symlink() && meta.mode() & 0o4000 != 0 {
                problems.push("setuid".to_string());
            }
            if !ft.is_symlink() && meta.mode() & 0o2000 != 0 && !ft.is_dir() {
                problems.push("setgid".to_string());
            }
            if meta.uid() != uid {
                problems.push(format!("owned by uid {}, not {uid}", meta.uid()));
            }
            if !problems.is_empty() {
                found.push(Unsafe { path: show(&path), problem: problems.join(", ") });
            }
            if ft.is_dir() {
                let sub = dir.open_dir_nofollow(&name).map_err(|e| io(&show(&path), e))?;
                pending.push((path, sub));
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

fn show(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn io(path: &str, e: std::io::Error) -> TreeError {
    TreeError::Io { path: path.to_string(), message: e.to_string() }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::super::OutputTree;

    #[test]
    fn finds_what_the_user_must_not_be_handed() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = OutputTree::open(tmp.path(), "build.x").unwrap();
        let out = tree.host_path().to_path_buf();
        std::fs::create_dir_all(out.join("sub/deeper")).unwrap();
        std::fs::write(out.join("sub/deeper/ok.txt"), "fine").unwrap();
        std::fs::write(out.join("sub/suid"), "x").unwrap();
        std::fs::set_permissions(out.join("sub/suid"), std::fs::Permissions::from_mode(0o4755)).unwrap();
        let mode = rustix::fs::Mode::from_raw_mode(0o644);
        rustix::fs::mknodat(rustix::fs::CWD, out.join("pipe"), rustix::fs::FileType::Fifo, mode, 0).unwrap();
        std::os::unix::fs::symlink("/etc", out.join("link")).unwrap();
        let me = rustix::process::getuid().as_raw();
        let found = tree.scan(me).unwrap();
        let shown: Vec<String> = found.iter().map(|u| u.to_string()).collect();
        assert_eq!(shown, ["pipe (a FIFO)", "sub/suid (setuid)"]);
        // Another owner: everything is.
        assert_eq!(tree.scan(me + 1).unwrap().len(), 6);
    }
}
