//! `container`: steps run in containers of the plugin's images.
//!
//! The binding (`host.rs`) checks the plugin declared the `container`
//! capability (and `gpu` for GPU requests) at every call, then hands the step
//! to a [`ContainerBackend`]: [`DockerBackend`] on a Docker engine, or
//! [`Unavailable`] before an engine is connected.

pub mod dirs;
mod docker;
pub mod engine;
pub mod hardening;
mod host;
pub mod images;
pub mod lifecycle;
pub mod naming;
pub mod trust;
mod unavailable;

pub use dirs::DirMount;
pub use docker::{container_body, DockerBackend, StepHost, User};
pub use engine::EngineUnreachable;
pub use unavailable::Unavailable;

use crate::runtime::bindings::container::{ContainerError, Step, StepOutcome};

/// Where steps run.
#[async_trait::async_trait]
pub trait ContainerBackend: Send + Sync {
    /// Runs one step to completion; a non-zero exit is an outcome.
    async fn run_step(&self, plugin: &str, step: &Step) -> Result<StepOutcome, ContainerError>;
}

/// The engine could not do what the run needs.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Unreachable(#[from] EngineUnreachable),
    #[error("base image `{image}` is not on this machine (there is no registry to pull it from)")]
    MissingBaseImage { image: String },
    #[error("image `{image}` failed to build: {message}")]
    ImageBuild { image: String, message: String, tail: Vec<String> },
    #[error("image recipe `{image}` is invalid: {reason}")]
    InvalidRecipe { image: String, reason: String },
    #[error("{platform} containers need QEMU user emulation, but the binfmt_misc handler `{handler}` is not enabled")]
    NoEmulation { platform: String, handler: String },
    #[error("plugin `{plugin}` asks for GPUs, but the Docker engine has no NVIDIA runtime (it has: {runtimes})")]
    NoGpuRuntime { plugin: String, runtimes: String },
    #[error("the Docker engine failed: {0}")]
    Api(String),
}

/// The binfmt handler a platform needs on an amd64 host, if any.
pub fn emulation_handler(platform: &str) -> Option<&'static str> {
    match platform.trim_start_matches("linux/") {
        p if p.starts_with("arm64") || p.starts_with("aarch64") => Some("qemu-aarch64"),
        p if p.starts_with("arm") => Some("qemu-arm"),
        _ => None,
    }
}

/// Whether the binfmt_misc handler is registered and enabled.
pub fn binfmt_enabled(handler: &str) -> bool {
    std::fs::read_to_string(std::path::Path::new("/proc/sys/fs/binfmt_misc").join(handler))
        .is_ok_and(|s| s.lines().next() == Some("enabled"))
}
