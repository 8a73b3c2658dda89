use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::sanitize::sanitize;
use super::{Level, LogSink};

/// Writes to stderr: `[source] message` lines, or JSON lines with `--json`.
/// On a terminal, progress rewrites one line; otherwise it prints at most
/// one line a second per task, plus the final one.
pub struct Console {
    verbose: bool,
    json: bool,
    terminal: bool,
    last_progress: Mutex<Option<(String, Instant)>>,
}

impl Console {
    pub fn new(verbose: bool, json: bool) -> Self {
        Self { verbose, json, terminal: std::io::stderr().is_terminal(), last_progress: Mutex::new(None) }
    }

    fn emit(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }
}

impl LogSink for Console {
    fn line(&self, source: &str, level: Level, message: &str) {
        if level == Level::Debug && !self.verbose {
            return;
        }
        // Plugins, steps and image builds control these bytes.
        let (source, message) = (sanitize(source), sanitize(message));
        let (source, message) = (source.as_ref(), message.as_ref());
        if self.json {
            let v = serde_json::json!({"v": super::EVENTS_VERSION, "type": "log", "source": source, "level": level, "message": message});
            return self.emit(&v.to_string());
        }
        let tag = match level {
            Level::Warn => "warning: ",
            Level::Error => "error: ",
            _ => "",
        };
        if self.terminal && self.last_progress.lock().map(|p| p.is_some()).unwrap_or(false) {
            self.emit("");
        }
        for line in message.lines() {
            self.emit(&format!("[{source}] {tag}{line}"));
        }
    }

    fn progress(&self, source: &str, task: &str, done: u64, total: Option<u64>) {
        let (source, task) = (sanitize(source), sanitize(task));
        let (source, task) = (source.as_ref(), task.as_ref());
        let finished = total.is_some_and(|t| done >= t);
        let text = match total {
            Some(t) if t > 0 => format!("[{source}] {task}: {done}/{t} ({}%)", done.saturating_mul(100) / t),
            _ => format!("[{source}] {task}: {done}"),
        };
        if self.json {
            let v = serde_json::json!({"v": super::EVENTS_VERSION, "type": "progress", "source": source, "task": task, "done": done, "total": total});
            return self.emit(&v.to_string());
        }
        let Ok(mut last) = self.last_progress.lock() else { return };
        if self.terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{text}");
            if finished {
                let _ = writeln!(err);
            }
            *last = (!finished).then(|| (task.to_string(), Instant::now()));
            return;
        }
        let due = match &*last {
            Some((t, at)) if t == task => at.elapsed() >= Duration::from_secs(1),
            _ => true,
        };
        if due || finished {
            drop(last);
            self.emit(&text);
            if let Ok(mut last) = self.last_progress.lock() {
                *last = Some((task.to_string(), Instant::now()));
            }
        }
    }
}
