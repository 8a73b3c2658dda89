//! `host-info`: facts about the host and the run; environment variables
//! only when the plugin declared them.

mod host;

pub use host::{add_to_linker, HostInfoCtxView, HostInfoView};

/// What `host-info` answers for one plugin.
#[derive(Debug, Clone, Default)]
pub struct HostInfo {
    pub commit: Option<String>,
    /// The declared variables that are set, read once when the run starts.
    pub env: Vec<(String, String)>,
}

impl HostInfo {
    /// Reads from the process environment only the variables in `declared`.
    pub fn from_env(commit: Option<String>, declared: &[String]) -> Self {
        let env = declared.iter().filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v))).collect();
        Self { commit, env }
    }
}
