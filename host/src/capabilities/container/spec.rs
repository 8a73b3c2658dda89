//! What a step's container is, whatever runs it: the engine-neutral
//! [`ContainerSpec`] a [`super::StepEngine`] turns into a local container, a
//! Swarm service (or, later, a Kubernetes Job). The plugin's `step` and the
//! run's [`StepHost`] go in; every policy that does not depend on the
//! engine is applied here once: images the recipes built, logical mounts,
//! ccache variables, HOME, proxies for networked steps, GPUs or
//! `NVIDIA_VISIBLE_DEVICES=void`, the run's labels and limits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use super::hardening::ContainerLimits;
use super::DirMount;
use super::{ContainerError, GpuRequest, Step, Volume};
use crate::docker::images::BuiltImage;
use crate::docker::lifecycle;

/// Everything a platform's steps are made from, besides the step itself.
#[derive(Clone)]
pub struct StepHost {
    pub run_id: String,
    pub plugin: String,
    pub images: HashMap<String, BuiltImage>,
    pub source: PathBuf,
    pub output: PathBuf,
    /// Named volume mounted for `volume.cache`.
    pub cache_volume: String,
    /// Who the steps run as, so output files belong to the user.
    pub user: User,
    pub network: bool,
    /// Whether GPU requests reach the engine; `run --no-gpu` turns them off.
    pub gpu: bool,
    /// The source is mounted read-write (granted `write-source`), else read-only.
    pub source_writable: bool,
    /// Host directories lent at `/work/<name>` in every step.
    pub dirs: Vec<DirMount>,
    /// ccache's size cap, e.g. `10G`.
    pub ccache_size: String,
    /// The host's proxy variables, given to steps that have network.
    pub proxies: Vec<(String, String)>,
    /// Memory and process limits of every container.
    pub limits: ContainerLimits,
    /// Longest a step may run; over it, it is stopped and fails.
    pub step_timeout: Option<Duration>,
}

/// A numeric user and group; shown as `uid:gid`, as `docker run --user` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

impl std::fmt::Display for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

impl User {
    /// The user this process runs as.
    pub fn current() -> Self {
        use std::os::unix::fs::MetadataExt;
        let (uid, gid) = std::fs::metadata("/proc/self").map(|m| (m.uid(), m.gid())).unwrap_or((0, 0));
        Self { uid, gid }
    }

    /// The user to run steps as: the one who invoked hostbuild, seen through
    /// sudo (`SUDO_UID`/`SUDO_GID`) when run that way, as MXNet's USRID/GRPID.
    pub fn invoking() -> Self {
        let sudo = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u32>().ok());
        match (Self::current(), sudo("SUDO_UID"), sudo("SUDO_GID")) {
            (Self { uid: 0, .. }, Some(uid), Some(gid)) => Self { uid, gid },
            (me, _, _) => me,
        }
    }
}

/// What a mount lends, before an engine maps it to a host path, a volume or
/// a staged copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lent {
    /// The project (read-only unless `write-source` is granted).
    Source,
    /// The platform's output tree.
    Output,
    /// The platform's cache volume.
    Cache(String),
    /// A named volume of hostbuild's own, not a cache (a swarm node's
    /// staged source or output tree).
    Volume(String),
    /// A host directory the user lent (`--mount`).
    Dir(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecMount {
    pub target: String,
    pub lent: Lent,
    pub read_only: bool,
}

/// One step's container, engine-neutral.
#[derive(Debug, Clone)]
pub struct ContainerSpec {
    /// The step's name.
    pub name: String,
    pub image: BuiltImage,
    pub argv: Vec<String>,
    /// `KEY=VALUE`.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: User,
    pub mounts: Vec<SpecMount>,
    pub network: bool,
    /// The GPUs that reach the engine (capabilities filled in).
    pub gpus: Option<GpuRequest>,
    pub limits: ContainerLimits,
    pub labels: HashMap<String, String>,
    pub timeout: Option<Duration>,
}

impl ContainerSpec {
    /// The spec of `step` for the platform `host` describes.
    pub fn for_step(step: &Step, host: &StepHost) -> Result<ContainerSpec, ContainerError> {
        let image = host.images.get(&step.image).ok_or_else(|| {
            let mut known: Vec<&str> = host.images.keys().map(String::as_str).collect();
            known.sort();
            ContainerError::UnknownImage(format!(
                "step `{}` names image `{}`; the recipes define: {}",
                step.name,
                step.image,
                known.join(", ")
            ))
        })?;
        if step.argv.is_empty() {
            return Err(ContainerError::InvalidStep(format!("step `{}` has an empty argv", step.name)));
        }
        let mut env: Vec<String> = step.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let has_env = |env: &[String], k: &str| env.iter().any(|e| e.starts_with(&format!("{k}=")));
        let mut mounts: Vec<SpecMount> = Vec::new();
        for m in &step.mounts {
            if !m.target.starts_with('/') || mounts.iter().any(|x| x.target == m.target) {
                return Err(ContainerError::InvalidStep(format!(
                    "step `{}`: mount target `{}` must be absolute and used once",
                    step.name, m.target
                )));
            }
            let (lent, read_only) = match m.volume {
                Volume::Source => (Lent::Source, !host.source_writable),
                Volume::Output => (Lent::Output, false),
                Volume::Cache => {
                    for (k, v) in [("CCACHE_DIR", m.target.as_str()), ("CCACHE_MAXSIZE", host.ccache_size.as_str())] {
                        if !has_env(&env, k) {
                            env.push(format!("{k}={v}"));
                        }
                    }
                    (Lent::Cache(host.cache_volume.clone()), false)
                }
            };
            mounts.push(SpecMount { target: m.target.clone(), lent, read_only });
        }
        for d in &host.dirs {
            if !mounts.iter().any(|m| m.target == d.target()) {
                mounts.push(SpecMount { target: d.target(), lent: Lent::Dir(d.host.clone()), read_only: d.read_only });
            }
        }
        if !has_env(&env, "HOME") {
            env.push("HOME=/tmp".into());
        }
        if host.network {
            for (k, v) in &host.proxies {
                if !has_env(&env, k) {
                    env.push(format!("{k}={v}"));
                }
            }
        }
        let gpus = step.gpu.as_ref().filter(|_| host.gpu).map(|g| {
            let caps = if g.capabilities.is_empty() {
                vec!["compute".into(), "utility".into()]
            } else {
                g.capabilities.clone()
            };
            if !has_env(&env, "NVIDIA_DRIVER_CAPABILITIES") {
                env.push(format!("NVIDIA_DRIVER_CAPABILITIES={}", caps.join(",")));
            }
            GpuRequest { count: g.count, capabilities: caps }
        });
        // No GPU passed (none asked for, or `--no-gpu`): none reachable
        // either, whatever the image's ENV or the step's env says (an NVIDIA
        // runtime reads this variable; only a plugin granted `gpu` may set it).
        if gpus.is_none() {
            env.retain(|e| !e.starts_with("NVIDIA_VISIBLE_DEVICES="));
            env.push("NVIDIA_VISIBLE_DEVICES=void".into());
        }
        Ok(ContainerSpec {
            name: step.name.clone(),
            image: image.clone(),
            argv: step.argv.clone(),
            env,
            workdir: step.workdir.clone(),
            user: host.user,
            mounts,
            network: host.network,
            gpus,
            limits: host.limits,
            labels: lifecycle::labels(&host.run_id, &host.plugin),
            timeout: host.step_timeout,
        })
    }
}
