//! `log`: lines and progress from plugins, shown by a [`LogSink`].

mod host;

pub use host::{add_to_linker, LogCtxView, LogView};

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

/// A sink that keeps what it is told, for unit tests.
#[cfg(test)]
#[derive(Default)]
pub struct Recorded(pub std::sync::Mutex<Vec<String>>);

#[cfg(test)]
impl LogSink for Recorded {
    fn line(&self, source: &str, level: Level, message: &str) {
        self.0.lock().unwrap().push(format!("{source} {level:?} {message}"));
    }
    fn progress(&self, source: &str, task: &str, done: u64, total: Option<u64>) {
        self.0.lock().unwrap().push(format!("{source} {task} {done}/{total:?}"));
    }
}
