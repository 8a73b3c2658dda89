//! One file per subcommand; `common` holds what `run` and `inspect` share.

mod common;
mod doctor;
mod inspect;
mod run;

use crate::cli::{Cli, Command};
use crate::diagnostics::ExitStatus;

/// Something the host needs is missing (exit status 8).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Unavailable {
    pub message: String,
    pub hint: String,
}

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
        Command::Run(args) => run::run(args, cache, cli.verbose).await,
        Command::Inspect(args) => inspect::inspect(args, cache, cli.verbose).await,
        Command::Doctor(args) => doctor::doctor(args, cache).await,
    }
}
