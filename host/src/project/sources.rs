//! Where a plugin comes from, and the content-addressed cache downloads go
//! to: `<cache>/plugins/<sha256>.wasm`, written through a temporary file and
//! a rename, so a half-written download is never used; a cached entry is
//! re-hashed before use.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::{oci, SourceError};
use crate::capabilities::artifacts::open::open as open_store;
use crate::capabilities::artifacts::store::{FileDigest, HashingWriter};

/// A plugin source as written in hostbuild.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file, relative to the project directory.
    Path(PathBuf),
    /// An `http://` or `https://` URL.
    Http(String),
    /// `s3://bucket/prefix/key`, through the artifact store's S3 client.
    S3 { store: String, key: String },
    /// `oci://registry/repository:tag` or `...@sha256:...`.
    Oci(String),
}

impl Source {
    pub fn parse(text: &str, project_dir: &Path) -> Result<Source, SourceError> {
        if text.starts_with("http://") || text.starts_with("https://") {
            Ok(Source::Http(text.into()))
        } else if let Some(rest) = text.strip_prefix("s3://") {
            let (store, key) = rest
                .rsplit_once('/')
                .filter(|(bucket, key)| !bucket.is_empty() && !key.is_empty())
                .ok_or_else(|| SourceError::Invalid(format!("`{text}` is not s3://bucket/key")))?;
            Ok(Source::S3 { store: format!("s3://{store}"), key: key.into() })
        } else if let Some(reference) = text.strip_prefix("oci://") {
            Ok(Source::Oci(reference.into()))
        } else if text.contains("://") {
            Err(SourceError::Invalid(format!("`{text}`: sources are paths, https://, s3:// or oci:// references")))
        } else {
            Ok(Source::Path(project_dir.join(text)))
        }
    }
}

/// A component in the cache.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub path: PathBuf,
    pub sha256: String,
}

/// The cache entry of `sha256`, if present and intact.
fn cached(dir: &Path, sha256: &str) -> Option<PathBuf> {
    let path = dir.join(format!("{sha256}.wasm"));
    let bytes = std::fs::read(&path).ok()?;
    if hex::encode(Sha256::digest(&bytes)) == sha256 {
        return Some(path);
    }
    let _ = std::fs::remove_file(&path); // corrupt: fetch again
    None
}

/// Fetches `source` into the cache `dir`. With `expected` (from the lock),
/// an intact cached copy is used without any download.
pub async fn fetch(source: &Source, dir: &Path, expected: Option<&str>) -> Result<Fetched, SourceError> {
    // A path is always read again: it is local, and it is what may have changed.
    if let (false, Some(sha)) = (matches!(source, Source::Path(_)), expected) {
        if let Some(path) = cached(dir, sha) {
            return Ok(Fetched { path, sha256: sha.into() });
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| SourceError::Cache(format!("{}: {e}", dir.display())))?;
    let tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| SourceError::Cache(format!("{}: {e}", dir.display())))?;
    // Each kind hashes what it writes; the file is not read back.
    let in_memory = |bytes: Vec<u8>| -> Result<String, SourceError> {
        std::fs::write(tmp.path(), &bytes).map_err(|e| SourceError::Cache(e.to_string()))?;
        Ok(hex::encode(Sha256::digest(&bytes)))
    };
    let sha256 = match source {
        Source::Path(path) => in_memory(std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound(format!("{} does not exist", path.display())),
            _ => SourceError::Failed(format!("cannot read {}: {e}", path.display())),
        })?)?,
        Source::Http(url) => download(url, tmp.path()).await?.sha256,
        Source::S3 { store, key } => {
            let store = open_store(store).await.map_err(|e| SourceError::Failed(format!("{e:#}")))?;
            let digest = store.get(key, tmp.as_file(), u64::MAX).await.map_err(|e| match e {
                crate::capabilities::artifacts::store::StoreError::NotFound(_) => {
                    SourceError::NotFound(format!("{} has no object {key}", store.describe()))
                }
                other => SourceError::Failed(format!("{}/{key}: {other}", store.describe())),
            })?;
            digest.sha256
        }
        Source::Oci(reference) => in_memory(oci::pull(reference).await?)?,
    };
    let path = dir.join(format!("{sha256}.wasm"));
    tmp.persist(&path).map_err(|e| SourceError::Cache(e.to_string()))?;
    Ok(Fetched { path, sha256 })
}

/// Streams `url` to `to`, hashing as it goes; any failure leaves `to` to be
/// discarded.
async fn download(url: &str, to: &Path) -> Result<FileDigest, SourceError> {
    let response = reqwest::get(url).await.map_err(|e| SourceError::Unreachable(format!("{url}: {e}")))?;
    match response.status() {
        s if s.is_success() => {}
        s if s == reqwest::StatusCode::NOT_FOUND => return Err(SourceError::NotFound(format!("{url}: 404 Not Found"))),
        s if s == reqwest::StatusCode::UNAUTHORIZED || s == reqwest::StatusCode::FORBIDDEN => {
            return Err(SourceError::Denied(format!("{url}: {s}")))
        }
        s => return Err(SourceError::Failed(format!("{url}: {s}"))),
    }
    let expected = response.content_length();
    let file = tokio::fs::File::create(to).await.map_err(|e| SourceError::Cache(e.to_string()))?;
    let mut sink = HashingWriter::new(file);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| SourceError::Failed(format!("{url}: the download broke off: {e}")))?;
        tokio::io::AsyncWriteExt::write_all(&mut sink.inner, &chunk)
            .await
            .map_err(|e| SourceError::Cache(e.to_string()))?;
        sink.update(&chunk);
    }
    if let Some(len) = expected.filter(|len| *len != sink.size) {
        return Err(SourceError::Failed(format!("{url}: the download broke off after {} of {len} bytes", sink.size)));
    }
    // tokio writes in the background: the file must be complete before it
    // is renamed into the cache.
    tokio::io::AsyncWriteExt::flush(&mut sink.inner).await.map_err(|e| SourceError::Cache(e.to_string()))?;
    Ok(sink.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_kind() {
        let dir = Path::new("/proj");
        assert_eq!(Source::parse("plugins/a.wasm", dir).unwrap(), Source::Path("/proj/plugins/a.wasm".into()));
        assert_eq!(Source::parse("https://x/a.wasm", dir).unwrap(), Source::Http("https://x/a.wasm".into()));
        assert_eq!(
            Source::parse("s3://bucket/p/a.wasm", dir).unwrap(),
            Source::S3 { store: "s3://bucket/p".into(), key: "a.wasm".into() }
        );
        assert_eq!(
            Source::parse("oci://localhost:5000/p/a:1", dir).unwrap(),
            Source::Oci("localhost:5000/p/a:1".into())
        );
        assert!(Source::parse("s3://bucket", dir).is_err());
        assert!(Source::parse("ftp://x/a.wasm", dir).is_err());
    }

    #[test]
    fn a_corrupt_cache_entry_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let sha = hex::encode(Sha256::digest(b"component"));
        std::fs::write(dir.path().join(format!("{sha}.wasm")), b"compo").unwrap();
        assert!(cached(dir.path(), &sha).is_none());
        assert!(!dir.path().join(format!("{sha}.wasm")).exists());
        std::fs::write(dir.path().join(format!("{sha}.wasm")), b"component").unwrap();
        assert!(cached(dir.path(), &sha).is_some());
    }
}
