//! `[engine]` in hostbuild.toml: how the project's containers run. Every key
//! has a command-line flag that wins over it.
//!
//! ```toml
//! [engine]
//! memory = "8G"          # each container's memory limit (--memory)
//! pids-limit = 4096      # each container's process limit (--pids-limit)
//! step-timeout = "2h"    # longest a step may run (--step-timeout)
//! ca-bundle = "/etc/ssl/certs/ca-certificates.crt"  # lent to every image (--ca-bundle)
//! kind = "swarm"         # where steps run: local or swarm (--engine)
//! registry = "127.0.0.1:5000"       # the swarm's registry (--registry)
//! constraints = ["node.labels.pool==ci"]  # swarm placement (--constraint)
//! staging = "always"     # stage files through the store even on the manager
//! pending-timeout = "60s"  # longest a step may wait for a swarm node
//! ```

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::units::{Size, Span};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EngineConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_timeout: Option<String>,
    /// Relative to the project file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<crate::cli::EngineKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// `auto` (the default) or `always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_timeout: Option<String>,
}

impl EngineConfig {
    pub fn memory(&self) -> Result<Option<Size>, String> {
        self.memory.as_deref().map(|m| m.parse::<Size>().map_err(|e| format!("engine.memory: {e}"))).transpose()
    }

    pub fn pending_timeout(&self) -> Result<Option<Span>, String> {
        self.pending_timeout
            .as_deref()
            .map(|t| t.parse::<Span>().map_err(|e| format!("engine.pending-timeout: {e}")))
            .transpose()
    }

    pub fn registry(&self) -> Result<Option<crate::capabilities::container::swarm::Registry>, String> {
        self.registry.as_deref().map(|r| r.parse().map_err(|e| format!("engine.registry: {e}"))).transpose()
    }

    pub fn always_stage(&self) -> Result<bool, String> {
        match self.staging.as_deref() {
            None | Some("auto") => Ok(false),
            Some("always") => Ok(true),
            Some(other) => Err(format!("engine.staging: `{other}` is not auto or always")),
        }
    }

    pub fn step_timeout(&self) -> Result<Option<Span>, String> {
        self.step_timeout
            .as_deref()
            .map(|t| t.parse::<Span>().map_err(|e| format!("engine.step-timeout: {e}")))
            .transpose()
    }
}
