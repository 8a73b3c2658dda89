//! `container`: steps run in containers of the plugin's images.
//!
//! The binding checks the plugin declared the `container` capability (and
//! `gpu` for GPU requests) at every call, then hands the step to a
//! [`ContainerBackend`].

pub mod engine;
mod host;
mod unavailable;

pub use unavailable::Unavailable;

use crate::runtime::bindings::container::{ContainerError, Step, StepOutcome};

/// Where steps run.
#[async_trait::async_trait]
pub trait ContainerBackend: Send + Sync {
    /// Runs one step to completion; a non-zero exit is an outcome.
    async fn run_step(&self, plugin: &str, step: &Step) -> Result<StepOutcome, ContainerError>;
}
