//! `--store URL` → a store: `file:///path` or a plain path (the local
//! directory store), `s3://bucket/prefix` (S3 or an S3-compatible server),
//! with the repository's layout and the transfer settings.

use std::path::PathBuf;
use std::sync::Arc;

use super::local::LocalStore;
use super::s3::S3Store;
use super::{ObjectStore, StoreError, Transfer};
use crate::artifact::layout::Layout;
use crate::project::config::StoreTable;

/// The default store when neither `--store`, `HOSTBUILD_STORE` nor
/// `[store] url` is given.
pub const DEFAULT_STORE: &str = "artifacts";

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("store `{0}` is not a path, a file:// URL or an s3://bucket/prefix URL")]
    Unknown(String),
    #[error("[store] in hostbuild.toml: {0}")]
    Invalid(String),
    #[error("cannot use the store {url}")]
    Connect {
        url: String,
        #[source]
        source: StoreError,
    },
}

/// Where the repository is, its layout, and how large files move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    pub url: String,
    pub layout: Layout,
    pub transfer: Transfer,
}

impl StoreSettings {
    /// The command line's choices (flags, or their environment variables)
    /// over the project's `[store]` table, over the defaults.
    pub fn resolve(url: Option<String>, layout: Option<Layout>, table: Option<&StoreTable>) -> Result<Self, OpenError> {
        let table = table.cloned().unwrap_or_default();
        let mut transfer = Transfer::default();
        if let Some(n) = table.concurrency {
            transfer.concurrency = n;
        }
        if let Some(size) = &table.part_size {
            transfer.part_size = size.bytes().map_err(OpenError::Invalid)?;
        }
        Ok(Self {
            url: url.or(table.url).unwrap_or_else(|| DEFAULT_STORE.into()),
            layout: layout.or(table.layout).unwrap_or_default(),
            transfer: transfer.check().map_err(OpenError::Invalid)?,
        })
    }
}

/// The store at `url`, in the default layout with the default transfer
/// settings.
pub async fn open(url: &str) -> Result<Arc<dyn ObjectStore>, OpenError> {
    open_with(&StoreSettings { url: url.into(), layout: Layout::default(), transfer: Transfer::default() }).await
}

pub async fn open_with(settings: &StoreSettings) -> Result<Arc<dyn ObjectStore>, OpenError> {
    let url = settings.url.as_str();
    if let Some(path) = url.strip_prefix("file://") {
        return Ok(Arc::new(LocalStore::new(PathBuf::from(path), settings.layout)));
    }
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(OpenError::Unknown(url.to_string()));
        }
        let store = S3Store::connect(bucket, prefix, settings.transfer, settings.layout)
            .await
            .map_err(|source| OpenError::Connect { url: url.into(), source })?;
        return Ok(Arc::new(store));
    }
    if url.contains("://") || url.is_empty() {
        return Err(OpenError::Unknown(url.to_string()));
    }
    Ok(Arc::new(LocalStore::new(PathBuf::from(url), settings.layout)))
}

impl crate::diagnostics::Diagnose for OpenError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        match self {
            OpenError::Unknown(_) => {
                (ExitStatus::Usage, Some("pass --store DIR, --store file:///DIR or --store s3://BUCKET/PREFIX".into()))
            }
            OpenError::Invalid(_) => (ExitStatus::Usage, Some("part-size is 5M..5G, concurrency 1..64".into())),
            OpenError::Connect { source, .. } => source.diagnose(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::config::SizeValue;

    #[test]
    fn flags_win_over_the_project_over_defaults() {
        let d = StoreSettings::resolve(None, None, None).unwrap();
        assert_eq!((d.url.as_str(), d.layout, d.transfer), (DEFAULT_STORE, Layout::Hostbuild, Transfer::default()));
        let table = StoreTable {
            url: Some("s3://b/p".into()),
            layout: Some(Layout::MxnetCd),
            concurrency: Some(3),
            part_size: Some(SizeValue::Text("16M".into())),
        };
        let t = StoreSettings::resolve(None, None, Some(&table)).unwrap();
        assert_eq!((t.url.as_str(), t.layout), ("s3://b/p", Layout::MxnetCd));
        assert_eq!(t.transfer, Transfer { concurrency: 3, part_size: 16 << 20 });
        let f = StoreSettings::resolve(Some("dir".into()), Some(Layout::Hostbuild), Some(&table)).unwrap();
        assert_eq!((f.url.as_str(), f.layout), ("dir", Layout::Hostbuild));
        let small = StoreTable { part_size: Some(SizeValue::Bytes(1024)), ..Default::default() };
        assert!(matches!(StoreSettings::resolve(None, None, Some(&small)), Err(OpenError::Invalid(_))));
        let none = StoreTable { concurrency: Some(0), ..Default::default() };
        assert!(matches!(StoreSettings::resolve(None, None, Some(&none)), Err(OpenError::Invalid(_))));
    }
}
