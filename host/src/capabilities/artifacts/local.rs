//! A directory with the same layout as the S3 store: the embedded default.
//! Writes go to a temporary file in the target directory and are renamed
//! into place (or hard-linked, for create-only writes, which fails
//! atomically when the key exists).

use std::fs::File;
use std::path::PathBuf;

use super::store::{check_key, FileDigest, FileSlice, HashingWriter, ObjectStore, StoreError};

pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
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
        let src = self.path(key)?;
        let to = to.try_clone().map_err(|e| io(e, "the download's file"))?;
        let key = key.to_string();
        blocking(move || {
            let reader = File::open(&src).map_err(|e| io(e, &key))?;
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

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pending = vec![self.root.clone()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    let key = rel.to_string_lossy().into_owned();
                    // Temporary files of writes in progress are not objects.
                    if key.starts_with(prefix)
                        && !rel.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".tmp"))
                    {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match std::fs::remove_file(self.path(key)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e, key)),
            _ => Ok(()),
        }
    }
}
