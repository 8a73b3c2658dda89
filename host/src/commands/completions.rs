//! `hostbuild completions SHELL` and `hostbuild man`: generated from the
//! clap definitions (clap_complete, clap_mangen), so they never drift from
//! the command line.

use std::io::Write as _;

use anyhow::Context as _;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::diagnostics::ExitStatus;

pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitStatus> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "hostbuild", &mut out);
    std::io::stdout().write_all(&out).context("cannot write to stdout")?;
    Ok(ExitStatus::Success)
}

pub fn man(args: ManArgs) -> anyhow::Result<ExitStatus> {
    let cmd = Cli::command();
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("cannot write the pages to {}", dir.display()))?;
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut out).context("cannot render the man page")?;
            std::io::stdout().write_all(&out).context("cannot write to stdout")?;
        }
    }
    Ok(ExitStatus::Success)
}
