use crate::capabilities::log::Level;
use crate::runtime::bindings::host_info::{Host, Machine};
use crate::runtime::HostState;

impl Host for HostState {
    async fn host(&mut self) -> wasmtime::Result<Machine> {
        Ok(Machine {
            os: std::env::consts::OS.into(),
            arch: std::env::consts::ARCH.into(),
            hostbuild_version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    async fn commit(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.lent.host_info.commit.clone())
    }

    /// Denied (undeclared or ungranted) variables read as unset, and the
    /// denial is logged: the WIT answer has no error case.
    async fn env_var(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        if !self.lent.allowed.as_ref().is_some_and(|c| c.env_vars.contains(&name)) {
            let message = format!(
                "access denied: environment variable {name} was not declared by the plugin, or not granted to it; it reads as unset"
            );
            self.lent.log.line(&self.lent.plugin, Level::Warn, &message);
            return Ok(None);
        }
        Ok(self.lent.host_info.env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
    }
}
