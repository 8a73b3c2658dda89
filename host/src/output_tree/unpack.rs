//! An output tree that comes back from another machine (a swarm node's
//! staged copy) as a tar archive: untrusted, like everything steps leave.
//! It replaces the tree's contents through the tree's own handle: entries
//! are relative paths without `..`; directories, regular files (their mode
//! cut to `0o777`: no setuid, setgid or sticky bit) and symlinks (stored as
//! links, never followed) only; a FIFO, device, hard link or anything else
//! stops the unpacking. Files are written to a temporary name and renamed.

use std::io::Read;

use super::{relative, OutputTree, TreeError};

impl OutputTree {
    /// Removes everything inside the tree (not the tree itself).
    pub fn clear(&self) -> Result<(), TreeError> {
        let io = |path: &str, e: std::io::Error| TreeError::Io { path: path.into(), message: e.to_string() };
        for entry in self.inside.dir.entries().map_err(|e| io("", e))? {
            let entry = entry.map_err(|e| io("", e))?;
            let name = entry.file_name();
            let shown = name.to_string_lossy().into_owned();
            let kind = entry.file_type().map_err(|e| io(&shown, e))?;
            if kind.is_dir() {
                self.inside.dir.remove_dir_all(&name).map_err(|e| io(&shown, e))?;
            } else {
                self.inside.dir.remove_file(&name).map_err(|e| io(&shown, e))?;
            }
        }
        Ok(())
    }

    /// Replaces the tree's contents with the archive's (at most `limit`
    /// bytes of file contents in all).
    pub fn unpack(&self, archive: impl Read, limit: u64) -> Result<(), TreeError> {
        self.clear()?;
        let mut archive = tar::Archive::new(archive);
        let bad = |path: &str, problem: String| TreeError::Io { path: path.into(), message: problem };
        let mut total = 0u64;
        for entry in archive.entries().map_err(|e| bad("", e.to_string()))? {
            let mut entry = entry.map_err(|e| bad("", e.to_string()))?;
            let path = entry.path().map_err(|e| bad("", e.to_string()))?.to_string_lossy().into_owned();
            let rel = relative(&path)?;
            if rel.as_os_str().is_empty() {
                continue; // `./` itself
            }
            let shown = rel.to_string_lossy().into_owned();
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                self.inside.dir.create_dir_all(&rel).map_err(|e| bad(&shown, e.to_string()))?;
            } else if kind.is_file() {
                total = total.saturating_add(entry.size());
                if total > limit {
                    return Err(TreeError::TooLarge { path: shown, size: total, limit });
                }
                let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
                let mut new = self.inside.create(&shown)?;
                std::io::copy(&mut entry, new.file()).map_err(|e| bad(&shown, e.to_string()))?;
                use std::os::unix::fs::PermissionsExt;
                new.file()
                    .set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(|e| bad(&shown, e.to_string()))?;
                new.commit()?;
            } else if kind.is_symlink() {
                let target = entry.link_name().map_err(|e| bad(&shown, e.to_string()))?.unwrap_or_default();
                if let Some(parent) = rel.parent().filter(|p| !p.as_os_str().is_empty()) {
                    self.inside.dir.create_dir_all(parent).map_err(|e| bad(&shown, e.to_string()))?;
                }
                self.inside.dir.symlink(target.as_ref(), &rel).map_err(|e| bad(&shown, e.to_string()))?;
            } else {
                return Err(TreeError::NotRegular { path: shown, kind: "not a file, directory or symlink" });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{OutputTree, TreeError};

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    }

    #[test]
    fn unpacks_files_dirs_and_links_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = OutputTree::open(tmp.path(), "build.x").unwrap();
        std::fs::write(tree.host_path().join("stale"), "old").unwrap();
        let good = archive(|b| {
            file(b, "lib/libx.so.1", 0o4755, b"elf");
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_cksum();
            b.append_link(&mut h, "lib/libx.so", "libx.so.1").unwrap();
        });
        tree.unpack(&good[..], 1 << 20).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let out = tree.host_path();
        assert!(!out.join("stale").exists(), "the tree is replaced");
        assert_eq!(std::fs::read(out.join("lib/libx.so.1")).unwrap(), b"elf");
        assert_eq!(std::fs::metadata(out.join("lib/libx.so.1")).unwrap().permissions().mode() & 0o7777, 0o755);
        assert_eq!(std::fs::read_link(out.join("lib/libx.so")).unwrap().to_str(), Some("libx.so.1"));

        let mut escape = tar::Header::new_gnu();
        escape.set_size(1);
        escape.set_entry_type(tar::EntryType::Regular);
        let mut bytes = archive(|_| {});
        bytes.clear();
        // tar::Builder refuses `..`; write the header by hand.
        escape.as_old_mut().name[..9].copy_from_slice(b"../escape");
        escape.set_cksum();
        bytes.extend_from_slice(escape.as_bytes());
        bytes.extend_from_slice(&[b'x'; 512]);
        bytes.extend_from_slice(&[0; 1024]);
        assert!(matches!(tree.unpack(&bytes[..], 1 << 20), Err(TreeError::InvalidPath { .. })));
        assert!(!tmp.path().join("escape").exists());

        let fifo = archive(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Fifo);
            h.set_size(0);
            h.set_cksum();
            b.append_data(&mut h, "pipe", &[][..]).unwrap();
        });
        assert!(matches!(tree.unpack(&fifo[..], 1 << 20), Err(TreeError::NotRegular { .. })));
        let big = archive(|b| file(b, "big", 0o644, &[0; 4096]));
        assert!(matches!(tree.unpack(&big[..], 1000), Err(TreeError::TooLarge { .. })));
    }

    fn link(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, path, target).unwrap();
    }

    /// An archive swapped in the store (its contents are untrusted): a link
    /// out of the tree, then a file or directory through it. The link is
    /// stored, never followed; nothing appears outside.
    #[test]
    fn nothing_is_written_through_a_link_the_archive_planted() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let tree = OutputTree::open(tmp.path(), "build.x").unwrap();
        let target = outside.path().display().to_string();
        for (name, to) in [("abs", target.as_str()), ("up", ".."), ("upup", "../..")] {
            for then in ["file", "dir"] {
                let evil = archive(|b| {
                    link(b, name, to);
                    match then {
                        "file" => file(b, &format!("{name}/pwned"), 0o644, b"x"),
                        _ => {
                            let mut h = tar::Header::new_gnu();
                            h.set_entry_type(tar::EntryType::Directory);
                            h.set_size(0);
                            h.set_mode(0o755);
                            h.set_cksum();
                            b.append_data(&mut h, format!("{name}/made"), &[][..]).unwrap();
                        }
                    }
                });
                assert!(tree.unpack(&evil[..], 1 << 20).is_err(), "{name} -> {to}, then a {then}");
                assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "{name} -> {to}");
                let around: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
                assert_eq!(around, ["build.x"], "{name} -> {to}: written beside the tree");
            }
        }
    }
}
