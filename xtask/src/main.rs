//! Developer tasks, run as `cargo xtask <task>`.

mod bench;
mod bench_store;
mod bench_swarm;
mod images;
mod plugins;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
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
    Plugins {
        /// Only the platforms (what running hostbuild needs; scripts/main.sh).
        #[arg(long)]
        platforms_only: bool,
    },
    /// Make the offline Debian bookworm base images (amd64, armv7, arm64)
    /// with mmdebstrap; keeps images that already exist.
    Images {
        /// Rebuild even if the images exist.
        #[arg(long)]
        force: bool,
    },
    /// Measure the plugin runtime (cold compile, cached load,
    /// instantiate+describe) and a trivial step through hostbuild against
    /// `docker run --rm` of the same image and command, in the dev profile
    /// and then in the release profile (built once, in minutes).
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
        /// Only the artifact store throughput (hostbuild vs awscli, 5 runs
        /// at most).
        #[arg(long)]
        store: bool,
        /// Only the cost of a step as a swarm service, against a local step
        /// and `docker run --rm` (makes a one-node swarm, then leaves it).
        #[arg(long)]
        swarm: bool,
        /// With --store: the size of the file pushed and pulled, in MiB.
        #[arg(long, default_value_t = 256)]
        size_mib: u64,
        /// With --store: hostbuild's `[store] concurrency` [default: hostbuild's].
        #[arg(long)]
        concurrency: Option<usize>,
        /// With --store: hostbuild's `[store] part-size`, e.g. 16M [default: hostbuild's].
        #[arg(long)]
        part_size: Option<String>,
    },
}

/// Errors print as one `error:` line, its causes and a hint, never as a
/// backtrace (even with RUST_BACKTRACE=1, which some CI machines set).
fn main() -> ExitCode {
    let cli = Cli::parse();
    match workspace_root().and_then(|root| run(cli, &root)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("[xtask] error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("[xtask]   caused by: {cause}");
            }
            if let Some(hinted) = err.chain().find_map(|c| c.downcast_ref::<Hinted>()) {
                eprintln!("[xtask] hint: {}", hinted.hint);
            }
            ExitCode::FAILURE
        }
    }
}

/// An error with what the user can do about it.
#[derive(Debug)]
pub struct Hinted {
    message: String,
    hint: String,
    source: Option<anyhow::Error>,
}

/// `message` with `hint`, caused by `source` when there is one.
pub fn hinted(message: impl Into<String>, hint: impl Into<String>, source: Option<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Hinted { message: message.into(), hint: hint.into(), source })
}

impl std::fmt::Display for Hinted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e.as_ref() as &(dyn std::error::Error + 'static))
    }
}

/// The checkout this run works on, found at run time: the xtask binary is
/// shared through the common CARGO_TARGET_DIR by checkouts at other paths,
/// so a path compiled in would name whichever checkout built it first.
/// `cargo xtask` (cargo run) sets CARGO_MANIFEST_DIR to this checkout's
/// `xtask/`; run directly, the binary looks up from the current directory.
fn workspace_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        let root = Path::new(&dir).join("..");
        if is_root(&root) {
            return Ok(root);
        }
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    cwd.ancestors().find(|dir| is_root(dir)).map(Path::to_path_buf).ok_or_else(|| {
        hinted(
            format!("{} is not inside a hostbuild checkout", cwd.display()),
            "run `cargo xtask` from inside a hostbuild checkout",
            None,
        )
    })
}

/// A hostbuild workspace root: a Cargo.toml naming the xtask member, beside
/// the platforms' workspace.
fn is_root(dir: &Path) -> bool {
    dir.join("platforms/Cargo.toml").is_file()
        && std::fs::read_to_string(dir.join("Cargo.toml"))
            .is_ok_and(|t| t.contains("[workspace]") && t.contains("\"xtask\""))
}

fn run(cli: Cli, root: &Path) -> Result<()> {
    std::env::set_current_dir(root).with_context(|| format!("cannot enter {}", root.display()))?;
    match cli.task {
        Task::Plugins { platforms_only } => plugins::build_all(platforms_only),
        Task::Images { force } => images::build_all(force),
        Task::Bench { store: true, runs, size_mib, concurrency, part_size, .. } => {
            bench_store::run(bench_store::Settings { runs: runs.min(5), size_mib, concurrency, part_size })
        }
        Task::Bench { swarm: true, runs, .. } => bench_swarm::run(runs),
        Task::Bench { plugin, runs, runtime_only, .. } => bench::all(&plugin, runs, runtime_only),
    }
}
