//! Progress of a transfer whose bytes a counter tracks (an object store's
//! uploaded or downloaded bytes): reported as `progress` events every
//! 250 ms while the work runs, and once more when it succeeds.

use std::future::Future;
use std::time::Duration;

use crate::capabilities::log::LogSink;

/// Runs `work`, reporting `moved() - moved_at_start` (at most `total`) as
/// `task` (`upload` or `download`) of `source`.
pub async fn reporting<T, E>(
    work: impl Future<Output = Result<T, E>>,
    log: &dyn LogSink,
    source: &str,
    task: &str,
    total: Option<u64>,
    moved: impl Fn() -> u64,
) -> Result<T, E> {
    let start = moved();
    let done = || {
        let n = moved().saturating_sub(start);
        total.map_or(n, |t| n.min(t))
    };
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            _ = tick.tick() => log.progress(source, task, done(), total),
        }
    };
    if result.is_ok() {
        log.progress(source, task, total.unwrap_or_else(done), total);
    }
    result
}
