//! The `workspace` binding: the source tree (read-only) and the output
//! tree, through [`Workspace`]; file work on a blocking thread, counted as
//! host time.

use wasmtime::component::{HasData, Linker};

use super::{FsError, Workspace};
use crate::capabilities::gate::Gate;
use crate::output_tree::{Entry as TreeEntry, Kind};
use crate::runtime::bindings::workspace::{self as wit, Entry, EntryKind, FsError as WitError, Host, Tree};

/// What a `workspace` call sees: the lent trees and the gate.
pub struct WorkspaceCtxView<'a> {
    pub workspace: &'a Workspace,
    pub gate: &'a mut Gate,
}

/// A store's data that lends `workspace`.
pub trait WorkspaceView: Send {
    fn workspace(&mut self) -> WorkspaceCtxView<'_>;
}

struct HasWorkspace;

impl HasData for HasWorkspace {
    type Data<'a> = WorkspaceCtxView<'a>;
}

/// Links `hostbuild:platform/workspace` alone.
pub fn add_to_linker<T: WorkspaceView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasWorkspace>(linker, T::workspace)
}

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

impl WorkspaceCtxView<'_> {
    /// Runs a workspace operation on a blocking thread (a read may be large;
    /// a signal must still stop the run meanwhile), counting its time as
    /// host time.
    async fn files<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&Workspace) -> Result<R, FsError> + Send + 'static,
    ) -> Result<R, WitError> {
        let workspace = self.workspace.clone();
        let work = tokio::task::spawn_blocking(move || f(&workspace));
        match self.gate.timed(work).await {
            Ok(result) => result.map_err(wit_error),
            Err(e) => Err(WitError::Io(format!("file task failed: {e}"))),
        }
    }
}

impl Host for WorkspaceCtxView<'_> {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::output_tree::{LentDir, OutputTree};

    struct Alone {
        workspace: Workspace,
        gate: Gate,
    }

    impl WorkspaceView for Alone {
        fn workspace(&mut self) -> WorkspaceCtxView<'_> {
            WorkspaceCtxView { workspace: &self.workspace, gate: &mut self.gate }
        }
    }

    #[tokio::test]
    async fn links_alone_and_keeps_calls_inside_the_trees() {
        let mut linker = Linker::<Alone>::new(crate::runtime::engine());
        add_to_linker(&mut linker).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("src")).unwrap();
        std::fs::write(tmp.path().join("src/a.txt"), "alpha").unwrap();
        let output = Arc::new(OutputTree::open(tmp.path(), "out").unwrap());
        let source = LentDir::open_ambient(&tmp.path().join("src")).unwrap();
        let mut alone = Alone { workspace: Workspace::new(source, output, 1 << 20), gate: Gate::new("p") };
        let mut ws = alone.workspace();
        assert_eq!(ws.read_file(Tree::Source, "a.txt".into()).await.unwrap().unwrap(), b"alpha");
        assert!(matches!(
            ws.read_file(Tree::Source, "../src/a.txt".into()).await.unwrap(),
            Err(WitError::InvalidPath(_))
        ));
        ws.write_file("built/x".into(), b"x".to_vec()).await.unwrap().unwrap();
        let listed = ws.list_dir(Tree::Output, "built".into()).await.unwrap().unwrap();
        assert_eq!((listed[0].name.as_str(), listed[0].kind), ("x", EntryKind::File));
        assert!(alone.gate.host_time() > std::time::Duration::ZERO, "file work counts as host time");
    }
}
