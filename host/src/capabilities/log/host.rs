//! The `log` binding: any plugin may log, from its first call on.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use super::{Level, LogSink};
use crate::capabilities::gate::Gate;
use crate::runtime::bindings::log::{self as wit, Host, Level as WitLevel};

/// What a `log` call sees: where lines go, and the gate (for the plugin's
/// name).
pub struct LogCtxView<'a> {
    pub sink: &'a Arc<dyn LogSink>,
    pub gate: &'a mut Gate,
}

/// A store's data that lends `log`.
pub trait LogView: Send {
    fn log(&mut self) -> LogCtxView<'_>;
}

struct HasLog;

impl HasData for HasLog {
    type Data<'a> = LogCtxView<'a>;
}

/// Links `hostbuild:platform/log` alone.
pub fn add_to_linker<T: LogView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasLog>(linker, T::log)
}

impl Host for LogCtxView<'_> {
    async fn write(&mut self, level: WitLevel, message: String) -> wasmtime::Result<()> {
        let level = match level {
            WitLevel::Debug => Level::Debug,
            WitLevel::Info => Level::Info,
            WitLevel::Warn => Level::Warn,
            WitLevel::Error => Level::Error,
        };
        self.sink.line(self.gate.plugin(), level, &message);
        Ok(())
    }

    async fn progress(&mut self, task: String, done: u64, total: Option<u64>) -> wasmtime::Result<()> {
        self.sink.progress(self.gate.plugin(), &task, done, total);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::log::Recorded;

    struct Alone {
        sink: Arc<dyn LogSink>,
        gate: Gate,
    }

    impl LogView for Alone {
        fn log(&mut self) -> LogCtxView<'_> {
            LogCtxView { sink: &self.sink, gate: &mut self.gate }
        }
    }

    #[tokio::test]
    async fn links_alone_and_logs_under_the_plugins_name_before_any_grant() {
        let mut linker = Linker::<Alone>::new(crate::runtime::engine());
        add_to_linker(&mut linker).unwrap();
        let recorded = Arc::new(Recorded::default());
        let mut alone = Alone { sink: recorded.clone(), gate: Gate::new("armv7") };
        alone.log().write(WitLevel::Warn, "careful".into()).await.unwrap();
        alone.log().progress("compile".into(), 3, Some(9)).await.unwrap();
        assert_eq!(*recorded.0.lock().unwrap(), ["armv7 Warn careful", "armv7 compile 3/Some(9)"]);
    }
}
