//! A download that arrives in parts, in any order: each part is written at
//! its offset in the destination file, in batches of up to [`WRITE_BATCH`]
//! bytes on tokio's blocking threads (a slow disk never stalls the network
//! tasks), and a hashing thread follows the contiguous prefix written so
//! far, reading it back, so the sha256 covers what is really in the file, in
//! order, while later parts still arrive. Memory stays bounded whatever the
//! file's size: two batches per part in flight and the hasher's buffer.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::{FileDigest, HashingWriter};

/// Bytes a part collects before they are written.
pub const WRITE_BATCH: usize = 1 << 20;
/// What the hasher reads back at a time.
const HASH_CHUNK: usize = 1 << 20;

/// Why a part could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    #[error("the store sent more than the {0} bytes asked for")]
    TooLong(u64),
    #[error("the store sent {got} bytes where {want} were asked for")]
    Short { got: u64, want: u64 },
    #[error("writing the download failed: {0}")]
    Write(std::io::Error),
}

/// One file being assembled from parts `(offset, length)` that cover it in
/// order.
pub struct Assembly {
    file: Arc<File>,
    parts: Vec<(u64, u64)>,
    progress: Mutex<Progress>,
}

/// How much of each part is on disk, and the contiguous prefix that is.
struct Progress {
    written: Vec<u64>,
    first_incomplete: usize,
    frontier: u64,
    hasher: Option<mpsc::Sender<u64>>,
}

impl Assembly {
    /// Splits `total` bytes into parts of `part_size` (the first part may be
    /// given another length: what a first response already covers) and
    /// starts the hasher.
    pub fn new(file: &File, total: u64, first_len: u64, part_size: u64) -> std::io::Result<(Arc<Self>, Hashing)> {
        let mut parts = Vec::new();
        if total > 0 {
            parts.push((0, first_len.min(total)));
        }
        let mut offset = first_len.min(total);
        while offset < total {
            let len = part_size.max(1).min(total - offset);
            parts.push((offset, len));
            offset += len;
        }
        let file = Arc::new(file.try_clone()?);
        let (tx, rx) = mpsc::channel();
        let hashing = Hashing::start(file.clone(), total, rx);
        let progress =
            Mutex::new(Progress { written: vec![0; parts.len()], first_incomplete: 0, frontier: 0, hasher: Some(tx) });
        if total == 0 {
            // Nothing will arrive: the hasher may finish at once.
            progress.lock().unwrap_or_else(|p| p.into_inner()).hasher = None;
        }
        Ok((Arc::new(Self { file, parts, progress }), hashing))
    }

    /// The parts, `(offset, length)`, in order.
    pub fn parts(&self) -> &[(u64, u64)] {
        &self.parts
    }

    /// A writer for part `index`.
    pub fn part(self: &Arc<Self>, index: usize) -> PartWriter {
        let (offset, len) = self.parts[index];
        PartWriter {
            assembly: self.clone(),
            index,
            offset,
            len,
            pending: Vec::new(),
            pending_len: 0,
            written: 0,
            in_flight: None,
        }
    }

    /// Records that part `index` has its first `written` bytes on disk and
    /// tells the hasher how far the file is complete.
    fn advance(&self, index: usize, written: u64) {
        let mut p = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        p.written[index] = written;
        while p.first_incomplete < self.parts.len() && p.written[p.first_incomplete] == self.parts[p.first_incomplete].1
        {
            p.first_incomplete += 1;
        }
        let frontier = match self.parts.get(p.first_incomplete) {
            Some(&(offset, _)) => offset + p.written[p.first_incomplete],
            None => self.parts.last().map(|&(o, l)| o + l).unwrap_or(0),
        };
        if frontier > p.frontier {
            p.frontier = frontier;
            if let Some(tx) = &p.hasher {
                let _ = tx.send(frontier);
            }
        }
        if p.first_incomplete == self.parts.len() {
            // Everything is written: let the hasher finish.
            p.hasher = None;
        }
    }
}

/// Writes one part's bytes at its offset, as they arrive.
pub struct PartWriter {
    assembly: Arc<Assembly>,
    index: usize,
    offset: u64,
    len: u64,
    pending: Vec<Bytes>,
    pending_len: usize,
    /// Bytes handed to writes (finished or in flight).
    written: u64,
    in_flight: Option<(tokio::task::JoinHandle<std::io::Result<()>>, u64)>,
}

impl PartWriter {
    /// Takes the next bytes of the part; refuses more than the part's length.
    pub async fn push(&mut self, chunk: Bytes) -> Result<(), PartError> {
        let received = self.written + self.pending_len as u64 + chunk.len() as u64;
        if received > self.len {
            return Err(PartError::TooLong(self.len));
        }
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= WRITE_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes what is pending; the part must now be complete.
    pub async fn finish(mut self) -> Result<(), PartError> {
        self.flush().await?;
        self.settle().await?;
        if self.written != self.len {
            return Err(PartError::Short { got: self.written, want: self.len });
        }
        Ok(())
    }

    /// Waits for the write in flight, then reports the progress it made.
    async fn settle(&mut self) -> Result<(), PartError> {
        if let Some((write, end)) = self.in_flight.take() {
            write.await.map_err(|e| PartError::Write(std::io::Error::other(e)))?.map_err(PartError::Write)?;
            self.assembly.advance(self.index, end);
        }
        Ok(())
    }

    /// Starts writing the pending bytes (after the previous write ended):
    /// one batch is written while the next one fills.
    async fn flush(&mut self) -> Result<(), PartError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.settle().await?;
        let chunks = std::mem::take(&mut self.pending);
        let mut at = self.offset + self.written;
        self.written += self.pending_len as u64;
        self.pending_len = 0;
        let file = self.assembly.file.clone();
        let write = tokio::task::spawn_blocking(move || {
            for chunk in chunks {
                file.write_all_at(&chunk, at)?;
                at += chunk.len() as u64;
            }
            Ok(())
        });
        self.in_flight = Some((write, self.written));
        Ok(())
    }
}

/// The hashing thread of an [`Assembly`].
pub struct Hashing(tokio::task::JoinHandle<std::io::Result<FileDigest>>);

impl Hashing {
    fn start(file: Arc<File>, total: u64, frontiers: mpsc::Receiver<u64>) -> Self {
        Self(tokio::task::spawn_blocking(move || {
            let mut hasher = HashingWriter::new(());
            let mut buf = vec![0u8; HASH_CHUNK.min(usize::try_from(total).unwrap_or(HASH_CHUNK)).max(1)];
            let mut hashed = 0u64;
            // Ends when the assembly is complete or dropped (a part failed).
            while let Ok(mut frontier) = frontiers.recv() {
                while let Ok(later) = frontiers.try_recv() {
                    frontier = later;
                }
                while hashed < frontier {
                    let n = buf.len().min(usize::try_from(frontier - hashed).unwrap_or(buf.len()));
                    file.read_exact_at(&mut buf[..n], hashed)?;
                    hasher.update(&buf[..n]);
                    hashed += n as u64;
                }
            }
            Ok(hasher.finish())
        }))
    }

    /// The size and sha256 of the contiguous prefix that was written: the
    /// whole file when every part finished.
    pub async fn finish(self) -> std::io::Result<FileDigest> {
        self.0.await.map_err(std::io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256(bytes: &[u8]) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(bytes))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parts_in_any_order_hash_as_the_whole_file() {
        let data: Vec<u8> =
            (0..(3 * WRITE_BATCH + 12345) as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let tmp = tempfile::tempfile().unwrap();
        let part = 1 << 20;
        let (assembly, hashing) = Assembly::new(&tmp, data.len() as u64, 700_000, part).unwrap();
        let parts = assembly.parts().to_vec();
        assert_eq!(parts[0], (0, 700_000));
        // Last part first, the first part last, in uneven chunks.
        let mut tasks = Vec::new();
        for (i, &(offset, len)) in parts.iter().enumerate().rev() {
            let mut w = assembly.part(i);
            let bytes = data[offset as usize..(offset + len) as usize].to_vec();
            tasks.push(tokio::spawn(async move {
                for chunk in bytes.chunks(77_777) {
                    w.push(Bytes::copy_from_slice(chunk)).await.unwrap();
                }
                w.finish().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        drop(assembly);
        let digest = hashing.finish().await.unwrap();
        assert_eq!(digest.size, data.len() as u64);
        assert_eq!(digest.sha256, sha256(&data));
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut &tmp, &mut back).unwrap();
        assert!(back == data);
    }

    #[tokio::test]
    async fn a_part_refuses_more_or_fewer_bytes_than_asked() {
        let tmp = tempfile::tempfile().unwrap();
        let (assembly, hashing) = Assembly::new(&tmp, 10, 10, 8 << 20).unwrap();
        let mut w = assembly.part(0);
        w.push(Bytes::from_static(b"12345678")).await.unwrap();
        assert!(matches!(w.push(Bytes::from_static(b"abc")).await, Err(PartError::TooLong(10))));
        drop(w);
        let mut w = assembly.part(0);
        w.push(Bytes::from_static(b"1234")).await.unwrap();
        assert!(matches!(w.finish().await, Err(PartError::Short { got: 4, want: 10 })));
        drop(assembly);
        // Only what was written, in order, is hashed.
        assert_eq!(hashing.finish().await.unwrap().size, 4);
        let (assembly, hashing) = Assembly::new(&tmp, 0, 0, 8 << 20).unwrap();
        assert!(assembly.parts().is_empty());
        assert_eq!(hashing.finish().await.unwrap().sha256, sha256(b""));
    }
}
