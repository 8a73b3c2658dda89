//! A directory with the same layout as the S3 store: the embedded default.
//! Writes go to a temporary file in the target directory and are renamed
//! into place (or hard-linked, for create-only writes, which fails
//! atomically when the key exists).
//!
//! Its contents are not trusted (a cloned project may ship `artifacts/`):
//! reads open regular files only, resolved inside the directory without
//! following a symlink out of it or in the last component, and listing never
//! follows a symlink.

use std::fs::File;
use std::path::PathBuf;

use super::{check_object_key, FileDigest, FileSlice, HashingWriter, Object, ObjectStore, StoreError};
use crate::artifact::layout::Layout;
use crate::output_tree::{LentDir, TreeError};

pub struct LocalStore {
    root: PathBuf,
    layout: Layout,
}

impl LocalStore {
    pub fn new(root: PathBuf, layout: Layout) -> Self {
        Self { root, layout }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_object_key(key)?;
        Ok(self.root.join(key))
    }
}

/// Runs file work on tokio's blocking threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| StoreError::Io(format!("file task failed: {e}")))?
}

fn io(e: std::io::Error, what: &str) -> StoreError {
    match e.kind() {
        std::io::ErrorKind::NotFound => StoreError::NotFound(what.to_string()),
        std::io::ErrorKind::PermissionDenied => StoreError::Denied(format!("{what}: {e}")),
        _ => StoreError::Io(format!("{what}: {e}")),
    }
}

#[async_trait::async_trait]
impl ObjectStore for LocalStore {
    fn describe(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn layout(&self) -> Layout {
        self.layout
    }

    async fn put(&self, key: &str, from: &File, create_only: bool) -> Result<(), StoreError> {
        let dest = self.path(key)?;
        let dir = dest.parent().unwrap_or(&self.root).to_path_buf();
        let from = from.try_clone().map_err(|e| io(e, "the file to upload"))?;
        let key = key.to_string();
        // Copies can be gigabytes: off the async threads, so a signal still
        // stops the run while one is under way.
        blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| io(e, &key))?;
            let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| io(e, &key))?;
            let mut reader = FileSlice::whole(&from).map_err(|e| io(e, "the file to upload"))?;
            std::io::copy(&mut reader, tmp.as_file_mut()).map_err(|e| io(e, &key))?;
            tmp.as_file().sync_all().map_err(|e| io(e, &key))?;
            if create_only {
                match std::fs::hard_link(tmp.path(), &dest) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(StoreError::AlreadyExists(key)),
                    Err(e) => Err(io(e, &key)),
                }
            } else {
                tmp.persist(&dest).map(drop).map_err(|e| io(e.error, &key))
            }
        })
        .await
    }

    async fn get(&self, key: &str, to: &File, limit: u64) -> Result<FileDigest, StoreError> {
        check_object_key(key)?;
        let root = self.root.clone();
        let to = to.try_clone().map_err(|e| io(e, "the download's file"))?;
        let key = key.to_string();
        blocking(move || {
            let dir = LentDir::open_ambient(&root).map_err(|e| io(e, &key))?;
            let (reader, _) = dir.open_regular(&key, limit).map_err(|e| match e {
                TreeError::NotFound(_) => StoreError::NotFound(key.clone()),
                TreeError::TooLarge { .. } => StoreError::TooLarge { key: key.clone(), limit },
                e if e.is_escape() => StoreError::Refused { key: key.clone(), problem: e.to_string() },
                other => StoreError::Io(format!("object `{key}` cannot be read: {other}")),
            })?;
            let mut writer = HashingWriter::new(std::io::BufWriter::with_capacity(1 << 20, &to));
            // Never more than the limit, even if the object grows meanwhile.
            let mut reader = std::io::Read::take(reader, limit.saturating_add(1));
            std::io::copy(&mut reader, &mut writer).map_err(|e| io(e, &key))?;
            std::io::Write::flush(&mut writer).map_err(|e| io(e, &key))?;
            let digest = writer.finish();
            if digest.size > limit {
                return Err(StoreError::TooLarge { key, limit });
            }
            Ok(digest)
        })
        .await
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.path(key)?.is_file())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Object>, StoreError> {
        let mut keys = Vec::new();
        let mut pending = vec![self.root.clone()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                // Symlinks are no objects, and are never followed.
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    pending.push(path);
                } else if let (true, Ok(rel)) = (meta.is_file(), path.strip_prefix(&self.root)) {
                    let key = rel.to_string_lossy().into_owned();
                    // Temporary files of writes in progress are not objects.
                    if key.starts_with(prefix)
                        && !rel.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".tmp"))
                    {
                        keys.push(Object { key, size: meta.len() });
                    }
                }
            }
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match std::fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e, key)),
            _ => Ok(()),
        }
    }
}
