//! Where a plugin comes from, and the content-addressed cache downloads go
//! to: `<cache>/plugins/<sha256>.wasm`, written through a temporary file and
//! a rename, so a half-written download is never used; a cached entry is
//! re-hashed before use.
//!
//! What comes over a network is untrusted until its bytes match the lock:
//! plain `http://` (and plain-HTTP OCI registries) only to this machine
//! (`localhost` or a loopback IP), never a redirect from https to http,
//! every download streamed to disk under a size cap
//! (`HOSTBUILD_PLUGIN_MAX_SIZE`, default 256M) and a read timeout
//! (`HOSTBUILD_DOWNLOAD_TIMEOUT`, default 60s; a server that stalls is cut
//! off), never held whole in memory.

use std::path::{Path, PathBuf};

use futures::StreamExt;

use super::{oci, SourceError};
use crate::store::open::open as open_store;
use crate::store::{FileDigest, HashingWriter};
use crate::units::{Size, Span};
use std::time::Duration;

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

/// Whether `host` (a URL's or registry's host, without port) is this
/// machine: `localhost` or a loopback IP. `127.example.com` is not.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a plain-HTTP URL to anywhere but this machine.
fn check_plain_http(url: &reqwest::Url) -> Result<(), SourceError> {
    if url.scheme() == "http" && !url.host_str().is_some_and(is_loopback_host) {
        return Err(SourceError::Insecure(format!(
            "{url}: plain http:// is refused for anything but this machine (localhost or a loopback IP); \
             a plugin fetched in clear text can be replaced on the way"
        )));
    }
    Ok(())
}

/// How much and how long a download may take.
#[derive(Debug, Clone, Copy)]
pub struct DownloadLimits {
    pub max_bytes: u64,
    /// Longest wait for the next bytes (and for a connection).
    pub timeout: Duration,
}

impl DownloadLimits {
    /// From `HOSTBUILD_PLUGIN_MAX_SIZE` (a size, default 256M) and
    /// `HOSTBUILD_DOWNLOAD_TIMEOUT` (a duration, default 60s).
    pub fn from_env() -> Result<Self, SourceError> {
        let max_bytes = match std::env::var("HOSTBUILD_PLUGIN_MAX_SIZE") {
            Ok(v) => v.parse::<Size>().map_err(|e| SourceError::Invalid(format!("HOSTBUILD_PLUGIN_MAX_SIZE: {e}")))?.0,
            Err(_) => 256 << 20,
        };
        let timeout = match std::env::var("HOSTBUILD_DOWNLOAD_TIMEOUT") {
            Ok(v) => v.parse::<Span>().map_err(|e| SourceError::Invalid(format!("HOSTBUILD_DOWNLOAD_TIMEOUT: {e}")))?.0,
            Err(_) => Duration::from_secs(60),
        };
        Ok(Self { max_bytes, timeout })
    }
}

impl Source {
    pub fn parse(text: &str, project_dir: &Path) -> Result<Source, SourceError> {
        if text.starts_with("http://") || text.starts_with("https://") {
            let url = reqwest::Url::parse(text).map_err(|e| SourceError::Invalid(format!("`{text}`: {e}")))?;
            check_plain_http(&url)?;
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
    let mut file = std::fs::File::open(&path).ok()?;
    let mut sink = HashingWriter::new(std::io::sink());
    std::io::copy(&mut file, &mut sink).ok()?;
    if sink.finish().sha256 == sha256 {
        return Some(path);
    }
    let _ = std::fs::remove_file(&path); // corrupt: fetch again
    None
}

/// Fetches `source` into the cache `dir`. With `expected` (from the lock),
/// an intact cached copy is used without any download.
pub async fn fetch(source: &Source, dir: &Path, expected: Option<&str>) -> Result<Fetched, SourceError> {
    let limits = DownloadLimits::from_env()?;
    // A path is always read again: it is local, and it is what may have changed.
    if let (false, Some(sha)) = (matches!(source, Source::Path(_)), expected) {
        if let Some(path) = cached(dir, sha) {
            return Ok(Fetched { path, sha256: sha.into() });
        }
    }
    // What lands here is run: a directory of this user's alone.
    crate::runtime::private_dir(dir, true).map_err(|e| SourceError::Cache(e.to_string()))?;
    let tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| SourceError::Cache(format!("{}: {e}", dir.display())))?;
    // Each kind hashes what it writes as it streams; the file is not read back.
    let sha256 = match source {
        Source::Path(path) => copy_file(path, tmp.as_file(), limits.max_bytes)?,
        Source::Http(url) => download(url, tmp.path(), limits).await?.sha256,
        Source::S3 { store, key } => {
            let store = open_store(store).await.map_err(|e| SourceError::Failed(format!("{e:#}")))?;
            let digest = store.get(key, tmp.as_file(), limits.max_bytes).await.map_err(|e| match e {
                crate::store::StoreError::NotFound(_) => {
                    SourceError::NotFound(format!("{} has no object {key}", store.describe()))
                }
                crate::store::StoreError::TooLarge { .. } => {
                    SourceError::TooLarge { what: format!("{}/{key}", store.describe()), limit: limits.max_bytes }
                }
                other => SourceError::Failed(format!("{}/{key}: {other}", store.describe())),
            })?;
            digest.sha256
        }
        Source::Oci(reference) => oci::pull(reference, tmp.path(), limits).await?.sha256,
    };
    let path = dir.join(format!("{sha256}.wasm"));
    tmp.persist(&path).map_err(|e| SourceError::Cache(e.to_string()))?;
    Ok(Fetched { path, sha256 })
}

/// Copies a local plugin file into `to`, hashing as it streams.
fn copy_file(path: &Path, to: &std::fs::File, limit: u64) -> Result<String, SourceError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => SourceError::NotFound(format!("{} does not exist", path.display())),
        _ => SourceError::Failed(format!("cannot read {}: {e}", path.display())),
    })?;
    let mut sink = HashingWriter::new(std::io::BufWriter::new(to));
    std::io::copy(&mut file.take(limit.saturating_add(1)), &mut sink)
        .map_err(|e| SourceError::Cache(format!("copying {}: {e}", path.display())))?;
    std::io::Write::flush(&mut sink).map_err(|e| SourceError::Cache(e.to_string()))?;
    let digest = sink.finish();
    if digest.size > limit {
        return Err(SourceError::TooLarge { what: path.display().to_string(), limit });
    }
    Ok(digest.sha256)
}

/// The HTTP client of plugin downloads: rustls, the timeouts, and a
/// redirect policy that never leaves https for http (or plain HTTP for
/// another machine).
fn http_client(limits: DownloadLimits) -> Result<reqwest::Client, SourceError> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let from_https = attempt.previous().iter().any(|u| u.scheme() == "https");
        if attempt.url().scheme() == "http" && from_https {
            let message = format!("refused a redirect from https to {}: it would drop TLS", attempt.url());
            return attempt.error(message);
        }
        if let Err(e) = check_plain_http(attempt.url()) {
            return attempt.error(e.to_string());
        }
        if attempt.previous().len() >= 10 {
            return attempt.error("more than 10 redirects");
        }
        attempt.follow()
    });
    reqwest::Client::builder()
        .redirect(policy)
        .connect_timeout(limits.timeout)
        .read_timeout(limits.timeout)
        .build()
        .map_err(|e| SourceError::Failed(format!("cannot make an HTTP client: {e}")))
}

/// Streams `url` to `to`, hashing as it goes; any failure leaves `to` to be
/// discarded.
async fn download(url: &str, to: &Path, limits: DownloadLimits) -> Result<FileDigest, SourceError> {
    let response = http_client(limits)?.get(url).send().await.map_err(|e| {
        let cause = innermost(&e);
        if e.is_redirect() || cause.contains("refused a redirect") || cause.contains("plain http://") {
            SourceError::Insecure(format!("{url}: {cause}"))
        } else if e.is_timeout() {
            SourceError::Unreachable(format!("{url}: no answer within {}", Span(limits.timeout)))
        } else {
            SourceError::Unreachable(format!("{url}: {cause}"))
        }
    })?;
    match response.status() {
        s if s.is_success() => {}
        s if s == reqwest::StatusCode::NOT_FOUND => return Err(SourceError::NotFound(format!("{url}: 404 Not Found"))),
        s if s == reqwest::StatusCode::UNAUTHORIZED || s == reqwest::StatusCode::FORBIDDEN => {
            return Err(SourceError::Denied(format!("{url}: {s}")))
        }
        s => return Err(SourceError::Failed(format!("{url}: {s}"))),
    }
    let expected = response.content_length();
    if expected.is_some_and(|len| len > limits.max_bytes) {
        return Err(SourceError::TooLarge { what: url.into(), limit: limits.max_bytes });
    }
    let file = tokio::fs::File::create(to).await.map_err(|e| SourceError::Cache(e.to_string()))?;
    let mut sink = HashingWriter::new(file);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            if e.is_timeout() {
                SourceError::Unreachable(format!("{url}: the server stalled for {}", Span(limits.timeout)))
            } else {
                SourceError::Failed(format!("{url}: the download broke off: {e}"))
            }
        })?;
        if sink.size + chunk.len() as u64 > limits.max_bytes {
            return Err(SourceError::TooLarge { what: url.into(), limit: limits.max_bytes });
        }
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

/// The deepest cause of an error, which names what went wrong.
fn innermost(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
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
        assert_eq!(
            Source::parse("http://127.0.0.1:8080/a.wasm", dir).unwrap(),
            Source::Http("http://127.0.0.1:8080/a.wasm".into())
        );
        assert!(Source::parse("http://localhost/a.wasm", dir).is_ok());
        assert!(Source::parse("http://[::1]:9/a.wasm", dir).is_ok());
        for insecure in ["http://127.evil.example/a.wasm", "http://example.com/a.wasm", "http://10.0.0.1/a.wasm"] {
            assert!(matches!(Source::parse(insecure, dir), Err(SourceError::Insecure(_))), "{insecure}");
        }
        assert!(Source::parse("ftp://x/a.wasm", dir).is_err());
    }

    #[test]
    fn loopback_is_an_address_not_a_prefix() {
        for yes in ["localhost", "LOCALHOST", "127.0.0.1", "127.3.4.5", "::1", "[::1]"] {
            assert!(is_loopback_host(yes), "{yes}");
        }
        for no in ["127.evil.example", "127", "localhost.example", "10.0.0.1", "example.com", ""] {
            assert!(!is_loopback_host(no), "{no}");
        }
    }

    #[test]
    fn a_corrupt_cache_entry_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let sha = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(b"component"))
        };
        std::fs::write(dir.path().join(format!("{sha}.wasm")), b"compo").unwrap();
        assert!(cached(dir.path(), &sha).is_none());
        assert!(!dir.path().join(format!("{sha}.wasm")).exists());
        std::fs::write(dir.path().join(format!("{sha}.wasm")), b"component").unwrap();
        assert!(cached(dir.path(), &sha).is_some());
    }
}
