//! `cargo xtask bench`: the plugin runtime's costs, measured in-process.
//!
//! - cold compile: load with an empty compile cache (compile + store);
//! - cached load: load with a warm cache (read, verify, deserialize);
//! - instantiate + describe: a fresh instance and one `describe` call.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use hostbuild::capabilities::log::{Level, LogSink};
use hostbuild::capabilities::Lent;
use hostbuild::runtime::{self, CacheOutcome, Limits, ModuleCache, Plugin};

struct Quiet;

impl LogSink for Quiet {
    fn line(&self, _: &str, _: Level, _: &str) {}
    fn progress(&self, _: &str, _: &str, _: u64, _: Option<u64>) {}
}

pub fn run(plugin: &Path, runs: usize) -> Result<()> {
    let engine = runtime::engine();
    let size = std::fs::metadata(plugin)?.len();
    println!(
        "plugin {} ({} KiB), {runs} runs each, wasmtime {}",
        plugin.display(),
        size / 1024,
        runtime::WASMTIME_VERSION
    );

    let mut cold = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir()?;
        let cache = ModuleCache::new(dir.path().to_path_buf());
        let t = Instant::now();
        let loaded = runtime::load_component(engine, &cache, plugin)?;
        cold.push(t.elapsed());
        assert_eq!(loaded.cache, CacheOutcome::Compiled);
    }

    let dir = tempfile::tempdir()?;
    let cache = ModuleCache::new(dir.path().to_path_buf());
    runtime::load_component(engine, &cache, plugin)?;
    let mut warm = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let loaded = runtime::load_component(engine, &cache, plugin)?;
        warm.push(t.elapsed());
        assert_eq!(loaded.cache, CacheOutcome::Hit);
    }

    let loaded = runtime::load_component(engine, &cache, plugin)?;
    let rt = tokio::runtime::Runtime::new()?;
    let mut describe = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        rt.block_on(async {
            let mut p =
                Plugin::instantiate(&loaded, Limits::default(), Lent::minimal("bench", Arc::new(Quiet))).await?;
            p.describe().await?;
            anyhow::Ok(())
        })?;
        describe.push(t.elapsed());
    }

    println!("{:<26} {:>10} {:>10} {:>10}", "figure", "min", "median", "max");
    for (name, mut v) in [("cold compile", cold), ("cached load", warm), ("instantiate + describe", describe)] {
        v.sort();
        println!("{name:<26} {:>10} {:>10} {:>10}", ms(v[0]), ms(v[v.len() / 2]), ms(v[v.len() - 1]));
    }
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
