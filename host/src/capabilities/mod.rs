//! What the host lends a plugin, one folder per WIT interface: the binding
//! impl in `host.rs`, a backend trait where backends differ, the backends.

pub mod artifacts;
pub mod container;
pub mod host_info;
pub mod log;
pub mod workspace;

use std::sync::Arc;

use crate::runtime::bindings::types::Capabilities;

/// The capability backends and facts lent to one plugin instance.
pub struct Lent {
    /// Name shown in log lines: the file stem until `describe` answers.
    pub plugin: String,
    /// What the plugin may use: declared in `describe` and granted by the
    /// project (a plugin file run directly is granted what it declares).
    /// `None` until then, when every capability but `log` is refused. Every
    /// host call checks it.
    pub allowed: Option<Capabilities>,
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
            plugin: plugin.to_string(),
            allowed: None,
            log,
            host_info: host_info::HostInfo::default(),
            workspace: workspace::Workspace::default(),
            container: Arc::new(container::Unavailable),
            artifacts: Arc::new(artifacts::NotConfigured),
        }
    }
}
