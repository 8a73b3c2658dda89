//! The `host-info` binding: machine facts and the commit for anyone;
//! environment variables only when declared and granted.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use super::HostInfo;
use crate::capabilities::gate::Gate;
use crate::capabilities::log::{Level, LogSink};
use crate::project::grants::Grant;
use crate::runtime::bindings::host_info::{self as wit, Host, Machine};

/// What a `host-info` call sees: the facts, the log (denials are logged:
/// the WIT answer has no error case) and the gate.
pub struct HostInfoCtxView<'a> {
    pub info: &'a HostInfo,
    pub log: &'a Arc<dyn LogSink>,
    pub gate: &'a mut Gate,
}

/// A store's data that lends `host-info`.
pub trait HostInfoView: Send {
    fn host_info(&mut self) -> HostInfoCtxView<'_>;
}

struct HasHostInfo;

impl HasData for HasHostInfo {
    type Data<'a> = HostInfoCtxView<'a>;
}

/// Links `hostbuild:platform/host-info` alone.
pub fn add_to_linker<T: HostInfoView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasHostInfo>(linker, T::host_info)
}

impl Host for HostInfoCtxView<'_> {
    async fn host(&mut self) -> wasmtime::Result<Machine> {
        Ok(Machine {
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            hostbuild_version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    async fn commit(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.info.commit.clone())
    }

    /// Denied (undeclared or ungranted) variables read as unset, and the
    /// denial is logged.
    async fn env_var(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        if !self.gate.permits(&Grant::Env(name.clone())) {
            let message = format!(
                "access denied: environment variable {name} was not declared by the plugin, or not granted to it; it reads as unset"
            );
            self.log.line(self.gate.plugin(), Level::Warn, &message);
            return Ok(None);
        }
        Ok(self.info.env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::log::Recorded;
    use crate::model::Capabilities;

    struct Alone {
        info: HostInfo,
        log: Arc<dyn LogSink>,
        gate: Gate,
    }

    impl HostInfoView for Alone {
        fn host_info(&mut self) -> HostInfoCtxView<'_> {
            HostInfoCtxView { info: &self.info, log: &self.log, gate: &mut self.gate }
        }
    }

    #[tokio::test]
    async fn links_alone_and_reads_only_granted_variables() {
        let mut linker = Linker::<Alone>::new(crate::runtime::engine());
        add_to_linker(&mut linker).unwrap();
        let recorded = Arc::new(Recorded::default());
        let env = vec![("CI".to_string(), "1".to_string()), ("TOKEN".to_string(), "secret".to_string())];
        let info = HostInfo { commit: Some("abc".into()), env };
        let mut alone = Alone { info, log: recorded.clone(), gate: Gate::new("p") };
        assert_eq!(alone.host_info().commit().await.unwrap().as_deref(), Some("abc"));
        assert_eq!(alone.host_info().env_var("CI".into()).await.unwrap(), None, "nothing before it is allowed");
        alone.gate.allow(Capabilities { env_vars: vec!["CI".into()], ..Capabilities::default() });
        assert_eq!(alone.host_info().env_var("CI".into()).await.unwrap().as_deref(), Some("1"));
        assert_eq!(alone.host_info().env_var("TOKEN".into()).await.unwrap(), None);
        let lines = recorded.0.lock().unwrap();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.starts_with("p Warn access denied")), "{lines:?}");
    }
}
