//! The container capability's backend on an engine: each step the plugin
//! asks for becomes a [`ContainerSpec`] (the policy every engine shares)
//! and runs on the [`StepEngine`] of the run (local Docker or Swarm).

use std::sync::Arc;

use super::spec::{ContainerSpec, StepHost};
use super::{ContainerBackend, StepEngine, StepError};
use crate::capabilities::container::{Step, StepOutcome};
use crate::capabilities::log::{Level, LogSink};

pub struct StepRunner {
    engine: Arc<dyn StepEngine>,
    host: StepHost,
    log: Arc<dyn LogSink>,
}

impl StepRunner {
    pub fn new(engine: Arc<dyn StepEngine>, host: StepHost, log: Arc<dyn LogSink>) -> Self {
        Self { engine, host, log }
    }
}

#[async_trait::async_trait]
impl ContainerBackend for StepRunner {
    async fn run_step(&self, _plugin: &str, step: &Step) -> Result<StepOutcome, StepError> {
        let spec = ContainerSpec::for_step(step, &self.host)?;
        self.log.line(&self.host.plugin, Level::Info, &format!("step `{}`: {}", step.name, step.argv.join(" ")));
        if let (Some(gpu), false) = (&step.gpu, self.host.gpu) {
            let count = gpu.count.map_or("all GPUs".to_string(), |n| format!("{n} GPU(s)"));
            let caps = if gpu.capabilities.is_empty() { "compute,utility".into() } else { gpu.capabilities.join(",") };
            let message = format!("step `{}` asks for {count} ({caps}); not passed: --no-gpu", step.name);
            self.log.line(&self.host.plugin, Level::Warn, &message);
        }
        self.engine.run(&spec).await
    }
}
