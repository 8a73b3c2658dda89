//! Developer tasks, run as `cargo xtask <task>`.

mod bench;
mod bench_store;
mod images;
mod plugins;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "hostbuild developer tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build every platform into plugins/<name>.wasm and every test guest
    /// into tests/guests/wasm/<name>.wasm (target wasm32-wasip2, release).
    Plugins,
    /// Make the offline Debian bookworm base images (amd64, armv7, arm64)
    /// with mmdebstrap; keeps images that already exist.
    Images {
        /// Rebuild even if the images exist.
        #[arg(long)]
        force: bool,
    },
    /// Measure the plugin runtime (cold compile, cached load,
    /// instantiate+describe) and a trivial step through hostbuild against
    /// `docker run --rm` of the same image and command.
    Bench {
        /// The plugin whose runtime costs are measured.
        #[arg(default_value = "plugins/armv7.wasm")]
        plugin: PathBuf,
        /// Runs per figure.
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Only the runtime figures (no Docker engine needed).
        #[arg(long)]
        runtime_only: bool,
        /// Only the artifact store throughput (256 MiB, hostbuild vs awscli).
        #[arg(long)]
        store: bool,
    },
}

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::set_current_dir(&root)?;
    match Cli::parse().task {
        Task::Plugins => plugins::build_all(),
        Task::Images { force } => images::build_all(force),
        Task::Bench { store: true, runs, .. } => bench_store::run(runs.min(5)),
        Task::Bench { plugin, runs, runtime_only, .. } => {
            bench::run(&plugin, runs)?;
            if !runtime_only {
                bench::step(runs)?;
            }
            Ok(())
        }
    }
}
