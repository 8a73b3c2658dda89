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

    async fn env_var(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        Ok(self.lent.host_info.env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
    }
}
