//! Opening a plugin: load (through the compile cache), instantiate, describe.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::capabilities::{log::LogSink, Lent};
use crate::cli::LimitArgs;
use crate::description::{validate, PlatformInfo};
use crate::runtime::{self, CallError, Limits, LoadedComponent, ModuleCache, Plugin};

/// The cache root: the flag or `HOSTBUILD_CACHE_DIR`, else the XDG cache.
pub fn cache_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("hostbuild")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hostbuild")))
        .unwrap_or_else(|| std::env::temp_dir().join("hostbuild-cache"))
}

pub fn limits(args: &LimitArgs) -> anyhow::Result<Limits> {
    let time = Duration::try_from_secs_f64(args.plugin_time_limit)
        .ok()
        .filter(|d| !d.is_zero())
        .context("--plugin-time-limit must be a positive number of seconds")?;
    Ok(Limits { memory_bytes: args.plugin_memory_limit.saturating_mul(1 << 20), time })
}

/// A plugin that has been loaded and has described itself.
pub struct Opened {
    pub loaded: LoadedComponent,
    pub plugin: Plugin,
    pub info: PlatformInfo,
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
