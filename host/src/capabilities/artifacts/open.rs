//! `--store URL` → a store: `file:///path` or a plain path (the local
//! directory store), `s3://bucket/prefix`.

use std::path::PathBuf;

use super::local::LocalStore;
use super::store::ObjectStore;

/// The default store when neither `--store` nor `HOSTBUILD_STORE` is given.
pub const DEFAULT_STORE: &str = "artifacts";

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("store `{0}` is not a path, a file:// URL or an s3:// URL")]
    Unknown(String),
    #[error("S3 stores (`{0}`) are not supported by this hostbuild yet; use a directory")]
    S3NotYet(String),
}

pub fn open(url: &str) -> Result<Box<dyn ObjectStore>, OpenError> {
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(Box::new(LocalStore::new(PathBuf::from(path))));
    }
    if url.starts_with("s3://") {
        return Err(OpenError::S3NotYet(url.to_string()));
    }
    if url.contains("://") || url.is_empty() {
        return Err(OpenError::Unknown(url.to_string()));
    }
    Ok(Box::new(LocalStore::new(PathBuf::from(url))))
}
