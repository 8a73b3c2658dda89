use super::Level;
use crate::runtime::bindings::log::{Host, Level as WitLevel};
use crate::runtime::HostState;

impl Host for HostState {
    async fn write(&mut self, level: WitLevel, message: String) -> wasmtime::Result<()> {
        let level = match level {
            WitLevel::Debug => Level::Debug,
            WitLevel::Info => Level::Info,
            WitLevel::Warn => Level::Warn,
            WitLevel::Error => Level::Error,
        };
        self.lent.log.line(&self.lent.plugin, level, &message);
        Ok(())
    }

    async fn progress(&mut self, task: String, done: u64, total: Option<u64>) -> wasmtime::Result<()> {
        self.lent.log.progress(&self.lent.plugin, &task, done, total);
        Ok(())
    }
}
