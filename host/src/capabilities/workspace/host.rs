use std::time::Instant;

use super::FsError;
use crate::output_tree::{Entry as TreeEntry, Kind};
use crate::runtime::bindings::workspace::{Entry, EntryKind, FsError as WitError, Host, Tree};
use crate::runtime::HostState;

fn wit_error(e: FsError) -> WitError {
    match e {
        FsError::NotFound(m) => WitError::NotFound(m),
        FsError::InvalidPath(m) => WitError::InvalidPath(m),
        FsError::NotPermitted(m) => WitError::NotPermitted(m),
        FsError::Io(m) => WitError::Io(m),
    }
}

fn wit_entry(e: TreeEntry) -> Entry {
    let kind = match e.kind {
        Kind::File => EntryKind::File,
        Kind::Directory => EntryKind::Directory,
        Kind::Symlink => EntryKind::Symlink,
        Kind::Other => EntryKind::Other,
    };
    Entry { name: e.name, kind, size: e.size, executable: e.executable }
}

impl HostState {
    /// Runs a workspace operation on a blocking thread (a read may be large;
    /// a signal must still stop the run meanwhile), counting its time as
    /// host time.
    async fn files<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&super::Workspace) -> Result<R, FsError> + Send + 'static,
    ) -> Result<R, WitError> {
        let started = Instant::now();
        let workspace = self.lent.workspace.clone();
        let result = match tokio::task::spawn_blocking(move || f(&workspace)).await {
            Ok(result) => result.map_err(wit_error),
            Err(e) => Err(WitError::Io(format!("file task failed: {e}"))),
        };
        self.clock.host_call_ended(started);
        result
    }
}

impl Host for HostState {
    async fn read_file(&mut self, tree: Tree, path: String) -> wasmtime::Result<Result<Vec<u8>, WitError>> {
        Ok(self.files(move |ws| ws.read(tree == Tree::Output, &path)).await)
    }

    async fn list_dir(&mut self, tree: Tree, path: String) -> wasmtime::Result<Result<Vec<Entry>, WitError>> {
        let listed = self.files(move |ws| ws.list(tree == Tree::Output, &path)).await;
        Ok(listed.map(|v| v.into_iter().map(wit_entry).collect()))
    }

    async fn metadata(&mut self, tree: Tree, path: String) -> wasmtime::Result<Result<Entry, WitError>> {
        Ok(self.files(move |ws| ws.metadata(tree == Tree::Output, &path)).await.map(wit_entry))
    }

    async fn write_file(&mut self, path: String, contents: Vec<u8>) -> wasmtime::Result<Result<(), WitError>> {
        Ok(self.files(move |ws| ws.write(&path, &contents)).await)
    }
}
