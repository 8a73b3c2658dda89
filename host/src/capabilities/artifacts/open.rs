//! `--store URL` → a store: `file:///path` or a plain path (the local
//! directory store), `s3://bucket/prefix` (S3 or an S3-compatible server).

use std::path::PathBuf;
use std::sync::Arc;

use super::local::LocalStore;
use super::s3::S3Store;
use super::store::{ObjectStore, StoreError};

/// The default store when neither `--store` nor `HOSTBUILD_STORE` is given.
pub const DEFAULT_STORE: &str = "artifacts";

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("store `{0}` is not a path, a file:// URL or an s3://bucket/prefix URL")]
    Unknown(String),
    #[error("cannot use the store {url}")]
    Connect {
        url: String,
        #[source]
        source: StoreError,
    },
}

pub async fn open(url: &str) -> Result<Arc<dyn ObjectStore>, OpenError> {
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(Arc::new(LocalStore::new(PathBuf::from(path))));
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(OpenError::Unknown(url.to_string()));
        }
        let store =
            S3Store::connect(bucket, prefix).await.map_err(|source| OpenError::Connect { url: url.into(), source })?;
        return Ok(Arc::new(store));
    }
    if url.contains("://") || url.is_empty() {
        return Err(OpenError::Unknown(url.to_string()));
    }
    Ok(Arc::new(LocalStore::new(PathBuf::from(url))))
}
