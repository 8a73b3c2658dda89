//! `[engine]` in hostbuild.toml: how the project's containers run. Every key
//! has a command-line flag that wins over it.
//!
//! ```toml
//! [engine]
//! memory = "8G"          # each container's memory limit (--memory)
//! pids-limit = 4096      # each container's process limit (--pids-limit)
//! step-timeout = "2h"    # longest a step may run (--step-timeout)
//! ca-bundle = "/etc/ssl/certs/ca-certificates.crt"  # lent to every image (--ca-bundle)
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
}

impl EngineConfig {
    pub fn memory(&self) -> Result<Option<Size>, String> {
        self.memory.as_deref().map(|m| m.parse::<Size>().map_err(|e| format!("engine.memory: {e}"))).transpose()
    }

    pub fn step_timeout(&self) -> Result<Option<Span>, String> {
        self.step_timeout
            .as_deref()
            .map(|t| t.parse::<Span>().map_err(|e| format!("engine.step-timeout: {e}")))
            .transpose()
    }
}
