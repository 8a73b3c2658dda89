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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::project::config::Project;

    #[test]
    fn reads_the_engine_table_and_refuses_unknown_keys_and_bad_values() {
        let p: Project =
            toml::from_str("[engine]\nmemory = \"8G\"\npids-limit = 2048\nstep-timeout = \"2h\"\n").unwrap();
        assert_eq!(p.engine.memory().unwrap().map(|m| m.bytes()), Some(8 << 30));
        assert_eq!(p.engine.pids_limit, Some(2048));
        assert_eq!(p.engine.step_timeout().unwrap().map(|s| s.0), Some(Duration::from_secs(7200)));
        let none: Project = toml::from_str("").unwrap();
        assert_eq!((none.engine.memory(), none.engine.step_timeout()), (Ok(None), Ok(None)));

        let err = toml::from_str::<Project>("[engine]\nmemroy = \"8G\"\n").unwrap_err().to_string();
        assert!(err.contains("unknown field `memroy`"), "{err}");
        let p: Project = toml::from_str("[engine]\nmemory = \"lots\"\nstep-timeout = \"soon\"\n").unwrap();
        assert!(p.engine.memory().unwrap_err().starts_with("engine.memory: "));
        assert!(p.engine.step_timeout().unwrap_err().contains("write e.g. 90s, 30m, 2h or 1d"));
    }
}
