//! Turns any error into what the user sees: `error:`, `caused by:` lines, a
//! `hint:` they can act on, and a documented exit status.

use std::io::Write;

use crate::artifact::characteristics::NoCommit;
use crate::artifact::checked::CheckError;
use crate::artifact::publish::PublishError;
use crate::artifact::pull::PullError;
use crate::capabilities::container::swarm::SwarmError;
use crate::capabilities::container::trust::TrustError;
use crate::commands::{Interrupted, Usage};
use crate::console::sanitize::sanitize;
use crate::docker::EngineError;
use crate::options::OptionError;
use crate::output_tree::OutputTreeError;
use crate::pipeline::{ArtifactRefused, UnsafeOutput};
use crate::project::{ProjectError, SourceError};
use crate::registry::checked::ImageRefused;
use crate::registry::publish::RegistryError;
use crate::runtime::{CacheError, CallError, LoadError};
use crate::store::open::OpenError;
use crate::store::StoreError;

/// The exit statuses of `hostbuild`, documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitStatus {
    Success = 0,
    /// A bug in hostbuild itself.
    Internal = 1,
    /// Bad command line: unknown flag, bad `--opt`, missing argument.
    Usage = 2,
    /// The plugin file does not exist or cannot be read.
    PluginNotFound = 3,
    /// The file is not a usable component (not wasm, core module, corrupt,
    /// another world).
    PluginInvalid = 4,
    /// The component targets an incompatible `hostbuild:platform` version.
    PluginIncompatible = 5,
    /// The plugin trapped, ran out of time or memory, returned malformed
    /// data or reported an error.
    PluginFailed = 6,
    /// A build step exited non-zero.
    StepFailed = 7,
    /// Something the host needs is missing: Docker engine, QEMU, a writable cache.
    Unavailable = 8,
    /// The artifact set already exists (or another process is publishing it).
    Conflict = 9,
    /// No such artifact set, or one whose files do not match its manifest.
    ArtifactMissing = 10,
    /// The project does not grant what the plugin declares.
    NotGranted = 11,
    /// What would run differs from hostbuild.lock, or is not in it.
    LockMismatch = 12,
    /// The plugin, or what its steps left behind, broke a sandbox rule: a
    /// path that leaves its tree, an unsafe file (setuid, device, FIFO,
    /// another owner), an image reference it may not tag.
    Refused = 13,
    /// Stopped by SIGINT (128 + 2); the run's containers were removed.
    Interrupted = 130,
    /// Stopped by SIGTERM (128 + 15); the run's containers were removed.
    Terminated = 143,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error as shown to the user.
#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub message: String,
    pub causes: Vec<String>,
    pub hint: Option<String>,
    pub status: ExitStatus,
    pub exit_code: u8,
}

/// The hint for a plugin that broke its contract.
pub const PLUGIN_BUG: &str = "this is a bug in the plugin; report it to its authors";

/// The hint's end when the sandbox refused what a plugin did.
pub const UNTRUSTED: &str = "the plugin (or what its steps ran) did this, not hostbuild; see SECURITY.md. \
                             Check where the plugin comes from before running it again";

/// How to get what the engine needs.
pub const PREREQS: &str = "run `bash scripts/prereqs.sh` as root, then `hostbuild doctor`";

/// An error that knows what it means for whoever ran hostbuild: its exit
/// status and a hint they can act on. Implemented next to each error type;
/// [`report`] uses the first one in an error's chain.
pub trait Diagnose {
    fn diagnose(&self) -> (ExitStatus, Option<String>);
}

/// Classifies an error by the first typed error found in its chain.
pub fn report(err: &anyhow::Error) -> Report {
    // Messages may carry what a plugin or its build printed: shown safe.
    let clean = |s: String| sanitize(&s).into_owned();
    let mut chain = err.chain();
    let message = chain.next().map(|e| clean(e.to_string())).unwrap_or_default();
    let mut causes: Vec<String> = chain.map(|e| clean(e.to_string())).collect();
    causes.dedup();
    let (status, hint) = err.chain().find_map(classify).unwrap_or((ExitStatus::Internal, None));
    Report { message, causes, hint: hint.map(clean), status, exit_code: status.code() }
}

/// The diagnosis of `e` if it is one of hostbuild's typed errors.
fn classify(e: &(dyn std::error::Error + 'static)) -> Option<(ExitStatus, Option<String>)> {
    macro_rules! first_of {
        ($($t:ty),* $(,)?) => {
            $(if let Some(e) = e.downcast_ref::<$t>() {
                return Some(e.diagnose());
            })*
        };
    }
    first_of!(
        LoadError,
        CallError,
        OptionError,
        CacheError,
        EngineError,
        SwarmError,
        TrustError,
        Interrupted,
        PublishError,
        PullError,
        NoCommit,
        OpenError,
        StoreError,
        UnsafeOutput,
        ArtifactRefused,
        ImageRefused,
        OutputTreeError,
        CheckError,
        RegistryError,
        ProjectError,
        SourceError,
        Usage,
    );
    None
}

/// Prints a report to stderr: text, or one JSON object with `--json`.
pub fn print(report: &Report, json: bool) {
    let mut err = std::io::stderr().lock();
    if json {
        let _ = writeln!(err, "{}", crate::console::Event::Error { error: report }.line());
        return;
    }
    let _ = writeln!(err, "error: {}", report.message);
    for cause in &report.causes {
        let _ = writeln!(err, "  caused by: {cause}");
    }
    if let Some(hint) = &report.hint {
        let _ = writeln!(err, "  hint: {hint}");
    }
}
