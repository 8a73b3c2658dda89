//! `<prefix>/<commit>/<os>/<variant>/<static|dynamic>/` and the files in it:
//! primary files, `<name>.meta`, `licenses/`, `dependencies/`, and
//! `manifest.json`, written last.

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

    /// The set's directory key, relative to the store's prefix, with a
    /// trailing slash.
    pub fn dir(&self) -> String {
        format!("{}/{}/{}/{}/", self.commit, self.os, self.variant, self.linkage.as_str())
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
        assert_eq!(id.dir(), "abc123/debian12/cu121mkl/dynamic/");
        assert!(id.check().is_ok());
        assert!(check_segment("os", "../x").is_err());
        assert!(check_segment("variant", "").is_err());
        assert!(check_segment("variant", "a/b").is_err());
    }
}
