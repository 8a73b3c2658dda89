//! The object store under the artifact repository: keys relative to the
//! repository's prefix, whole files in and out.
//!
//! Files cross this interface as open handles, never as paths: the caller
//! opened them (an output tree hands out regular files only, opened without
//! following links out of the tree), so a store can neither be pointed at
//! nor tricked into another file. Stores read and write them in streams.
//!
//! Backends: [`local`] (a directory) and [`s3`]; [`open`] makes one from
//! `--store`; [`transfer`] assembles ranged downloads.

pub mod local;
pub mod open;
pub mod s3;
pub mod transfer;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::artifact::layout::Layout;

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("no object `{0}`")]
    NotFound(String),
    #[error("object `{0}` already exists")]
    AlreadyExists(String),
    #[error("access denied: {0}")]
    Denied(String),
    #[error("the store is unreachable: {0}")]
    Unreachable(String),
    #[error("invalid key `{0}`")]
    InvalidKey(String),
    #[error("object `{key}` is larger than {limit} bytes")]
    TooLarge { key: String, limit: u64 },
    /// The store holds something at `key` that is no object to read: a
    /// symlink, a FIFO, a path leading out of the store.
    #[error("object `{key}` is refused: {problem}")]
    Refused { key: String, problem: String },
    #[error("{0}")]
    Io(String),
}

/// One object of a listing: its key (relative to the store's prefix, as the
/// store spells it) and the size the store claims for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
}

/// How large transfers move: in parts of `part_size` bytes, `concurrency`
/// parts at a time (S3 multipart uploads and ranged downloads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    pub concurrency: usize,
    pub part_size: u64,
}

impl Transfer {
    /// S3's smallest part (but the last) and largest part.
    pub const MIN_PART: u64 = 5 << 20;
    pub const MAX_PART: u64 = 5 << 30;
    pub const MAX_CONCURRENCY: usize = 64;

    /// Checks the bounds S3 and memory set.
    pub fn check(self) -> Result<Self, String> {
        if !(Self::MIN_PART..=Self::MAX_PART).contains(&self.part_size) {
            return Err(format!("part-size {} is outside 5 MiB..5 GiB (S3's limits)", self.part_size));
        }
        if !(1..=Self::MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(format!("concurrency {} is outside 1..={}", self.concurrency, Self::MAX_CONCURRENCY));
        }
        Ok(self)
    }
}

impl Default for Transfer {
    /// Measured with `cargo xtask bench --store` (README, "Figures").
    fn default() -> Self {
        Self { concurrency: 8, part_size: 8 << 20 }
    }
}

#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync {
    /// Where the store is, for messages (never with credentials).
    fn describe(&self) -> String;
    /// The key layout of the artifact repository in this store, as it was
    /// opened (`--layout`, `[store] layout`).
    fn layout(&self) -> Layout {
        Layout::Hostbuild
    }
    /// Uploads the whole of `from` (read from offset 0, whatever its
    /// position); with `create_only` it fails with `AlreadyExists` when the
    /// key exists, atomically, so one of many racing writers wins.
    async fn put(&self, key: &str, from: &File, create_only: bool) -> Result<(), StoreError>;
    /// Uploads a small file create-only as far as the server enforces it,
    /// without `put`'s check that a racing writer did not win: for objects
    /// whose writer already holds a claim that `put` checked (a set's
    /// manifest, written by the publisher that won the set's claim).
    async fn put_new(&self, key: &str, from: &File) -> Result<(), StoreError> {
        self.put(key, from, true).await
    }
    /// Downloads an object into `to` (an empty file open for writing,
    /// written from offset 0) and returns its size and sha256, computed
    /// while it streams. An object over `limit` bytes is refused (store
    /// contents are not trusted to be the size anyone expects).
    async fn get(&self, key: &str, to: &File, limit: u64) -> Result<FileDigest, StoreError>;
    /// Uploads `from` without making it visible under `key` yet, so that a
    /// publisher can move its bytes while it waits to know whether it won
    /// its claim on a set: `commit` makes it visible, `abort` (or a failed
    /// commit) leaves nothing. By default nothing moves before `commit`;
    /// S3 uploads large files' parts (a multipart upload, not completed).
    async fn stage(&self, key: &str, from: &File) -> Result<Staged, StoreError> {
        let file = from.try_clone().map_err(|e| StoreError::Io(format!("reading the file to upload: {e}")))?;
        Ok(Staged { key: key.to_string(), pending: Pending::Later(file) })
    }
    async fn commit(&self, staged: Staged) -> Result<(), StoreError> {
        match staged.pending {
            Pending::Later(file) => self.put(&staged.key, &file, false).await,
            Pending::Multipart { .. } => Err(StoreError::Io(format!("{}: staged by another store", staged.key))),
        }
    }
    async fn abort(&self, _staged: Staged) {}
    async fn exists(&self, key: &str) -> Result<bool, StoreError>;
    /// Every object under `prefix`, sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<Object>, StoreError>;
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// Bytes this store has uploaded so far (progress of a publish; 0 for
    /// a store that does not count).
    fn uploaded(&self) -> u64 {
        0
    }
    /// Bytes this store has downloaded so far (0 for one that does not count).
    fn downloaded(&self) -> u64 {
        0
    }
    /// Asks uploads in progress to stop at their next step and clean up.
    fn cancel(&self) {}
    /// Aborts uploads left open by an interruption; returns how many.
    async fn abort_open_uploads(&self) -> usize {
        0
    }
}

/// An upload made by [`ObjectStore::stage`], not yet visible.
#[derive(Debug)]
pub struct Staged {
    pub key: String,
    pub(super) pending: Pending,
}

/// What a staged upload still needs, per store.
#[derive(Debug)]
pub(super) enum Pending {
    /// Nothing moved yet: the file to upload at commit.
    Later(File),
    /// An S3 multipart upload with every part uploaded: `(number, ETag)`.
    Multipart { full: String, upload_id: String, parts: Vec<(i32, Option<String>)> },
}

/// Size and sha256 of a file, computed as it streamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    pub size: u64,
    pub sha256: String,
}

/// A writer that hashes what passes through it.
pub struct HashingWriter<W> {
    pub inner: W,
    pub hasher: sha2::Sha256,
    pub size: u64,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        use sha2::Digest;
        Self { inner, hasher: sha2::Sha256::new(), size: 0 }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        use sha2::Digest;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    pub fn finish(self) -> FileDigest {
        use sha2::Digest;
        FileDigest { size: self.size, sha256: hex::encode(self.hasher.finalize()) }
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Reads `len` bytes of a file from `offset` on with positioned reads, so
/// several readers of one handle never disturb each other (or its position).
pub struct FileSlice<'a> {
    file: &'a File,
    offset: u64,
    end: u64,
}

impl<'a> FileSlice<'a> {
    pub fn new(file: &'a File, offset: u64, len: u64) -> Self {
        Self { file, offset, end: offset.saturating_add(len) }
    }

    /// The whole file, from its start.
    pub fn whole(file: &'a File) -> std::io::Result<Self> {
        Ok(Self::new(file, 0, file.metadata()?.len()))
    }
}

impl std::io::Read for FileSlice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(usize::try_from(self.end - self.offset).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// A path that opens the very file behind `file` again, with a position of
/// its own (`/proc/self/fd/N` names the open file, not a path that could be
/// swapped for a link). Valid while `file` stays open; for clients that
/// stream from a path, such as the S3 SDK's retryable bodies.
pub fn reopen_path(file: &File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// A key an object may have in a store: relative (no leading `/`), no `.` or
/// `..` segment, no NUL or backslash. Empty segments (`a//b`) are allowed:
/// S3 keys may have them, and MXNet CD's tool writes them.
pub fn check_object_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty()
        && !key.starts_with('/')
        && !key.contains(['\\', '\0'])
        && key.split('/').all(|s| s != "." && s != "..");
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidKey(key.to_string()))
    }
}

/// A key is `/`-separated plain segments: no `..`, no empty segment.
pub fn check_key(key: &str) -> Result<(), StoreError> {
    let ok = !key.is_empty() && key.split('/').all(|s| !s.is_empty() && s != "." && s != "..") && !key.contains('\\');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidKey(key.to_string()))
    }
}

impl crate::diagnostics::Diagnose for StoreError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        match self {
            StoreError::NotFound(_) => (ExitStatus::ArtifactMissing, None),
            StoreError::AlreadyExists(_) => (ExitStatus::Conflict, None),
            StoreError::InvalidKey(_) => (ExitStatus::Usage, None),
            StoreError::TooLarge { .. } => {
                (ExitStatus::ArtifactMissing, Some("the stored object is larger than expected; it was not used".into()))
            }
            StoreError::Refused { .. } => (
                ExitStatus::ArtifactMissing,
                Some("the store holds something that is no object (a symlink, a special file); it was not read".into()),
            ),
            StoreError::Denied(_) => (
                ExitStatus::Unavailable,
                Some(
                    "check the bucket and the credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, \
                     or the directory's permissions"
                        .into(),
                ),
            ),
            StoreError::Unreachable(_) => (
                ExitStatus::Unavailable,
                Some("check AWS_ENDPOINT_URL (or the profile's endpoint) and that the server is up".into()),
            ),
            StoreError::Io(_) => (ExitStatus::Unavailable, None),
        }
    }
}
