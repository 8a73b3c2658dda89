use std::process::ExitCode;

use clap::Parser;
use hostbuild::cli::Cli;
use hostbuild::diagnostics;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json();
    let code = match hostbuild::commands::dispatch(cli).await {
        Ok(status) => status.code(),
        Err(err) => {
            let report = diagnostics::report(&err);
            diagnostics::print(&report, json);
            report.exit_code
        }
    };
    // Exit now: file work a signal interrupted may still be winding down on
    // a blocking thread, and the runtime would wait for it on the way out.
    std::process::exit(code.into())
}
