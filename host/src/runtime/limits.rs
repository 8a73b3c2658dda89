//! Per-instance limits: linear memory and the time the plugin itself computes.
//!
//! Time spent inside host calls (a container step may run for an hour) does
//! not count: host calls add their duration to the plugin's gate
//! ([`crate::capabilities::Gate::timed`]), and the epoch callback compares
//! wall time minus host time with the limit.

use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;

/// The limits a plugin runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most bytes of all its linear memories and tables together.
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

/// Bounds what one plugin instance may hold: the sum of all its linear
/// memories (a component can hold several core instances, each with its
/// own memory) and table elements against the memory limit, and how many
/// instances, memories and tables it may create at all.
pub struct MemoryLimiter {
    limit_bytes: usize,
    /// Bytes of every linear memory of the store, as last grown.
    memories: usize,
    /// Elements of every table of the store.
    table_elements: usize,
}

/// Most core instances, memories and tables one plugin may create (a
/// component built by the SDK has a handful of each).
const MAX_INSTANCES: usize = 256;
const MAX_MEMORIES: usize = 64;
const MAX_TABLES: usize = 256;
/// What a table element counts for against the memory limit.
const TABLE_ELEMENT_BYTES: usize = 16;

impl MemoryLimiter {
    pub fn new(limit_bytes: usize) -> Self {
        Self { limit_bytes, memories: 0, table_elements: 0 }
    }

    fn used(&self) -> usize {
        self.memories.saturating_add(self.table_elements.saturating_mul(TABLE_ELEMENT_BYTES))
    }

    fn exceeded(&self) -> wasmtime::Error {
        wasmtime::Error::new(MemoryLimitExceeded { limit_bytes: self.limit_bytes })
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let total = self.memories.saturating_sub(current).saturating_add(desired);
        let used = total.saturating_add(self.table_elements.saturating_mul(TABLE_ELEMENT_BYTES));
        if used > self.limit_bytes {
            return Err(self.exceeded());
        }
        self.memories = total;
        Ok(true)
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let elements = self.table_elements.saturating_sub(current).saturating_add(desired);
        let previous = std::mem::replace(&mut self.table_elements, elements);
        if self.used() > self.limit_bytes {
            self.table_elements = previous;
            return Err(self.exceeded());
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

/// Measures the plugin's own computing time within one export call: wall
/// time since the call began, minus the host time its [`Gate`] counted.
///
/// [`Gate`]: crate::capabilities::Gate
#[derive(Debug)]
pub struct GuestClock {
    started: Instant,
}

impl Default for GuestClock {
    fn default() -> Self {
        Self { started: Instant::now() }
    }
}

impl GuestClock {
    /// Starts measuring a new export call.
    pub fn restart(&mut self) {
        *self = Self::default();
    }
    /// Wall time of the current call minus `host_time`.
    pub fn guest_time(&self, host_time: Duration) -> Duration {
        self.started.elapsed().saturating_sub(host_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A component of two core instances of one module, each with a linear
    /// memory of `pages` 64 KiB pages: hand-assembled, so the test names
    /// every byte the runtime is given.
    fn two_memories(pages: u32) -> Vec<u8> {
        let mut leb = Vec::new();
        let mut n = pages;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                leb.push(byte);
                break;
            }
            leb.push(byte | 0x80);
        }
        // Core module: a memory section with one memory of `pages` pages.
        let mut memory = vec![0x01, 0x00];
        memory.extend(&leb);
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.push(0x05);
        module.push(memory.len() as u8);
        module.extend(memory);
        // Component: the module, then two instances of it.
        let mut component = b"\0asm\x0d\0\x01\0".to_vec();
        component.push(0x01);
        component.push(module.len() as u8);
        component.extend(module);
        component.extend([0x02, 0x07, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
        component
    }

    fn instantiate(component: &[u8], limit: usize) -> wasmtime::Result<()> {
        let engine = crate::runtime::engine();
        let component = wasmtime::component::Component::new(engine, component)?;
        let mut store = wasmtime::Store::new(engine, MemoryLimiter::new(limit));
        store.limiter(|l| l);
        store.set_epoch_deadline(u64::MAX / 2);
        let linker = wasmtime::component::Linker::new(engine);
        futures::executor::block_on(linker.instantiate_async(&mut store, &component)).map(drop)
    }

    #[test]
    fn all_memories_of_a_component_count_together() {
        // Each memory is 150 MiB, under a 256 MiB limit; both are 300 MiB.
        let hog = two_memories(2400);
        let err = instantiate(&hog, 256 << 20).expect_err("two memories over the limit together");
        assert!(err.downcast_ref::<MemoryLimitExceeded>().is_some(), "{err:?}");
        instantiate(&hog, 320 << 20).expect("both fit under a larger limit");
        instantiate(&two_memories(1), 1 << 20).expect("small memories fit");
    }

    #[test]
    fn growth_is_counted_once_and_tables_count_too() {
        let mut limiter = MemoryLimiter::new(1000);
        assert!(limiter.memory_growing(0, 600, None).is_ok());
        assert!(limiter.memory_growing(600, 900, None).is_ok(), "a memory's growth replaces its old size");
        assert!(limiter.memory_growing(0, 200, None).is_err(), "a second memory tips the total over");
        assert!(limiter.table_growing(0, 6, None).is_ok());
        assert!(limiter.table_growing(6, 7, None).is_err(), "table elements count against the same limit");
    }
}
