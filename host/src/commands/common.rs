//! Opening a plugin: load (through the compile cache), instantiate, describe.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::Usage;
use crate::arch::{binfmt_enabled, TargetPlatform};
use crate::capabilities::container::hardening::ContainerLimits;
use crate::capabilities::container::swarm::{SwarmError, SwarmOptions};
use crate::capabilities::container::trust::Trust;
use crate::capabilities::container::DirMount;
use crate::capabilities::log::{Level, LogSink};
use crate::capabilities::Lent;
use crate::cli::{EngineArgs, EngineKind, LimitArgs, SwarmArgs};
use crate::description::{validate, PlatformInfo};
use crate::docker::engine::EngineInfo;
use crate::docker::images::{self, BuiltImage};
use crate::docker::EngineError;
use crate::model::ImageRecipe;
use crate::project::config::Located;
use crate::project::lock::Lockfile;
use crate::project::resolve::{self, Resolved};
use crate::runtime::{self, CacheError, CallError, Limits, LoadedComponent, ModuleCache, Plugin};
use crate::units::Span;

/// The cache root: the flag or `HOSTBUILD_CACHE_DIR`, else the XDG cache,
/// else `~/.cache/hostbuild`. Never a shared directory such as /tmp: what
/// is cached there is run.
pub fn cache_dir(flag: Option<PathBuf>) -> Result<PathBuf, CacheError> {
    flag.or_else(|| {
        std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()).map(|d| PathBuf::from(d).join("hostbuild"))
    })
    .or_else(|| std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".cache/hostbuild")))
    .ok_or(CacheError::NoDirectory)
}

pub fn limits(args: &LimitArgs) -> anyhow::Result<Limits> {
    let time = Duration::try_from_secs_f64(args.plugin_time_limit)
        .ok()
        .filter(|d| !d.is_zero())
        .context("--plugin-time-limit must be a positive number of seconds")?;
    Ok(Limits { memory_bytes: args.plugin_memory_limit.saturating_mul(1 << 20), time })
}

/// How containers run: the command line's flags over `[engine]` of
/// ./hostbuild.toml (read whenever it exists, also for plugin files).
pub struct EngineSettings {
    pub limits: ContainerLimits,
    pub step_timeout: Option<Duration>,
    pub trust: Trust,
    /// Set when steps run on a swarm.
    pub swarm: Option<SwarmOptions>,
}

/// `step_timeout` and `swarm` are `run`'s flags (`shell` has neither).
pub fn engine_settings(
    args: &EngineArgs,
    step_timeout: Option<Span>,
    swarm: Option<&SwarmArgs>,
) -> anyhow::Result<EngineSettings> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let located = crate::project::config::Located::read(&cwd)?;
    let (file, dir) = match &located {
        Some(l) => (l.project.engine.clone(), l.dir.clone()),
        None => (Default::default(), cwd),
    };
    let invalid = |problem: String| crate::project::ProjectError::Invalid {
        file: dir.join(crate::project::config::PROJECT_FILE),
        problem,
    };
    let mut limits = ContainerLimits::default();
    if let Some(memory) = args.memory.or(file.memory().map_err(invalid)?) {
        limits.memory_bytes = memory.bytes();
    }
    if let Some(pids) = args.pids_limit.or(file.pids_limit) {
        limits.pids = pids;
    }
    // The engine refuses less than 6 MiB when it creates the container.
    if limits.memory_bytes < 6 << 20 || limits.pids < 1 {
        return Err(Usage {
            message: format!("limits too small: memory {} bytes, {} processes", limits.memory_bytes, limits.pids),
            hint: "--memory takes e.g. 512M or 8G (at least 6M, the engine's minimum); --pids-limit at least 1".into(),
        }
        .into());
    }
    let step_timeout = step_timeout.or(file.step_timeout().map_err(invalid)?).map(|s| s.0);
    let bundle = args.ca_bundle.clone().or_else(|| file.ca_bundle.as_ref().map(|b| dir.join(b)));
    let kind = swarm.and_then(|s| s.kind).or(file.kind).unwrap_or(EngineKind::Local);
    let swarm = match (kind, swarm) {
        (EngineKind::Swarm, Some(s)) => {
            let registry = match s.registry.clone().or(file.registry().map_err(invalid)?) {
                Some(r) => r,
                None => return Err(SwarmError::NoRegistry.into()),
            };
            let mut constraints = file.constraints.clone();
            constraints.extend(s.constraints.iter().cloned());
            let pending = file.pending_timeout().map_err(invalid)?.map_or(Duration::from_secs(60), |p| p.0);
            let always_stage = s.always_stage || file.always_stage().map_err(invalid)?;
            Some(SwarmOptions { registry, constraints, always_stage, pending })
        }
        _ => None,
    };
    Ok(EngineSettings { limits, step_timeout, trust: Trust::new(bundle.as_deref())?, swarm })
}

/// A plugin that has been loaded and has described itself.
pub struct Opened {
    pub loaded: LoadedComponent,
    pub plugin: Plugin,
    pub info: PlatformInfo,
}

/// Resolves a plugin argument (a file, or a name from ./hostbuild.toml),
/// then loads and describes it and checks it against the project and lock;
/// their warnings go to the log.
pub async fn open_arg(
    arg: &str,
    project: Option<&(Located, Option<Lockfile>)>,
    cache: &Path,
    limits: Limits,
    log: Arc<dyn LogSink>,
    locked: bool,
) -> anyhow::Result<(Opened, Resolved)> {
    let resolved = resolve::resolve(arg, project, cache, locked).await?;
    let opened = open(&resolved.path, cache, limits, log.clone()).await?;
    for warning in resolved.check_loaded(&opened.info, &opened.loaded)? {
        log.line("hostbuild", Level::Warn, &warning);
    }
    Ok((opened, resolved))
}

/// The directories lent to a plugin's containers and whether its source is
/// writable: the project's `mounts` and `write-source` grant, then the
/// command line's `--mount` and `--write-source`.
pub fn lent_dirs(resolved: &Resolved, mounts: &[String], write_source: bool) -> Result<(Vec<DirMount>, bool), Usage> {
    let dirs = resolved.dirs(mounts).map_err(|message| Usage {
        message,
        hint: "--mount NAME=DIR[:ro] (or `mounts` in hostbuild.toml) names an existing directory".into(),
    })?;
    Ok((dirs, resolved.write_source(write_source)))
}

/// The project of the current directory, read only when an argument is a
/// plugin name (or `locked` asks for the lock).
pub fn project_for<'a>(
    args: impl IntoIterator<Item = &'a String>,
    locked: bool,
) -> anyhow::Result<Option<(Located, Option<Lockfile>)>> {
    if !locked && args.into_iter().all(|a| resolve::is_file(a)) {
        return Ok(None);
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    Ok(resolve::project(&cwd)?)
}

/// Loads, instantiates and describes the plugin at `path`.
pub async fn open(path: &Path, cache: &Path, limits: Limits, log: Arc<dyn LogSink>) -> anyhow::Result<Opened> {
    let engine = runtime::engine();
    let modules = ModuleCache::new(cache.join("components"));
    let path_owned = path.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || runtime::load_component(engine, &modules, &path_owned))
        .await
        .context("the compile task panicked")??;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "plugin".into());
    let mut plugin = Plugin::instantiate(&loaded, limits, Lent::minimal(&stem, log)).await?;
    let description = plugin.describe().await?;
    let info = validate(description).map_err(|problem| CallError::Malformed {
        plugin: stem.clone(),
        call: "describe",
        problem,
    })?;
    plugin.set_name(&info.name);
    Ok(Opened { loaded, plugin, info })
}

pub use crate::docker::images::ImageBuild;

/// Checks what the recipes need from this machine (GPU runtime unless
/// `gpu` is false, QEMU handlers), then builds or reuses each image.
pub async fn build_images(
    docker: &bollard::Docker,
    engine: &EngineInfo,
    info: &PlatformInfo,
    recipes: &[ImageRecipe],
    log: &dyn LogSink,
    how: ImageBuild<'_>,
) -> Result<HashMap<String, BuiltImage>, EngineError> {
    if how.gpu && info.capabilities.gpu && !engine.runtimes.iter().any(|r| r == "nvidia") {
        let runtimes = engine.runtimes.join(", ");
        return Err(EngineError::NoGpuRuntime { plugin: info.name.clone(), runtimes });
    }
    for r in recipes {
        if let Some(handler) = TargetPlatform::parse(&r.platform).binfmt().filter(|h| !binfmt_enabled(h)) {
            return Err(EngineError::NoEmulation { platform: r.platform.clone(), handler: handler.into() });
        }
    }
    let mut images = HashMap::new();
    for r in recipes {
        images.insert(r.name.clone(), images::build(docker, &info.name, r, log, &how).await?);
    }
    Ok(images)
}
