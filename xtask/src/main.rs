//! Developer tasks, run as `cargo xtask <task>`.

mod bench;
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
    /// Measure cold compile, cached load and instantiate+describe of a plugin.
    Bench {
        /// The plugin to measure.
        #[arg(default_value = "plugins/armv7.wasm")]
        plugin: PathBuf,
        /// Runs per figure.
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
}

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::set_current_dir(&root)?;
    match Cli::parse().task {
        Task::Plugins => plugins::build_all(),
        Task::Bench { plugin, runs } => bench::run(&plugin, runs),
    }
}
