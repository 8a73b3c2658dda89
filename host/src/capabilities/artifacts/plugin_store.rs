//! The repository as a plugin sees it: keys under `plugins/<plugin>/`, files
//! relative to its output tree, create-only publishing.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::store::{check_key, ObjectStore, StoreError};
use super::ArtifactStore;
use crate::runtime::bindings::artifacts::StoreError as WitError;

pub struct PluginStore {
    store: Arc<dyn ObjectStore>,
    plugin: String,
    output: PathBuf,
}

impl PluginStore {
    pub fn new(store: Arc<dyn ObjectStore>, plugin: &str, output: PathBuf) -> Self {
        Self { store, plugin: plugin.to_string(), output }
    }

    fn key(&self, key: &str) -> Result<String, WitError> {
        check_key(key).map_err(|_| WitError::Invalid(format!("key `{key}` must be relative, without `..`")))?;
        Ok(format!("plugins/{}/{key}", self.plugin))
    }

    fn file(&self, path: &str) -> Result<PathBuf, WitError> {
        let p = Path::new(path);
        if path.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(WitError::Invalid(format!("path `{path}` must be relative to the output tree, without `..`")));
        }
        Ok(self.output.join(p))
    }
}

fn wit(e: StoreError) -> WitError {
    match e {
        StoreError::NotFound(k) => WitError::NotFound(k),
        StoreError::AlreadyExists(k) => WitError::AlreadyExists(k),
        StoreError::InvalidKey(k) => WitError::Invalid(k),
        // Never a credential: the store's messages name keys and causes only.
        StoreError::Denied(m) | StoreError::Unreachable(m) | StoreError::Io(m) => WitError::Unavailable(m),
    }
}

#[async_trait::async_trait]
impl ArtifactStore for PluginStore {
    async fn exists(&self, key: &str) -> Result<bool, WitError> {
        self.store.exists(&self.key(key)?).await.map_err(wit)
    }

    async fn publish(&self, output_path: &str, key: &str) -> Result<(), WitError> {
        let file = self.file(output_path)?;
        let key = self.key(key)?;
        let file = std::fs::File::open(file).map_err(|e| WitError::Unavailable(e.to_string()))?;
        self.store.put(&key, &file, true).await.map_err(wit)
    }

    async fn fetch(&self, key: &str, output_path: &str) -> Result<(), WitError> {
        let file = self.file(output_path)?;
        let key = self.key(key)?;
        let dir = file.parent().unwrap_or(&self.output);
        std::fs::create_dir_all(dir).map_err(|e| WitError::Unavailable(e.to_string()))?;
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| WitError::Unavailable(e.to_string()))?;
        self.store.get(&key, tmp.as_file()).await.map_err(wit)?;
        tmp.persist(&file).map(drop).map_err(|e| WitError::Unavailable(e.error.to_string()))
    }
}
