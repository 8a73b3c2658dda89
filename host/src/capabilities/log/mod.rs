//! `log`: lines and progress from plugins, shown by a [`LogSink`].

mod console;
mod host;
mod live;
pub mod sanitize;
pub mod transfer;

pub use console::{Console, Progress};

/// The version of the JSON-lines events `--json` writes on stderr (`"v"` in
/// each: `log`, `progress`, `error`; the README's table). Fields are only
/// added within a version; a change to an existing one raises it.
pub const EVENTS_VERSION: u32 = 1;

/// How important a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Where plugin and host messages go.
pub trait LogSink: Send + Sync {
    /// One line from `source` (a plugin name, or `hostbuild`).
    fn line(&self, source: &str, level: Level, message: &str);
    /// Progress of a long task.
    fn progress(&self, source: &str, task: &str, done: u64, total: Option<u64>);
    /// The work is over: a live display clears itself before the summary.
    fn finish(&self) {}
}
