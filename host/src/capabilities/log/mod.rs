//! `log`: lines and progress from plugins, shown by a [`LogSink`].

mod console;
mod host;
pub mod sanitize;

pub use console::Console;

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
}
