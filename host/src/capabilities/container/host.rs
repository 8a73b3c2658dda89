use std::time::Instant;

use super::StepError;
use crate::runtime::bindings::container::{ContainerError, Host, Step, StepOutcome};
use crate::runtime::HostState;

impl Host for HostState {
    async fn run_step(&mut self, step: Step) -> wasmtime::Result<Result<StepOutcome, ContainerError>> {
        let allowed = self.lent.allowed.as_ref();
        if !allowed.is_some_and(|c| c.container) {
            return Ok(Err(ContainerError::Denied(
                "access denied: `container` was not declared by the plugin, or not granted to it".into(),
            )));
        }
        let gpu = allowed.is_some_and(|c| c.gpu);
        if step.gpu.is_some() && !gpu {
            return Ok(Err(ContainerError::Denied(format!(
                "access denied: step `{}` asks for GPUs, but `gpu` was not declared by the plugin, or not granted to it",
                step.name
            ))));
        }
        // An NVIDIA runtime reads these: setting them is asking for GPUs.
        if let Some((name, _)) = step.env.iter().find(|(k, _)| k.starts_with("NVIDIA_")).filter(|_| !gpu) {
            return Ok(Err(ContainerError::Denied(format!(
                "access denied: step `{}` sets {name}, but `gpu` was not declared by the plugin, or not granted to it",
                step.name
            ))));
        }
        let started = Instant::now();
        let backend = self.lent.container.clone();
        let result = backend.run_step(&self.lent.plugin, &step).await;
        self.clock.host_call_ended(started);
        match result {
            Ok(outcome) => Ok(Ok(outcome)),
            // Traps the plugin: its call fails with this error (exit 7).
            Err(StepError::Stopped(stopped)) => Err(wasmtime::Error::new(stopped)),
            Err(StepError::Container(e)) => {
                if let ContainerError::Unavailable(reason) = &e {
                    let hint = "run `hostbuild doctor` to see what is missing and how to start it".to_string();
                    self.unavailable = Some((reason.clone(), hint));
                }
                Ok(Err(e))
            }
        }
    }
}
