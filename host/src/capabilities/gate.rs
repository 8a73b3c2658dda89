//! What every host call passes through, whatever the capability: the grant
//! check against the plugin's allowed set, and host-time accounting (time
//! in host calls does not count against the plugin's time limit). One per
//! plugin instance; each capability's view borrows it beside its own ctx.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::model::Capabilities;
use crate::project::grants::Grant;

/// The plugin's name, what it may use, and its current call's host time.
#[derive(Debug, Default)]
pub struct Gate {
    plugin: String,
    /// Declared and granted; `None` until the plugin has described itself,
    /// when every capability but `log` is refused.
    allowed: Option<Capabilities>,
    host_time: Duration,
    unavailable: Option<Unavailable>,
}

/// A backend said it is unavailable during the current call: the plugin's
/// failure is then reported as the missing infrastructure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub reason: String,
    pub hint: String,
}

impl Gate {
    pub fn new(plugin: &str) -> Self {
        Self { plugin: plugin.to_string(), ..Self::default() }
    }

    /// The name shown in log lines: the file stem until `describe` answers.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    pub fn set_plugin(&mut self, plugin: &str) {
        self.plugin = plugin.to_string();
    }

    /// What the plugin may use from now on.
    pub fn allow(&mut self, allowed: Capabilities) {
        self.allowed = Some(allowed);
    }

    pub fn allowed(&self) -> Option<&Capabilities> {
        self.allowed.as_ref()
    }

    /// Whether `grant` is declared and granted.
    pub fn permits(&self, grant: &Grant) -> bool {
        let Some(c) = &self.allowed else { return false };
        match grant {
            Grant::Container => c.container,
            Grant::Gpu => c.gpu,
            Grant::Network => c.network_during_build,
            Grant::ImageNetwork => c.image_network,
            Grant::Publish => c.publish,
            Grant::Env(var) => c.env_vars.contains(var),
            Grant::Emulation(arch) => c.emulation.contains(arch),
            // Never declared, only granted: not a plugin's to use directly.
            Grant::WriteSource | Grant::Push(_) => false,
        }
    }

    /// `Ok` when `grant` is permitted, else the denial the plugin is told.
    pub fn require(&self, grant: &Grant) -> Result<(), String> {
        if self.permits(grant) {
            Ok(())
        } else {
            Err(grant.denied())
        }
    }

    /// Runs a host call's work, counting its time as host time.
    pub async fn timed<F: Future>(&mut self, work: F) -> F::Output {
        let started = Instant::now();
        let result = work.await;
        self.host_time += started.elapsed();
        result
    }

    /// Time spent in host calls since the current export call began.
    pub fn host_time(&self) -> Duration {
        self.host_time
    }

    /// A new export call begins: no host time, nothing unavailable yet.
    pub fn begin_call(&mut self) {
        self.host_time = Duration::ZERO;
        self.unavailable = None;
    }

    pub fn set_unavailable(&mut self, reason: &str, hint: &str) {
        self.unavailable = Some(Unavailable { reason: reason.into(), hint: hint.into() });
    }

    pub fn take_unavailable(&mut self) -> Option<Unavailable> {
        self.unavailable.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps() -> Capabilities {
        Capabilities { container: true, env_vars: vec!["CI".into()], ..Capabilities::default() }
    }

    #[tokio::test]
    async fn nothing_is_permitted_until_allowed_and_host_time_adds_up() {
        let mut gate = Gate::new("p");
        assert!(gate.require(&Grant::Container).is_err());
        gate.allow(caps());
        assert!(gate.require(&Grant::Container).is_ok() && gate.permits(&Grant::Env("CI".into())));
        assert_eq!(gate.require(&Grant::Gpu).unwrap_err(), Grant::Gpu.denied());
        assert!(!gate.permits(&Grant::Env("HOME".into())));
        gate.timed(tokio::time::sleep(Duration::from_millis(20))).await;
        assert!(gate.host_time() >= Duration::from_millis(20));
        gate.begin_call();
        assert_eq!(gate.host_time(), Duration::ZERO);
    }
}
