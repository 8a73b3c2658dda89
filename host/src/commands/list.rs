//! `hostbuild list`: the plugins this machine can run without a project:
//! those installed beside the binary (run by name) and those downloaded
//! into the cache by projects. Each is loaded and described, nothing more.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::common;
use super::output::{self, Summary};
use crate::capabilities::log::LogSink;
use crate::cli::ListArgs;
use crate::console::Console;
use crate::description::capability_words;
use crate::diagnostics::ExitStatus;
use crate::project::{bundled, resolve};
use crate::runtime::Limits;

/// One plugin file, described (or why it could not be).
#[derive(Debug, serde::Serialize)]
struct Row {
    /// `bundled` (run it by name) or `cached` (a project's download).
    origin: &'static str,
    file: PathBuf,
    name: Option<String>,
    version: Option<String>,
    wit: Option<String>,
    capabilities: Vec<String>,
    summary: Option<String>,
    error: Option<String>,
}

/// `list`: every plugin found, and where bundled ones are.
#[derive(serde::Serialize)]
struct Listed {
    plugins: Vec<Row>,
    #[serde(skip)]
    bundled_dir: Option<PathBuf>,
}

impl Summary for Listed {
    fn print_text(&self) {
        match &self.bundled_dir {
            Some(dir) => {
                println!(
                    "bundled plugins ({}): run them by name, e.g. `hostbuild run NAME --source DIR`",
                    dir.display()
                )
            }
            None => println!(
                "no bundled plugins: this hostbuild has no {} beside its bin/ (scripts/install.sh puts them there)",
                bundled::DIR
            ),
        }
        if self.plugins.is_empty() {
            println!("no plugins found; `hostbuild new NAME` starts one");
            return;
        }
        println!("{:<8} {:<16} {:<9} {:<6} {:<50} file", "", "name", "version", "wit", "capabilities");
        for r in &self.plugins {
            let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let caps = match (&r.error, r.capabilities.is_empty()) {
                (Some(e), _) => format!("unusable: {e}"),
                (None, true) => "none".into(),
                (None, false) => r.capabilities.join(", "),
            };
            println!(
                "{:<8} {:<16} {:<9} {:<6} {:<50} {}",
                r.origin,
                text(&r.name),
                text(&r.version),
                text(&r.wit),
                caps,
                r.file.display()
            );
        }
    }
}

pub async fn list(args: ListArgs, cache: PathBuf, verbose: bool) -> anyhow::Result<ExitStatus> {
    let log: Arc<dyn LogSink> = Arc::new(Console::new(verbose, args.json));
    let limits = common::limits(&args.limits)?;
    let bundled_dir = bundled::dir();
    let mut rows = Vec::new();
    for (origin, dir) in [("bundled", bundled_dir.clone()), ("cached", Some(resolve::download_dir(&cache)))] {
        for file in dir.as_deref().map(bundled::components).unwrap_or_default() {
            rows.push(describe(origin, &file, &cache, limits, log.clone()).await);
        }
    }
    output::print(&Listed { plugins: rows, bundled_dir }, args.json)?;
    Ok(ExitStatus::Success)
}

/// Loads and describes one file; a plugin that cannot be loaded is a row
/// with its error, not the end of the list.
async fn describe(origin: &'static str, file: &Path, cache: &Path, limits: Limits, log: Arc<dyn LogSink>) -> Row {
    let mut row = Row {
        origin,
        file: file.to_path_buf(),
        name: None,
        version: None,
        wit: None,
        capabilities: Vec::new(),
        summary: None,
        error: None,
    };
    match common::open(file, cache, limits, log).await {
        Ok(o) => {
            row.name = Some(o.info.name.clone());
            row.version = Some(o.info.version.to_string());
            row.wit = Some(o.loaded.wit_version.to_string());
            row.capabilities = capability_words(&o.info.capabilities);
            row.summary = Some(o.info.summary.clone());
        }
        Err(e) => row.error = Some(e.to_string()),
    }
    row
}
