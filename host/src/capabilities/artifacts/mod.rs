//! `artifacts`: the artifact repository, behind [`ArtifactStore`].
//!
//! The binding checks the plugin declared `publish` at every call.

mod host;

pub use host::{add_to_linker, ArtifactsCtxView, ArtifactsView};
pub mod plugin_store;

use crate::runtime::bindings::artifacts::StoreError;

/// An artifact repository as plugins see it: keys relative to its prefix,
/// files relative to the plugin's output tree.
#[async_trait::async_trait]
pub trait ArtifactStore: Send + Sync {
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;
    async fn publish(&self, output_path: &str, key: &str) -> Result<(), StoreError>;
    async fn fetch(&self, key: &str, output_path: &str) -> Result<(), StoreError>;
}

/// No repository configured for this run.
pub struct NotConfigured;

#[async_trait::async_trait]
impl ArtifactStore for NotConfigured {
    async fn exists(&self, _key: &str) -> Result<bool, StoreError> {
        Err(StoreError::NotConfigured)
    }
    async fn publish(&self, _output_path: &str, _key: &str) -> Result<(), StoreError> {
        Err(StoreError::NotConfigured)
    }
    async fn fetch(&self, _key: &str, _output_path: &str) -> Result<(), StoreError> {
        Err(StoreError::NotConfigured)
    }
}
