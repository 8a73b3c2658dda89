//! A step's output as it streams from any engine: cut into lines of at most
//! [`MAX_LINE`] bytes (only new bytes are searched, no buffer grows past a
//! line), each line to the log, the last [`TAIL_LINES`] kept for the outcome.

use std::collections::VecDeque;

use crate::capabilities::log::{Level, LogSink};

/// Lines of a step's output kept for its outcome.
pub const TAIL_LINES: usize = 50;

/// Longest line kept whole: a longer one is split into pieces of this size,
/// so a step printing megabytes without a newline never grows a buffer.
pub const MAX_LINE: usize = 64 << 10;

/// The last lines of a step, for its outcome.
#[derive(Default)]
pub struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    pub fn push(&mut self, line: String) {
        self.lines.push_back(line);
        if self.lines.len() > TAIL_LINES {
            self.lines.pop_front();
        }
    }

    pub fn into_lines(self) -> Vec<String> {
        self.lines.into_iter().collect()
    }
}

/// One output stream cut into lines.
#[derive(Default)]
pub struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    pub fn push(&mut self, mut bytes: &[u8], mut emit: impl FnMut(&str)) {
        while !bytes.is_empty() {
            let room = MAX_LINE - self.partial.len();
            let window = &bytes[..bytes.len().min(room)];
            match window.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    self.partial.extend_from_slice(&window[..end]);
                    self.flush(&mut emit);
                    bytes = &bytes[end + 1..];
                }
                None => {
                    self.partial.extend_from_slice(window);
                    bytes = &bytes[window.len()..];
                    if self.partial.len() == MAX_LINE {
                        self.flush(&mut emit);
                    }
                }
            }
        }
    }

    pub fn finish(&mut self, mut emit: impl FnMut(&str)) {
        if !self.partial.is_empty() {
            self.flush(&mut emit);
        }
    }

    fn flush(&mut self, emit: &mut impl FnMut(&str)) {
        let line = String::from_utf8_lossy(&self.partial);
        emit(line.trim_end_matches('\r'));
        self.partial.clear();
    }
}

/// The stdout and stderr of one step, going to the log and its tail.
pub struct StepOutput<'a> {
    log: &'a dyn LogSink,
    step: String,
    source: String,
    streams: [Lines; 2],
    pub tail: Tail,
}

impl<'a> StepOutput<'a> {
    /// Output of step `step` of `plugin`.
    pub fn new(log: &'a dyn LogSink, plugin: &str, step: &str) -> Self {
        Self {
            log,
            step: step.into(),
            source: format!("{plugin}:{step}"),
            streams: Default::default(),
            tail: Tail::default(),
        }
    }

    /// The step's name.
    pub fn step(&self) -> &str {
        &self.step
    }

    /// Bytes of stdout (`stderr` false) or stderr.
    pub fn push(&mut self, stderr: bool, bytes: &[u8]) {
        let (log, source, tail) = (self.log, &self.source, &mut self.tail);
        self.streams[usize::from(stderr)].push(bytes, |line| {
            log.line(source, Level::Info, line);
            tail.push(line.to_string());
        });
    }

    /// Flushes partial lines at the end of the output.
    pub fn finish(&mut self) {
        let (log, source, tail) = (self.log, &self.source, &mut self.tail);
        for stream in &mut self.streams {
            stream.finish(|line| {
                log.line(source, Level::Info, line);
                tail.push(line.to_string());
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Lines, MAX_LINE};

    #[test]
    fn long_lines_are_split_and_nothing_is_rescanned() {
        let mut lines = Lines::default();
        let mut seen: Vec<usize> = Vec::new();
        // 200 KiB without a newline, then "a\nb" in two chunks.
        for _ in 0..200 {
            lines.push(&[b'x'; 1024], |l| seen.push(l.len()));
        }
        lines.push(b"a\nb", |l| seen.push(l.len()));
        lines.finish(|l| seen.push(l.len()));
        assert_eq!(seen, [MAX_LINE, MAX_LINE, MAX_LINE, 200 * 1024 - 3 * MAX_LINE + 1, 1]);
        let mut crlf = Vec::new();
        lines.push(b"one\r\ntwo\n", |l| crlf.push(l.to_string()));
        assert_eq!(crlf, ["one", "two"]);
    }
}
