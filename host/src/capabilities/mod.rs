//! What the host lends a plugin, one folder per WIT interface. Each folder
//! has the binding in `host.rs` (a `XxxCtxView` of what one call may touch,
//! a `XxxView` trait a store's data implements, and an `add_to_linker` that
//! links that interface alone), a backend trait where backends differ, and
//! the backends. Every call goes through the plugin's [`Gate`]: the grant
//! check and host-time accounting.

pub mod artifacts;
pub mod container;
pub mod gate;
pub mod host_info;
pub mod log;
pub mod workspace;

use std::sync::Arc;

pub use gate::Gate;

/// The capability backends and facts lent to one plugin instance.
pub struct Lent {
    /// The plugin's name and what it may use: declared in `describe` and
    /// granted by the project (a plugin file run directly is granted what it
    /// declares). Every host call checks it.
    pub gate: Gate,
    pub log: Arc<dyn log::LogSink>,
    pub host_info: host_info::HostInfo,
    pub workspace: workspace::Workspace,
    pub container: Arc<dyn container::ContainerBackend>,
    pub artifacts: Arc<dyn artifacts::ArtifactStore>,
}

impl Lent {
    /// Nothing but a log: what a plugin gets before it has described itself.
    pub fn minimal(plugin: &str, log: Arc<dyn log::LogSink>) -> Self {
        Self {
            gate: Gate::new(plugin),
            log,
            host_info: host_info::HostInfo::default(),
            workspace: workspace::Workspace::default(),
            container: Arc::new(container::Unavailable),
            artifacts: Arc::new(artifacts::NotConfigured),
        }
    }
}

impl log::LogView for Lent {
    fn log(&mut self) -> log::LogCtxView<'_> {
        log::LogCtxView { sink: &self.log, gate: &mut self.gate }
    }
}

impl host_info::HostInfoView for Lent {
    fn host_info(&mut self) -> host_info::HostInfoCtxView<'_> {
        host_info::HostInfoCtxView { info: &self.host_info, log: &self.log, gate: &mut self.gate }
    }
}

impl workspace::WorkspaceView for Lent {
    fn workspace(&mut self) -> workspace::WorkspaceCtxView<'_> {
        workspace::WorkspaceCtxView { workspace: &self.workspace, gate: &mut self.gate }
    }
}

impl container::ContainerView for Lent {
    fn container(&mut self) -> container::ContainerCtxView<'_> {
        container::ContainerCtxView { backend: &self.container, gate: &mut self.gate }
    }
}

impl artifacts::ArtifactsView for Lent {
    fn artifacts(&mut self) -> artifacts::ArtifactsCtxView<'_> {
        artifacts::ArtifactsCtxView { store: &self.artifacts, gate: &mut self.gate }
    }
}
