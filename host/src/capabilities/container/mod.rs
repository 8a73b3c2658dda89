//! `container`: steps run in containers of the plugin's images.
//!
//! The binding (`host.rs`) checks the plugin declared the `container`
//! capability (and `gpu` for GPU requests) at every call, then hands the step
//! to a [`ContainerBackend`]: a [`StepRunner`] on an engine, or
//! [`Unavailable`] before one is connected. The runner turns the step into an
//! engine-neutral [`ContainerSpec`] and runs it on a [`StepEngine`]: the
//! local Docker engine ([`LocalEngine`]) or a Swarm. A step the host stops
//! (over `--step-timeout`) ends the plugin's call: the plugin cannot carry on
//! as if it had merely failed.

pub mod dirs;
pub mod hardening;
mod host;
pub mod local;
pub mod output;
mod runner;
pub mod spec;
mod step;
pub mod swarm;
pub mod trust;
mod unavailable;

pub use dirs::DirMount;
pub use host::{add_to_linker, ContainerCtxView, ContainerView};
pub use local::LocalEngine;
pub use runner::StepRunner;
pub use spec::{ContainerSpec, StepHost, User};
pub use step::{ContainerError, GpuRequest, Mount, Step, StepOutcome, Volume};
pub use unavailable::Unavailable;

/// Where steps run, as the plugin-facing binding sees it.
#[async_trait::async_trait]
pub trait ContainerBackend: Send + Sync {
    /// Runs one step to completion; a non-zero exit is an outcome.
    async fn run_step(&self, plugin: &str, step: &Step) -> Result<StepOutcome, StepError>;
}

/// Why a step gave no outcome.
#[derive(Debug)]
pub enum StepError {
    /// Told to the plugin (the WIT `container-error`), which may handle it.
    Container(ContainerError),
    /// The host stopped the step: the plugin's call ends (a trap) and the run fails.
    Stopped(StepStopped),
}

impl From<ContainerError> for StepError {
    fn from(e: ContainerError) -> Self {
        StepError::Container(e)
    }
}

/// A step ran past its time limit and was stopped and removed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("step `{step}` was stopped: it ran longer than the step timeout of {}", crate::units::Span(*.limit))]
pub struct StepStopped {
    pub step: String,
    pub limit: std::time::Duration,
}

/// An engine that runs step containers: the local Docker engine, a Docker
/// Swarm (services), and in time a Kubernetes cluster (Jobs). One per
/// platform of a run: it knows where that platform's source and output are.
#[async_trait::async_trait]
pub trait StepEngine: Send + Sync {
    /// Runs one step to completion (a non-zero exit is an outcome, not an
    /// error); its output goes to the log as it comes. One over the spec's
    /// timeout is stopped and removed: `StepError::Stopped`.
    async fn run(&self, spec: &ContainerSpec) -> Result<StepOutcome, StepError>;

    /// After the platform's last step: bring what it left home (a staged
    /// output tree) and release what it held. Nothing to do locally.
    async fn finish(&self) -> Result<(), ContainerError> {
        Ok(())
    }
}

/// The container of a step on the local engine, and its platform: public
/// for tests that inspect its shape.
pub fn container_body(
    step: &Step,
    host: &StepHost,
) -> Result<(bollard::models::ContainerCreateBody, String), ContainerError> {
    let spec = ContainerSpec::for_step(step, host)?;
    Ok(local::container_body(&spec, &host.source, &host.output))
}
