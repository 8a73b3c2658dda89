//! The repository as a plugin sees it: keys under `plugins/<plugin key>/`
//! (the plugin's name and identity, so a same-named plugin from elsewhere
//! never reads or overwrites its objects), files relative to its output
//! tree and reached only through [`OutputTree`], create-only publishing.
//! Errors it sees name keys and relative paths, never host paths.

use std::sync::Arc;

use super::{ArtifactError, ArtifactStore};
use crate::output_tree::{OutputTree, TreeError};
use crate::store::{check_key, ObjectStore, StoreError};

pub struct PluginStore {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    output: Arc<OutputTree>,
    /// Largest file published or fetched.
    limit: u64,
}

impl PluginStore {
    /// `plugin_key` names the plugin and its identity (see
    /// `docker::naming::plugin_key`).
    pub fn new(store: Arc<dyn ObjectStore>, plugin_key: &str, output: Arc<OutputTree>, limit: u64) -> Self {
        Self { store, prefix: format!("plugins/{plugin_key}/"), output, limit }
    }

    fn key(&self, key: &str) -> Result<String, ArtifactError> {
        check_key(key).map_err(|_| ArtifactError::Invalid(format!("key `{key}` must be relative, without `..`")))?;
        Ok(format!("{}{key}", self.prefix))
    }
}

fn told(e: StoreError) -> ArtifactError {
    match e {
        StoreError::NotFound(k) => ArtifactError::NotFound(k),
        StoreError::AlreadyExists(k) => ArtifactError::AlreadyExists(k),
        StoreError::InvalidKey(k) => ArtifactError::Invalid(k),
        e @ (StoreError::TooLarge { .. } | StoreError::Refused { .. }) => ArtifactError::Invalid(e.to_string()),
        // Never a credential or host path: the store's messages name keys
        // and causes only.
        StoreError::Denied(m) | StoreError::Unreachable(m) | StoreError::Io(m) => ArtifactError::Unavailable(m),
    }
}

fn tree(e: TreeError) -> ArtifactError {
    match e {
        TreeError::NotFound(path) => ArtifactError::NotFound(path),
        TreeError::Io { .. } => ArtifactError::Unavailable(e.to_string()),
        other => ArtifactError::Invalid(other.to_string()),
    }
}

/// Runs file work of the output tree on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ArtifactError> + Send + 'static,
) -> Result<T, ArtifactError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ArtifactError::Unavailable(format!("file task failed: {e}")))?
}

#[async_trait::async_trait]
impl ArtifactStore for PluginStore {
    async fn exists(&self, key: &str) -> Result<bool, ArtifactError> {
        self.store.exists(&self.key(key)?).await.map_err(told)
    }

    async fn publish(&self, output_path: &str, key: &str) -> Result<(), ArtifactError> {
        let key = self.key(key)?;
        let (output, path, limit) = (self.output.clone(), output_path.to_string(), self.limit);
        let (file, _) = blocking(move || output.dir().open_regular(&path, limit).map_err(tree)).await?;
        self.store.put(&key, &file, true).await.map_err(told)
    }

    async fn fetch(&self, key: &str, output_path: &str) -> Result<(), ArtifactError> {
        let key = self.key(key)?;
        let (output, path) = (self.output.clone(), output_path.to_string());
        let mut new = blocking(move || output.dir().create(&path).map_err(tree)).await?;
        let got = self.store.get(&key, new.file(), self.limit).await.map_err(told)?;
        if got.size > self.limit {
            return Err(ArtifactError::Invalid(format!("object `{key}` is larger than {} bytes", self.limit)));
        }
        blocking(move || new.commit().map_err(tree)).await
    }
}
