//! What the host lends besides containers: logging, host facts, files and
//! the artifact repository.

use crate::bindings::hostbuild::platform::{artifacts as a, host_info, log as l, workspace as w};

pub use a::StoreError;
pub use host_info::Machine;
pub use w::{Entry, EntryKind, FsError, Tree};

/// Logs an informational line.
pub fn info(message: &str) {
    l::write(l::Level::Info, message);
}
/// Logs a line shown only with `--verbose`.
pub fn debug(message: &str) {
    l::write(l::Level::Debug, message);
}
/// Logs a warning.
pub fn warn(message: &str) {
    l::write(l::Level::Warn, message);
}
/// Reports progress of a long task.
pub fn progress(task: &str, done: u64, total: Option<u64>) {
    l::progress(task, done, total);
}

/// The host machine.
pub fn machine() -> Machine {
    host_info::host()
}
/// Commit id of the source tree, when known.
pub fn commit() -> Option<String> {
    host_info::commit()
}
/// A host environment variable the platform declared with `reads_env`.
pub fn env_var(name: &str) -> Option<String> {
    host_info::env_var(name)
}

/// Files of the source tree (read-only) and of the output tree.
pub mod workspace {
    use super::w;
    pub use w::{Entry, EntryKind, FsError, Tree};

    pub fn read(tree: Tree, path: &str) -> Result<Vec<u8>, FsError> {
        w::read_file(tree, path)
    }
    pub fn list(tree: Tree, path: &str) -> Result<Vec<Entry>, FsError> {
        w::list_dir(tree, path)
    }
    pub fn metadata(tree: Tree, path: &str) -> Result<Entry, FsError> {
        w::metadata(tree, path)
    }
    /// Writes a file of the output tree, creating its parent directories.
    pub fn write(path: &str, contents: &[u8]) -> Result<(), FsError> {
        w::write_file(path, contents)
    }
}

/// The artifact repository the user configured.
pub mod artifacts {
    use super::a;
    pub use a::StoreError;

    pub fn exists(key: &str) -> Result<bool, StoreError> {
        a::exists(key)
    }
    pub fn publish(path: &str, key: &str) -> Result<(), StoreError> {
        a::publish(path, key)
    }
    pub fn fetch(key: &str, path: &str) -> Result<(), StoreError> {
        a::fetch(key, path)
    }
}
