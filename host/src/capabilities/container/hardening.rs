//! What every container hostbuild starts gets, whatever the plugin's image or
//! step asks: `no-new-privileges` (a setuid binary in the image gives no
//! privilege), every capability dropped (no `mknod`, no `chown` to others, no
//! raw sockets), a process limit (a fork bomb stops at it) and a memory limit
//! with no extra swap (a memory hog is killed at it, not the host).
//!
//! The defaults: memory 3/4 of this machine's RAM (leaving the host and
//! hostbuild room even when one step takes all it may), 4096 processes.
//! `--memory`/`--pids-limit` and `[engine]` in hostbuild.toml change them.

use bollard::models::HostConfig;

/// The limits of one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerLimits {
    pub memory_bytes: u64,
    pub pids: i64,
}

/// Processes a container may have by default.
pub const DEFAULT_PIDS: i64 = 4096;

impl Default for ContainerLimits {
    fn default() -> Self {
        Self { memory_bytes: default_memory(), pids: DEFAULT_PIDS }
    }
}

/// 3/4 of MemTotal, or 8 GiB when /proc/meminfo cannot be read.
fn default_memory() -> u64 {
    let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        text.lines().find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
    });
    total.map(|kib| kib * 1024 / 4 * 3).unwrap_or(8 << 30)
}

impl ContainerLimits {
    /// Sets the sandbox of every container on `config`: the limits,
    /// no-new-privileges, and no capabilities but `keep` (empty for steps).
    pub fn apply(&self, config: &mut HostConfig, keep: &[&str]) {
        config.security_opt = Some(vec!["no-new-privileges".into()]);
        config.cap_drop = Some(vec!["ALL".into()]);
        config.cap_add = (!keep.is_empty()).then(|| keep.iter().map(|c| c.to_string()).collect());
        config.pids_limit = Some(self.pids);
        let memory = i64::try_from(self.memory_bytes).unwrap_or(i64::MAX);
        config.memory = Some(memory);
        config.memory_swap = Some(memory);
    }

    /// The same as `docker run` flags (for `hostbuild shell`).
    pub fn docker_flags(&self) -> Vec<String> {
        vec![
            "--security-opt".into(),
            "no-new-privileges".into(),
            "--cap-drop".into(),
            "ALL".into(),
            "--pids-limit".into(),
            self.pids.to_string(),
            "--memory".into(),
            self.memory_bytes.to_string(),
            "--memory-swap".into(),
            self.memory_bytes.to_string(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_container_is_confined() {
        let limits = ContainerLimits { memory_bytes: 64 << 20, pids: 64 };
        let mut config = HostConfig::default();
        limits.apply(&mut config, &[]);
        assert_eq!(config.security_opt.as_deref(), Some(&["no-new-privileges".to_string()][..]));
        assert_eq!(config.cap_drop.as_deref(), Some(&["ALL".to_string()][..]));
        assert_eq!(
            (config.cap_add.clone(), config.pids_limit, config.memory, config.memory_swap),
            (None, Some(64), Some(64 << 20), Some(64 << 20))
        );
        limits.apply(&mut config, &["CHOWN"]);
        assert_eq!(config.cap_add.as_deref(), Some(&["CHOWN".to_string()][..]));
        assert!(ContainerLimits::default().memory_bytes >= 1 << 20);
    }
}
