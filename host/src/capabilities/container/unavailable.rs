use super::{ContainerBackend, StepError};
use crate::capabilities::container::{ContainerError, Step, StepOutcome};

/// The backend of a host with no container engine: every step is refused
/// with `unavailable`, which plugins report and the CLI turns into exit 8.
pub struct Unavailable;

#[async_trait::async_trait]
impl ContainerBackend for Unavailable {
    async fn run_step(&self, _plugin: &str, step: &Step) -> Result<StepOutcome, StepError> {
        Err(StepError::Container(ContainerError::Unavailable(format!(
            "cannot run step `{}`: this hostbuild has no container engine connected",
            step.name
        ))))
    }
}
