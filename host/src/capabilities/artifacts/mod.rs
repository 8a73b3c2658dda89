//! `artifacts`: the artifact repository, behind [`ArtifactStore`].
//!
//! The binding checks the plugin declared `publish` at every call.

mod host;

pub use host::{add_to_linker, ArtifactsCtxView, ArtifactsView};
pub mod plugin_store;

/// Why a repository operation failed, as the plugin is told (the WIT
/// `store-error` cases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactError {
    /// No repository is configured for this run.
    NotConfigured,
    /// `publish` was not declared or not granted.
    Denied(String),
    NotFound(String),
    AlreadyExists(String),
    /// The repository could not be reached or refused the request.
    Unavailable(String),
    /// The key or path is malformed.
    Invalid(String),
}

/// An artifact repository as plugins see it: keys relative to its prefix,
/// files relative to the plugin's output tree.
#[async_trait::async_trait]
pub trait ArtifactStore: Send + Sync {
    async fn exists(&self, key: &str) -> Result<bool, ArtifactError>;
    async fn publish(&self, output_path: &str, key: &str) -> Result<(), ArtifactError>;
    async fn fetch(&self, key: &str, output_path: &str) -> Result<(), ArtifactError>;
}

/// No repository configured for this run.
pub struct NotConfigured;

#[async_trait::async_trait]
impl ArtifactStore for NotConfigured {
    async fn exists(&self, _key: &str) -> Result<bool, ArtifactError> {
        Err(ArtifactError::NotConfigured)
    }
    async fn publish(&self, _output_path: &str, _key: &str) -> Result<(), ArtifactError> {
        Err(ArtifactError::NotConfigured)
    }
    async fn fetch(&self, _key: &str, _output_path: &str) -> Result<(), ArtifactError> {
        Err(ArtifactError::NotConfigured)
    }
}
