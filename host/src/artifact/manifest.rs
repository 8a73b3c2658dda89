//! `manifest.json`: the list of a set's files with their sizes and sha256,
//! written last; a set without one is incomplete by definition.

use serde::{Deserialize, Serialize};

use super::layout::SetId;

/// Which part of the set a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileRole {
    Primary,
    Meta,
    License,
    Dependency,
}

/// One file of a set; `path` is relative to the set's directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub role: FileRole,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version of this file.
    pub format: u32,
    #[serde(flatten)]
    pub id: SetId,
    pub platform: Option<String>,
    /// `name@version` of the plugin that built the set, if one did.
    pub plugin: Option<String>,
    /// RFC 3339 time of publication.
    pub created: String,
    pub files: Vec<FileEntry>,
}

impl Manifest {
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("malformed manifest.json: {e}"))
    }
}
