//! Live progress on a terminal (`run --progress tty`, the default there):
//! one line per platform, redrawn in place, with a spinner, the current step
//! (or image build), how long it has run and its latest output line. Lines
//! of hostbuild and of the plugins themselves (a step starting, warnings,
//! errors) are printed above the live lines and stay; a step's own output
//! only passes through its live line unless `-v` (the failing step's last
//! lines come with the error, as in plain mode). Text arrives sanitized.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{counted, printed_lines};
use crate::capabilities::log::Level;

pub struct Live {
    multi: MultiProgress,
    /// Platform name → its live line.
    bars: Mutex<HashMap<String, ProgressBar>>,
    /// When each transfer was first seen, for its rate.
    started: Mutex<HashMap<String, Instant>>,
    verbose: bool,
}

impl Live {
    pub fn new(verbose: bool) -> Self {
        Self::drawing_to(ProgressDrawTarget::stderr_with_hz(10), verbose)
    }

    fn drawing_to(target: ProgressDrawTarget, verbose: bool) -> Self {
        let multi = MultiProgress::with_draw_target(target);
        Self { multi, bars: Mutex::default(), started: Mutex::default(), verbose }
    }

    /// The live line of `platform`, made on first use.
    fn bar(&self, platform: &str) -> ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        bars.entry(platform.to_string())
            .or_insert_with(|| {
                let style = ProgressStyle::with_template("{spinner} {prefix} {elapsed:>4} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let bar = self.multi.add(ProgressBar::new_spinner().with_style(style));
                bar.set_prefix(platform.to_string());
                bar.enable_steady_tick(Duration::from_millis(100));
                bar
            })
            .clone()
    }

    fn print(&self, text: &str) {
        let _ = self.multi.println(text);
    }

    pub fn line(&self, source: &str, level: Level, message: &str) {
        if source == "hostbuild" {
            if level != Level::Debug || self.verbose {
                printed_lines(source, level, message).for_each(|l| self.print(&l));
            }
            return;
        }
        let (platform, what) = source.split_once(':').unwrap_or((source, ""));
        let bar = self.bar(platform);
        if what.is_empty() {
            // The plugin's own line; `step `NAME`: ...` starts a step.
            if let Some(name) = message.strip_prefix("step `").and_then(|m| m.split('`').next()) {
                bar.set_prefix(format!("{platform} {name}"));
                bar.reset_elapsed();
                bar.set_message("");
            }
        } else if let Some(recipe) = what.strip_prefix("image:") {
            bar.set_prefix(format!("{platform} image {recipe}"));
        }
        let shown = match level {
            Level::Debug => self.verbose,
            _ => what.is_empty() || what.starts_with("image:") || level >= Level::Warn || self.verbose,
        };
        if shown {
            printed_lines(source, level, message).for_each(|l| self.print(&l));
        }
        if let Some(last) = message.lines().rev().find(|l| !l.trim().is_empty()) {
            bar.set_message(last.to_string());
        }
    }

    pub fn progress(&self, source: &str, task: &str, done: u64, total: Option<u64>) {
        let (platform, _) = source.split_once(':').unwrap_or((source, ""));
        let text = match task {
            // Transfers count bytes: size, rate and time left.
            "upload" | "download" => self.transfer(source, task, done, total),
            _ => format!("{task} {}", counted(done, total)),
        };
        self.bar(platform).set_message(text);
    }

    /// `upload 12.0/256.0 MiB, 98.1 MiB/s, 2s left`.
    fn transfer(&self, source: &str, task: &str, done: u64, total: Option<u64>) -> String {
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        let since = *started.entry(format!("{source}\0{task}")).or_insert_with(Instant::now);
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        let secs = since.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { mib(done) / secs } else { 0.0 };
        match total {
            Some(t) if rate > 0.0 && done < t => {
                format!("{task} {:.1}/{:.1} MiB, {rate:.1} MiB/s, {:.0}s left", mib(done), mib(t), mib(t - done) / rate)
            }
            Some(t) => format!("{task} {:.1}/{:.1} MiB", mib(done), mib(t)),
            None => format!("{task} {:.1} MiB, {rate:.1} MiB/s", mib(done)),
        }
    }

    /// Removes the live lines (before the summary, and on the way out).
    pub fn finish(&self) {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        for (_, bar) in bars.drain() {
            bar.finish_and_clear();
        }
        let _ = self.multi.clear();
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_show_size_rate_and_time_left() {
        let live = Live::drawing_to(ProgressDrawTarget::hidden(), false);
        let first = live.transfer("armv7", "upload", 0, Some(256 << 20));
        assert_eq!(first, "upload 0.0/256.0 MiB");
        std::thread::sleep(Duration::from_millis(100));
        let later = live.transfer("armv7", "upload", 64 << 20, Some(256 << 20));
        assert!(
            later.starts_with("upload 64.0/256.0 MiB, ") && later.contains(" MiB/s, ") && later.ends_with("s left")
        );
        assert_eq!(live.transfer("armv7", "upload", 256 << 20, Some(256 << 20)), "upload 256.0/256.0 MiB");
    }
}
