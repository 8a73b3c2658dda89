//! Where a set lives, in one of two layouts, and the files in it: primary
//! files, `<name>.meta`, `licenses/`, `dependencies/`, and `manifest.json`,
//! written last.
//!
//! - `hostbuild` (the default): `<commit>/<os>/<variant>/<static|dynamic>/`,
//!   as MXNet's artifact-repository README shows it;
//! - `mxnet-cd`: `<commit>/<static|dynamic>/<os>/<variant>/`, what the tool
//!   MXNet's CD pipelines ran (`cd/utils/artifact_repository.py`) writes and
//!   reads. That tool writes each file at `<dir>/<name>` joined once more with
//!   `/` (so `<dir>//libmxnet.so`, `<dir>licenses//LICENSE`), pulls by listing
//!   the directory and downloading every object under it, and writes no
//!   manifest.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub const MANIFEST: &str = "manifest.json";
/// Created first, with create-only semantics: the publisher that creates it
/// is the only one that may write the set.
pub const LOCK: &str = ".publishing";

/// Static or dynamic linkage of a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Linkage {
    Static,
    Dynamic,
}

impl Linkage {
    pub fn as_str(self) -> &'static str {
        match self {
            Linkage::Static => "static",
            Linkage::Dynamic => "dynamic",
        }
    }
}

/// How a repository's keys are laid out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// `<commit>/<os>/<variant>/<static|dynamic>/`.
    #[default]
    Hostbuild,
    /// `<commit>/<static|dynamic>/<os>/<variant>/`.
    MxnetCd,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Hostbuild => "hostbuild",
            Layout::MxnetCd => "mxnet-cd",
        }
    }

    /// The order of a set's directory segments after the commit, for messages.
    pub fn shape(self) -> &'static str {
        match self {
            Layout::Hostbuild => "os/variant/linkage",
            Layout::MxnetCd => "linkage/os/variant",
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Layout {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "hostbuild" => Ok(Layout::Hostbuild),
            "mxnet-cd" => Ok(Layout::MxnetCd),
            other => Err(format!("layout `{other}` is not `hostbuild` or `mxnet-cd`")),
        }
    }
}

/// What names a set of artifacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetId {
    pub commit: String,
    pub os: String,
    pub variant: String,
    pub linkage: Linkage,
}

/// A key segment must be one plain path component.
pub fn check_segment(what: &str, value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value != "."
        && value != ".."
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("{what} `{value}` must be one path segment of letters, digits and . _ - +"))
    }
}

impl SetId {
    pub fn check(&self) -> Result<(), String> {
        check_segment("commit", &self.commit)?;
        check_segment("os", &self.os)?;
        check_segment("variant", &self.variant)
    }

    /// The set's directory key in `layout`, relative to the store's prefix,
    /// with a trailing slash.
    pub fn dir(&self, layout: Layout) -> String {
        let (commit, os, variant, linkage) = (&self.commit, &self.os, &self.variant, self.linkage.as_str());
        match layout {
            Layout::Hostbuild => format!("{commit}/{os}/{variant}/{linkage}/"),
            Layout::MxnetCd => format!("{commit}/{linkage}/{os}/{variant}/"),
        }
    }

    /// The set a key belongs to in `layout`, and the rest of the key after
    /// the set's directory (possibly starting with `/`, as MXNet CD's tool
    /// writes them). `None` for keys that are in no set.
    pub fn of_key(layout: Layout, key: &str) -> Option<(SetId, &str)> {
        let mut parts = key.splitn(5, '/');
        let segments: [&str; 4] = std::array::from_fn(|_| parts.next().unwrap_or(""));
        let rest = parts.next()?;
        let linkage = |s: &str| match s {
            "static" => Some(Linkage::Static),
            "dynamic" => Some(Linkage::Dynamic),
            _ => None,
        };
        let [commit, a, b, c] = segments;
        let id = match layout {
            Layout::Hostbuild => SetId { commit: commit.into(), os: a.into(), variant: b.into(), linkage: linkage(c)? },
            Layout::MxnetCd => SetId { commit: commit.into(), linkage: linkage(a)?, os: b.into(), variant: c.into() },
        };
        id.check().ok()?;
        Some((id, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let id = SetId {
            commit: "abc123".into(),
            os: "debian12".into(),
            variant: "cu121mkl".into(),
            linkage: Linkage::Dynamic,
        };
        assert_eq!(id.dir(Layout::Hostbuild), "abc123/debian12/cu121mkl/dynamic/");
        assert_eq!(id.dir(Layout::MxnetCd), "abc123/dynamic/debian12/cu121mkl/");
        for layout in [Layout::Hostbuild, Layout::MxnetCd] {
            let key = format!("{}licenses//LICENSE", id.dir(layout));
            assert_eq!(SetId::of_key(layout, &key), Some((id.clone(), "licenses//LICENSE")));
            assert_eq!(SetId::of_key(layout, &format!("{}/libmxnet.so", id.dir(layout))).unwrap().1, "/libmxnet.so");
        }
        assert_eq!(SetId::of_key(Layout::MxnetCd, "abc123/debian12/cu121mkl/dynamic/x"), None);
        assert_eq!(SetId::of_key(Layout::MxnetCd, "abc123/dynamic/debian12/cu121mkl"), None);
        assert_eq!(SetId::of_key(Layout::MxnetCd, "abc123/dynamic/../cu121mkl/x"), None);
        assert_eq!("mxnet-cd".parse::<Layout>(), Ok(Layout::MxnetCd));
        assert!("mxnet".parse::<Layout>().is_err());
        assert!(id.check().is_ok());
        assert!(check_segment("os", "../x").is_err());
        assert!(check_segment("variant", "").is_err());
        assert!(check_segment("variant", "a/b").is_err());
    }
}
