//! The `container` binding: `container` (and `gpu` for GPU requests) is
//! checked at every call, then the step goes to the [`ContainerBackend`].

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use super::step::{ContainerError, GpuRequest, Mount, Step, StepOutcome, Volume};
use super::{ContainerBackend, StepError};
use crate::capabilities::gate::Gate;
use crate::project::grants::Grant;
use crate::runtime::bindings::container::{self as wit, Host};

/// What a `container` call sees: where steps run, and the gate.
pub struct ContainerCtxView<'a> {
    pub backend: &'a Arc<dyn ContainerBackend>,
    pub gate: &'a mut Gate,
}

/// A store's data that lends `container`.
pub trait ContainerView: Send {
    fn container(&mut self) -> ContainerCtxView<'_>;
}

struct HasContainer;

impl HasData for HasContainer {
    type Data<'a> = ContainerCtxView<'a>;
}

/// Links `hostbuild:platform/container` alone.
pub fn add_to_linker<T: ContainerView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasContainer>(linker, T::container)
}

impl ContainerCtxView<'_> {
    /// Refuses a step that asks for more than the plugin may use.
    fn check(&self, step: &Step) -> Result<(), ContainerError> {
        self.gate.require(&Grant::Container).map_err(ContainerError::Denied)?;
        let gpu = self.gate.permits(&Grant::Gpu);
        if step.gpu.is_some() && !gpu {
            return Err(ContainerError::Denied(format!(
                "access denied: step `{}` asks for GPUs, but `gpu` was not declared by the plugin, or not granted to it",
                step.name
            )));
        }
        // An NVIDIA runtime reads these: setting them is asking for GPUs.
        if let Some((name, _)) = step.env.iter().find(|(k, _)| k.starts_with("NVIDIA_")).filter(|_| !gpu) {
            return Err(ContainerError::Denied(format!(
                "access denied: step `{}` sets {name}, but `gpu` was not declared by the plugin, or not granted to it",
                step.name
            )));
        }
        Ok(())
    }
}

/// The step the plugin sent, as the host's own.
fn host_step(s: wit::Step) -> Step {
    let volume = |v| match v {
        wit::Volume::Source => Volume::Source,
        wit::Volume::Output => Volume::Output,
        wit::Volume::Cache => Volume::Cache,
    };
    Step {
        name: s.name,
        image: s.image,
        argv: s.argv,
        env: s.env,
        workdir: s.workdir,
        mounts: s.mounts.into_iter().map(|m| Mount { volume: volume(m.volume), target: m.target }).collect(),
        gpu: s.gpu.map(|g| GpuRequest { count: g.count, capabilities: g.capabilities }),
    }
}

fn wit_outcome(o: StepOutcome) -> wit::StepOutcome {
    wit::StepOutcome { exit_code: o.exit_code, tail: o.tail, duration_ms: o.duration_ms }
}

fn wit_error(e: ContainerError) -> wit::ContainerError {
    match e {
        ContainerError::Unavailable(m) => wit::ContainerError::Unavailable(m),
        ContainerError::Denied(m) => wit::ContainerError::Denied(m),
        ContainerError::UnknownImage(m) => wit::ContainerError::UnknownImage(m),
        ContainerError::InvalidStep(m) => wit::ContainerError::InvalidStep(m),
        ContainerError::Failed(m) => wit::ContainerError::Failed(m),
    }
}

impl Host for ContainerCtxView<'_> {
    async fn run_step(&mut self, step: wit::Step) -> wasmtime::Result<Result<wit::StepOutcome, wit::ContainerError>> {
        Ok(self.run(host_step(step)).await?.map(wit_outcome).map_err(wit_error))
    }
}

impl ContainerCtxView<'_> {
    /// Runs a step the plugin may run; a step the host stopped traps the
    /// plugin (`Err`).
    async fn run(&mut self, step: Step) -> wasmtime::Result<Result<StepOutcome, ContainerError>> {
        if let Err(e) = self.check(&step) {
            return Ok(Err(e));
        }
        let backend = self.backend.clone();
        let plugin = self.gate.plugin().to_string();
        match self.gate.timed(backend.run_step(&plugin, &step)).await {
            Ok(outcome) => Ok(Ok(outcome)),
            // Traps the plugin: its call fails with this error (exit 7).
            Err(StepError::Stopped(stopped)) => Err(wasmtime::Error::new(stopped)),
            Err(StepError::Container(e)) => {
                if let ContainerError::Unavailable(reason) = &e {
                    let hint = "run `hostbuild doctor` to see what is missing and how to start it";
                    self.gate.set_unavailable(reason, hint);
                }
                Ok(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::Capabilities;

    /// Answers every step with exit 3 after 10 ms, or with `Unavailable`.
    struct Fake {
        unavailable: bool,
    }

    #[async_trait::async_trait]
    impl ContainerBackend for Fake {
        async fn run_step(&self, plugin: &str, step: &Step) -> Result<StepOutcome, StepError> {
            if self.unavailable {
                return Err(ContainerError::Unavailable("no engine".into()).into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(StepOutcome { exit_code: 3, tail: vec![format!("{plugin} ran {}", step.name)], duration_ms: 10 })
        }
    }

    struct Alone {
        backend: Arc<dyn ContainerBackend>,
        gate: Gate,
    }

    impl ContainerView for Alone {
        fn container(&mut self) -> ContainerCtxView<'_> {
            ContainerCtxView { backend: &self.backend, gate: &mut self.gate }
        }
    }

    fn step() -> Step {
        Step {
            name: "build".into(),
            image: "env".into(),
            argv: vec!["make".into()],
            env: vec![],
            workdir: None,
            mounts: vec![],
            gpu: None,
        }
    }

    fn containers(gpu: bool) -> Capabilities {
        Capabilities { container: true, gpu, ..Capabilities::default() }
    }

    #[tokio::test]
    async fn links_alone_and_runs_only_what_is_granted() {
        let mut linker = Linker::<Alone>::new(crate::runtime::engine());
        add_to_linker(&mut linker).unwrap();
        let mut alone = Alone { backend: Arc::new(Fake { unavailable: false }), gate: Gate::new("p") };
        let denied = alone.container().run(step()).await.unwrap();
        assert_eq!(denied, Err(ContainerError::Denied(Grant::Container.denied())));

        alone.gate.allow(containers(false));
        let ran = alone.container().run(step()).await.unwrap().unwrap();
        assert_eq!((ran.exit_code, ran.tail[0].as_str()), (3, "p ran build"));
        assert!(alone.gate.host_time() >= Duration::from_millis(10), "the step's time is host time");

        let gpu = Step { gpu: Some(GpuRequest { count: None, capabilities: vec![] }), ..step() };
        assert!(matches!(alone.container().run(gpu.clone()).await.unwrap(), Err(ContainerError::Denied(_))));
        let nvidia = Step { env: vec![("NVIDIA_VISIBLE_DEVICES".into(), "all".into())], ..step() };
        assert!(matches!(alone.container().run(nvidia).await.unwrap(), Err(ContainerError::Denied(_))));
        alone.gate.allow(containers(true));
        assert!(alone.container().run(gpu).await.unwrap().is_ok());
    }

    #[tokio::test]
    async fn an_unavailable_engine_is_noted_for_the_failure_report() {
        let mut alone = Alone { backend: Arc::new(Fake { unavailable: true }), gate: Gate::new("p") };
        alone.gate.allow(containers(false));
        assert!(matches!(alone.container().run(step()).await.unwrap(), Err(ContainerError::Unavailable(_))));
        assert_eq!(alone.gate.take_unavailable().map(|u| u.reason).as_deref(), Some("no engine"));
    }
}
