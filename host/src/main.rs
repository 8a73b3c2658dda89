use std::process::ExitCode;

use clap::Parser;
use hostbuild::cli::Cli;
use hostbuild::diagnostics;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json();
    match hostbuild::commands::dispatch(cli).await {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) => {
            let report = diagnostics::report(&err);
            diagnostics::print(&report, json);
            ExitCode::from(report.exit_code)
        }
    }
}
