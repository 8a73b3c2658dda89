//! Host directories the user lends a plugin's containers besides the
//! logical volumes (`--mount data=/srv/data`, or `mounts` of the plugin's
//! entry in hostbuild.toml): each appears at `/work/<name>` in every step and
//! shell of that plugin. The plugin never learns the host path.

use std::path::{Path, PathBuf};

/// One lent directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirMount {
    pub name: String,
    pub host: PathBuf,
    pub read_only: bool,
}

/// Names the logical volumes use inside `/work`.
const RESERVED: &[&str] = &["src", "out", "cache", "ccache"];

impl DirMount {
    /// Parses `NAME=DIR` or `NAME=DIR:ro`; a relative DIR is taken from `base`.
    pub fn parse(text: &str, base: &Path) -> Result<DirMount, String> {
        let (name, dir) = text.split_once('=').ok_or_else(|| format!("`{text}` is not NAME=DIR"))?;
        Self::new(name, dir, base)
    }

    /// `name` lends `dir` (`DIR` or `DIR:ro`), relative to `base`.
    pub fn new(name: &str, dir: &str, base: &Path) -> Result<DirMount, String> {
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid || RESERVED.contains(&name) {
            return Err(format!(
                "`{name}` cannot name a mount: use lower-case letters, digits and `-`, not {}",
                RESERVED.join(", ")
            ));
        }
        let (dir, read_only) = match dir.strip_suffix(":ro") {
            Some(d) => (d, true),
            None => (dir, false),
        };
        let host = std::fs::canonicalize(base.join(dir))
            .map_err(|e| format!("mount `{name}`: directory {} cannot be opened: {e}", base.join(dir).display()))?;
        if !host.is_dir() {
            return Err(format!("mount `{name}`: {} is not a directory", host.display()));
        }
        Ok(DirMount { name: name.into(), host, read_only })
    }

    /// Where it appears in the container.
    pub fn target(&self) -> String {
        format!("/work/{}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_dirs_and_ro() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let m = DirMount::parse("data=data:ro", dir.path()).unwrap();
        assert!(m.read_only && m.host.ends_with("data") && m.target() == "/work/data");
        assert!(!DirMount::parse("data=data", dir.path()).unwrap().read_only);
        assert!(DirMount::parse("src=data", dir.path()).unwrap_err().contains("cannot name a mount"));
        assert!(DirMount::parse("Data=data", dir.path()).is_err());
        assert!(DirMount::parse("data", dir.path()).unwrap_err().contains("NAME=DIR"));
        assert!(DirMount::parse("data=missing", dir.path()).unwrap_err().contains("cannot be opened"));
    }
}
