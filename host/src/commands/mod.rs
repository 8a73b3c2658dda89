//! One file per subcommand; `common` holds what `run` and `inspect` share.

mod artifacts;
mod cache;
mod clean;
pub(crate) mod common;
mod completions;
mod doctor;
mod inspect;
mod list;
mod new;
mod output;
mod plugins;
mod run;
mod shell;

pub use crate::interrupt::{shutdown_signal, Interrupted};

use crate::cli::{Cli, Command};
use crate::diagnostics::ExitStatus;

/// The command line asks for something impossible (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Usage {
    pub message: String,
    pub hint: String,
}

/// Runs the command line; the error carries what `diagnostics` needs.
pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitStatus> {
    let cache = common::cache_dir(cli.cache_dir.clone());
    match cli.command {
        Command::Run(args) => run::run(args, cache?, cli.verbose).await,
        Command::Inspect(args) => inspect::inspect(args, cache?, cli.verbose).await,
        Command::Doctor(args) => doctor::doctor(args, cache.ok()).await,
        Command::Shell(args) => shell::shell(args, cache?, cli.verbose).await,
        Command::Clean(args) => clean::clean(args).await,
        Command::Cache(args) => cache::cache(args, cache.ok().as_deref()).await,
        Command::Artifacts(args) => artifacts::artifacts(args).await,
        Command::Lock(args) => plugins::lock(args, cache?, cli.verbose).await,
        Command::Plugins(args) => plugins::plugins(args, cache?, cli.verbose).await,
        Command::List(args) => list::list(args, cache?, cli.verbose).await,
        Command::New(args) => new::new(args),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => completions::man(args),
    }
}

impl crate::diagnostics::Diagnose for Usage {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        (ExitStatus::Usage, Some(self.hint.clone()))
    }
}
