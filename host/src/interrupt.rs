//! SIGINT and SIGTERM: the future that waits for them, the flag that file
//! work on blocking threads checks between chunks (so a signal never waits
//! for a hash of a huge file), and the error a stopped run returns.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Set once a signal arrived; long file work checks it and stops.
pub fn flag() -> &'static AtomicBool {
    &INTERRUPTED
}

/// Whether a signal arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// The run was stopped by a signal; its containers were removed.
#[derive(Debug, thiserror::Error)]
#[error(
    "interrupted by {signal}; removed {removed} container(s) or service(s) and aborted the open uploads of this run"
)]
pub struct Interrupted {
    pub signal: &'static str,
    pub removed: usize,
}

/// Waits for SIGINT or SIGTERM, sets the flag and names the signal.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let name = tokio::select! {
        _ = async { match int.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGINT",
        _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGTERM",
    };
    INTERRUPTED.store(true, Ordering::Relaxed);
    name
}

impl crate::diagnostics::Diagnose for Interrupted {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        let status = if self.signal == "SIGTERM" { ExitStatus::Terminated } else { ExitStatus::Interrupted };
        (status, None)
    }
}
