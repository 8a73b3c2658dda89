//! `cargo xtask bench`: the plugin runtime's costs, measured in-process.
//!
//! - cold compile: load with an empty compile cache (compile + store);
//! - cached load: load with a warm cache (read, verify, deserialize);
//! - instantiate + describe: a fresh instance and one `describe` call;
//! - a trivial step (`true`) through `hostbuild run`, whole process, against
//!   `docker run --rm` of the same image and command, alternated run by run.
//!
//! Each figure is taken twice: in the dev profile the tests use, then in
//! the release profile users install (scripts/install.sh): xtask builds
//! itself and hostbuild with `--release` and runs the same bench from there.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hostbuild::capabilities::log::{Level, LogSink};
use hostbuild::capabilities::Lent;
use hostbuild::runtime::{self, CacheOutcome, Limits, ModuleCache, Plugin};

struct Quiet;

impl LogSink for Quiet {
    fn line(&self, _: &str, _: Level, _: &str) {}
    fn progress(&self, _: &str, _: &str, _: u64, _: Option<u64>) {}
}

/// Set in the release child, so it measures and does not start another.
const CHILD: &str = "HOSTBUILD_BENCH_CHILD";

/// The whole bench: this build's profile, then (from a dev build) the
/// release profile's, by a release build of xtask.
pub fn all(plugin: &Path, runs: usize, runtime_only: bool) -> Result<()> {
    println!("== {} profile", if cfg!(debug_assertions) { "dev" } else { "release" });
    run(plugin, runs)?;
    if !runtime_only {
        step(runs)?;
    }
    if !cfg!(debug_assertions) || std::env::var_os(CHILD).is_some() {
        return Ok(());
    }
    eprintln!("[xtask] building xtask and hostbuild in the release profile (minutes the first time)");
    let built = std::process::Command::new(crate::plugins::cargo())
        .args(["build", "--quiet", "--locked", "--release", "-p", "xtask", "-p", "hostbuild"])
        .status()?;
    anyhow::ensure!(built.success(), "the release build failed");
    let exe = std::env::current_exe()?;
    let release = exe.parent().and_then(Path::parent).context("target dir")?.join("release/xtask");
    let mut child = std::process::Command::new(release);
    child.args(["bench", "--runs", &runs.to_string()]).arg(plugin).env(CHILD, "1");
    if runtime_only {
        child.arg("--runtime-only");
    }
    anyhow::ensure!(child.status()?.success(), "the release bench failed");
    Ok(())
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
        let cache = ModuleCache::new(dir.path().join("components"));
        let t = Instant::now();
        let loaded = runtime::load_component(engine, &cache, plugin)?;
        cold.push(t.elapsed());
        assert_eq!(loaded.cache, CacheOutcome::Compiled);
    }

    let dir = tempfile::tempdir()?;
    let cache = ModuleCache::new(dir.path().join("components"));
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

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Builds the `hostbuild` binary (same profile and target dir as xtask:
/// `cargo run --release -p xtask -- bench ...` times a release build) and
/// returns its path, for benches that time it as a whole process.
pub fn hostbuild_binary() -> Result<std::path::PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe.parent().context("target dir")?;
    let mut build = std::process::Command::new(crate::plugins::cargo());
    build.args(["build", "--quiet", "-p", "hostbuild"]);
    if dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    anyhow::ensure!(build.status()?.success(), "building hostbuild failed");
    Ok(dir.join("hostbuild"))
}

/// The trivial step (`true`) of the container-steps guest, run through
/// `hostbuild run` with a private compile cache and output tree.
pub struct TrivialStep {
    hostbuild: std::path::PathBuf,
    cache: tempfile::TempDir,
    out: tempfile::TempDir,
}

impl TrivialStep {
    const GUEST: &'static str = "tests/guests/wasm/container-steps.wasm";

    pub fn new() -> Result<Self> {
        let hostbuild = hostbuild_binary()?;
        anyhow::ensure!(Path::new(Self::GUEST).exists(), "{} is missing: run `cargo xtask plugins`", Self::GUEST);
        Ok(Self { hostbuild, cache: tempfile::tempdir()?, out: tempfile::tempdir()? })
    }

    /// `hostbuild run` of the step, with `extra` arguments.
    pub fn command(&self, extra: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.hostbuild);
        cmd.args(["run", "--opt", "mode=true", "--explain", "--source", "examples/cmake-hello", "--out"])
            .arg(self.out.path())
            .arg(Self::GUEST)
            .args(extra)
            .env("HOSTBUILD_CACHE_DIR", self.cache.path());
        cmd
    }

    /// The step's image tag, as a run with `--explain` names it on stderr
    /// (`hostbuild/container-steps-<identity>-main:<hash>`).
    pub fn image_tag(stderr: &str) -> Result<String> {
        Ok(stderr
            .split_whitespace()
            .find(|w| w.starts_with("hostbuild/container-steps-") && w.contains("-main:"))
            .context("no image tag in the output")?
            .trim_end_matches(':')
            .to_string())
    }

    /// `docker run --rm` of the same image and command, as hostbuild runs it.
    pub fn docker_run(tag: &str) -> std::process::Command {
        let mut cmd = std::process::Command::new("docker");
        cmd.args(["run", "--rm", "--init", "--network", "none", tag, "true"]);
        cmd
    }
}

/// A trivial step through hostbuild against `docker run --rm`.
pub fn step(runs: usize) -> Result<()> {
    let step = TrivialStep::new()?;
    let hostbuild_run = || step.command(&[]);
    // Warm up: builds the image and the compile cache; learn the image tag.
    let first = hostbuild_run().output()?;
    anyhow::ensure!(first.status.success(), "hostbuild run failed: {}", String::from_utf8_lossy(&first.stderr));
    let tag = TrivialStep::image_tag(&String::from_utf8_lossy(&first.stderr))?;
    let mut through_hostbuild = Vec::new();
    let mut plain_docker = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        anyhow::ensure!(hostbuild_run().output()?.status.success(), "hostbuild run failed");
        through_hostbuild.push(t.elapsed());
        let t = Instant::now();
        let docker = TrivialStep::docker_run(&tag).output()?;
        anyhow::ensure!(docker.status.success(), "docker run failed");
        plain_docker.push(t.elapsed());
    }
    through_hostbuild.sort();
    plain_docker.sort();
    let median = |v: &[Duration]| v[v.len() / 2];
    println!("trivial step `true` in {tag}, {runs} runs each, alternated");
    println!("{:<26} {:>10} {:>10} {:>10}", "command", "min", "median", "max");
    for (name, v) in [("hostbuild run", &through_hostbuild), ("docker run --rm", &plain_docker)] {
        println!("{name:<26} {:>10} {:>10} {:>10}", ms(v[0]), ms(median(v)), ms(v[v.len() - 1]));
    }
    println!(
        "ratio hostbuild / docker (medians): {:.2}",
        median(&through_hostbuild).as_secs_f64() / median(&plain_docker).as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_step_image_tag_is_found_with_its_identity() {
        let stderr =
            "[container-steps:image:main] reusing hostbuild/container-steps-5372ff2a96db-main:57dafa6988a23fe8: \
                      no input changed";
        let tag = super::TrivialStep::image_tag(stderr).unwrap();
        assert_eq!(tag, "hostbuild/container-steps-5372ff2a96db-main:57dafa6988a23fe8");
    }
}
