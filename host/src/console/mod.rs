//! The terminal and stderr: the [`Console`] log sink (plain lines, a live
//! display, or JSON-lines events), transfer progress, and the sanitizer
//! every untrusted text passes before it is printed.

mod live;
pub mod sanitize;
pub mod transfer;

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::capabilities::log::{Level, LogSink};
use live::Live;
use sanitize::sanitize;

/// The version of the JSON-lines events `--json` writes on stderr (`"v"` in
/// each: `log`, `progress`, `error`; the README's table). Fields are only
/// added within a version; a change to an existing one raises it.
pub const EVENTS_VERSION: u32 = 1;

/// One JSON-lines event on stderr (the README's "JSON events" table).
#[derive(serde::Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event<'a> {
    Log {
        source: &'a str,
        level: Level,
        message: &'a str,
    },
    Progress {
        source: &'a str,
        task: &'a str,
        done: u64,
        total: Option<u64>,
    },
    /// The run failed: what `--json` prints instead of `error:` lines.
    Error {
        error: &'a crate::diagnostics::Report,
    },
}

impl Event<'_> {
    /// The event as one line of JSON, with its version.
    pub fn line(&self) -> String {
        #[derive(serde::Serialize)]
        struct Versioned<'e, 'a> {
            v: u32,
            #[serde(flatten)]
            event: &'e Event<'a>,
        }
        serde_json::to_string(&Versioned { v: EVENTS_VERSION, event: self }).unwrap_or_default()
    }
}

/// `[source] warning: LINE` for each line of `message`: how plain and live
/// output print a log line.
fn printed_lines<'a>(source: &'a str, level: Level, message: &'a str) -> impl Iterator<Item = String> + 'a {
    let tag = match level {
        Level::Warn => "warning: ",
        Level::Error => "error: ",
        _ => "",
    };
    message.lines().map(move |line| format!("[{source}] {tag}{line}"))
}

/// `done/total (pct%)`, or `done` when there is no total.
fn counted(done: u64, total: Option<u64>) -> String {
    match total {
        Some(t) if t > 0 => format!("{done}/{t} ({}%)", done.saturating_mul(100) / t),
        _ => done.to_string(),
    }
}

/// Writes to stderr: `[source] message` lines, or JSON lines with `--json`.
/// On a terminal, progress rewrites one line; otherwise it prints at most
/// one line a second per task, plus the final one.
pub struct Console {
    verbose: bool,
    json: bool,
    terminal: bool,
    last_progress: Mutex<Option<(String, Instant)>>,
    /// The live display (`Progress::Tty`).
    live: Option<Live>,
}

/// How progress is shown (`run --progress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Progress {
    /// `tty` on a terminal (not `TERM=dumb`), else `plain`.
    Auto,
    /// Live lines redrawn in place, one per platform.
    Tty,
    /// One line per event, greppable: what CI logs want.
    Plain,
    /// The JSON-lines events of `--json`.
    Json,
}

impl Console {
    pub fn new(verbose: bool, json: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        Self { verbose, json, terminal, last_progress: Mutex::new(None), live: None }
    }

    /// A console for `run`: `--json` wins over `progress`.
    pub fn with_progress(verbose: bool, json: bool, progress: Progress) -> Self {
        let terminal = std::io::stderr().is_terminal() && std::env::var("TERM").map_or(true, |t| t != "dumb");
        let json = json || progress == Progress::Json;
        let tty = !json && (progress == Progress::Tty || (progress == Progress::Auto && terminal));
        let live = tty.then(|| Live::new(verbose));
        let terminal = terminal && progress != Progress::Plain;
        Self { verbose, json, terminal, last_progress: Mutex::new(None), live }
    }

    fn emit(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }
}

impl LogSink for Console {
    fn line(&self, source: &str, level: Level, message: &str) {
        // The live display shows debug lines (an image build's current
        // instruction) in place, printing them only with -v.
        if level == Level::Debug && !self.verbose && self.live.is_none() {
            return;
        }
        // Plugins, steps and image builds control these bytes.
        let (source, message) = (sanitize(source), sanitize(message));
        let (source, message) = (source.as_ref(), message.as_ref());
        if let Some(live) = &self.live {
            return live.line(source, level, message);
        }
        if self.json {
            return self.emit(&Event::Log { source, level, message }.line());
        }
        if self.terminal && self.last_progress.lock().map(|p| p.is_some()).unwrap_or(false) {
            self.emit("");
        }
        for line in printed_lines(source, level, message) {
            self.emit(&line);
        }
    }

    fn progress(&self, source: &str, task: &str, done: u64, total: Option<u64>) {
        let (source, task) = (sanitize(source), sanitize(task));
        let (source, task) = (source.as_ref(), task.as_ref());
        if let Some(live) = &self.live {
            return live.progress(source, task, done, total);
        }
        if self.json {
            return self.emit(&Event::Progress { source, task, done, total }.line());
        }
        let finished = total.is_some_and(|t| done >= t);
        let text = format!("[{source}] {task}: {}", counted(done, total));
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

    fn finish(&self) {
        if let Some(live) = &self.live {
            live.finish();
        }
    }
}
