//! Per-instance limits: linear memory and the time the plugin itself computes.
//!
//! Time spent inside host calls (a container step may run for an hour) does
//! not count: host calls add their duration to [`GuestClock::host_time`], and
//! the epoch callback compares wall time minus host time with the limit.

use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;

/// The limits a plugin runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest linear memory, in bytes.
    pub memory_bytes: usize,
    /// Longest the plugin may compute in one call, host calls excluded.
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { memory_bytes: 512 << 20, time: Duration::from_secs(60) }
    }
}

/// The plugin asked for more memory than its limit.
#[derive(Debug, thiserror::Error)]
#[error("plugin exceeded its memory limit of {} MiB", .limit_bytes >> 20)]
pub struct MemoryLimitExceeded {
    pub limit_bytes: usize,
}

/// The plugin computed longer than its limit in one call.
#[derive(Debug, thiserror::Error)]
#[error("plugin exceeded its time limit of {limit:?}")]
pub struct TimeLimitExceeded {
    pub limit: Duration,
}

/// Refuses memory growth past the limit, and remembers that it did.
pub struct MemoryLimiter {
    limit_bytes: usize,
}

impl MemoryLimiter {
    pub fn new(limit_bytes: usize) -> Self {
        Self { limit_bytes }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            return Err(wasmtime::Error::new(MemoryLimitExceeded { limit_bytes: self.limit_bytes }));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// Measures the plugin's own computing time within one export call.
#[derive(Debug)]
pub struct GuestClock {
    started: Instant,
    host_time: Duration,
}

impl Default for GuestClock {
    fn default() -> Self {
        Self { started: Instant::now(), host_time: Duration::ZERO }
    }
}

impl GuestClock {
    /// Starts measuring a new export call.
    pub fn restart(&mut self) {
        *self = Self::default();
    }
    /// Records that a host call began at `since` and has just ended.
    pub fn host_call_ended(&mut self, since: Instant) {
        self.host_time += since.elapsed();
    }
    /// Wall time of the current call minus the time spent in host calls.
    pub fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.host_time)
    }
}
