//! S3 (and S3-compatible servers) through aws-sdk-s3, configured by the
//! standard AWS chain (environment, profile, `AWS_ENDPOINT_URL`). A custom
//! endpoint means path-style requests; checksums are computed only when
//! the API requires them (S3-compatible servers reject the newer defaults).
//!
//! Large files move in parts ([`Transfer`]: part size, parts at a time).
//! Uploads are parallel multipart uploads, aborted on failure and on
//! interruption (`abort_open_uploads`). Downloads are parallel ranged GETs,
//! each part streamed to its offset in the destination file while a hashing
//! thread follows the contiguous prefix (`transfer`), so the sha256 is known
//! when the last byte lands, and memory stays bounded whatever the size.
//! Create-only writes use `If-None-Match: *`; because some servers ignore or
//! race it, the object is read back and must be ours.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};

use super::transfer::{Assembly, PartError, PartWriter};
use super::{check_object_key, reopen_path, FileDigest, Object, ObjectStore, Pending, Staged, StoreError, Transfer};
use crate::artifact::layout::Layout;

/// What an upload part's body reads from the file at a time.
const READ_BUFFER: usize = 256 << 10;

pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    endpoint: String,
    /// Multipart uploads started and not yet completed or aborted.
    open_uploads: Arc<Mutex<Vec<(String, String)>>>,
    /// Set by [`ObjectStore::cancel`]: multipart uploads stop and abort.
    cancelled: Arc<std::sync::atomic::AtomicBool>,
    transfer: Transfer,
    layout: Layout,
    /// Bytes uploaded so far (parts and whole objects), for progress.
    uploaded: Arc<std::sync::atomic::AtomicU64>,
    /// Bytes downloaded so far, for progress.
    downloaded: Arc<std::sync::atomic::AtomicU64>,
}

impl S3Store {
    /// `s3://bucket/prefix` with the standard AWS configuration.
    pub async fn connect(bucket: &str, prefix: &str, transfer: Transfer, layout: Layout) -> Result<Self, StoreError> {
        use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        let Some(provider) = shared.credentials_provider() else {
            return Err(StoreError::Denied("no AWS credentials are configured".into()));
        };
        if let Err(e) = aws_sdk_s3::config::ProvideCredentials::provide_credentials(&provider).await {
            return Err(StoreError::Denied(format!("no AWS credentials found ({e})")));
        }
        let endpoint = shared.endpoint_url().map(str::to_string);
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .force_path_style(endpoint.is_some());
        if shared.region().is_none() {
            config = config.region(Region::new("us-east-1"));
        }
        let prefix = prefix.trim_matches('/');
        let store = Self {
            client: Client::from_conf(config.build()),
            bucket: bucket.to_string(),
            prefix: if prefix.is_empty() { String::new() } else { format!("{prefix}/") },
            endpoint: endpoint.unwrap_or_else(|| "AWS".into()),
            open_uploads: Arc::default(),
            cancelled: Arc::default(),
            transfer,
            layout,
            uploaded: Arc::default(),
            downloaded: Arc::default(),
        };
        // Fail early, and clearly, on a missing bucket or refused credentials
        // (some servers would create the bucket on the first write).
        match store.client.head_bucket().bucket(&store.bucket).send().await {
            Ok(_) => Ok(store),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 400) => Err(StoreError::Denied(format!(
                "the store refused bucket `{bucket}` (HTTP 400): a bucket name is 3 to 63 lowercase letters, \
                 digits, dots or hyphens"
            ))),
            Err(e) => Err(match store.error(bucket, e) {
                StoreError::NotFound(_) => StoreError::Denied(format!("bucket `{bucket}` does not exist")),
                other => other,
            }),
        }
    }

    fn full(&self, key: &str) -> Result<String, StoreError> {
        check_object_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    /// Aborts every multipart upload this store started and did not finish.
    async fn abort_all(&self) -> usize {
        let open: Vec<(String, String)> =
            std::mem::take(&mut *self.open_uploads.lock().unwrap_or_else(|p| p.into_inner()));
        for (key, id) in &open {
            let _ = self.client.abort_multipart_upload().bucket(&self.bucket).key(key).upload_id(id).send().await;
        }
        open.len()
    }

    fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(&self, key: &str, e: SdkError<E>) -> StoreError {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.as_service_error().and_then(|s| s.code()).map(str::to_string);
        match (&e, status, code.as_deref()) {
            (SdkError::DispatchFailure(_), _, _) => {
                StoreError::Unreachable(format!("cannot connect to {}: {}", self.endpoint, innermost(&e)))
            }
            (SdkError::TimeoutError(_), _, _) => {
                StoreError::Unreachable(format!("{} did not answer in time", self.endpoint))
            }
            (_, _, Some("NoSuchBucket")) => StoreError::Denied(format!("bucket `{}` does not exist", self.bucket)),
            (
                _,
                _,
                Some(
                    c @ ("InvalidAccessKeyId"
                    | "SignatureDoesNotMatch"
                    | "AccessDenied"
                    | "InvalidToken"
                    | "ExpiredToken"),
                ),
            ) => StoreError::Denied(format!("the store refused the credentials ({c})")),
            (_, Some(403), _) => {
                StoreError::Denied("the store refused the request (403): wrong credentials, or no permission".into())
            }
            (_, Some(412 | 409), _) => StoreError::AlreadyExists(key.to_string()),
            (_, Some(404), _) | (_, _, Some("NoSuchKey" | "NotFound")) => StoreError::NotFound(key.to_string()),
            _ => {
                // A HEAD has no body, hence no code: say at least the status.
                let what = match (status, code) {
                    (Some(s), Some(c)) => format!("HTTP {s}, {c}"),
                    (Some(s), None) => format!("HTTP {s}"),
                    (None, Some(c)) => c,
                    (None, None) => innermost(&e),
                };
                StoreError::Io(format!("{key}: the store answered {what}"))
            }
        }
    }

    /// Starts a multipart upload of `from` (`size` bytes) to `full` and
    /// uploads every part, `concurrency` at a time; does not complete it.
    /// On failure the upload is aborted.
    async fn upload_parts(&self, full: &str, from: &Path, size: u64) -> Result<Pending, StoreError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(full)
            .send()
            .await
            .map_err(|e| self.error(full, e))?;
        let id = created.upload_id().unwrap_or_default().to_string();
        self.open_uploads.lock().unwrap_or_else(|p| p.into_inner()).push((full.to_string(), id.clone()));
        let part_size = self.transfer.part_size;
        let parts = size.div_ceil(part_size);
        let uploads = futures::stream::iter(0..parts).map(|i| {
            let id = id.clone();
            async move {
                if self.cancelled.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(StoreError::Io("the upload was interrupted".into()));
                }
                let offset = i * part_size;
                let length = part_size.min(size - offset);
                let body = ByteStream::read_from()
                    .path(from)
                    .buffer_size(READ_BUFFER)
                    .offset(offset)
                    .length(Length::Exact(length))
                    .build()
                    .await
                    .map_err(|e| StoreError::Io(format!("reading the file to upload: {e}")))?;
                let part = (i + 1) as i32;
                let done = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(full)
                    .upload_id(&id)
                    .part_number(part)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| self.error(full, e))?;
                self.uploaded.fetch_add(length, std::sync::atomic::Ordering::Relaxed);
                Ok::<_, StoreError>((part, done.e_tag().map(str::to_string)))
            }
        });
        match uploads.buffer_unordered(self.transfer.concurrency).try_collect::<Vec<_>>().await {
            Ok(mut parts) => {
                parts.sort();
                Ok(Pending::Multipart { full: full.to_string(), upload_id: id, parts })
            }
            Err(e) => {
                self.abort_upload(full, &id).await;
                Err(e)
            }
        }
    }

    /// Completes a multipart upload whose parts are all uploaded (aborting
    /// it when that fails).
    async fn complete(&self, full: &str, id: &str, parts: Vec<(i32, Option<String>)>) -> Result<(), StoreError> {
        let parts = parts
            .into_iter()
            .map(|(number, etag)| CompletedPart::builder().part_number(number).set_e_tag(etag).build())
            .collect();
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(full)
            .upload_id(id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(|e| self.error(full, e));
        if done.is_err() {
            self.abort_upload(full, id).await;
        } else {
            self.open_uploads.lock().unwrap_or_else(|p| p.into_inner()).retain(|(_, u)| u != id);
        }
        done.map(drop)
    }

    async fn abort_upload(&self, full: &str, id: &str) {
        let _ = self.client.abort_multipart_upload().bucket(&self.bucket).key(full).upload_id(id).send().await;
        self.open_uploads.lock().unwrap_or_else(|p| p.into_inner()).retain(|(_, u)| u != id);
    }
}

impl S3Store {
    /// A URL that downloads `key` for `ttl` without credentials (for swarm
    /// nodes staging files; it names nothing but that object).
    pub async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String, StoreError> {
        let full = self.full(key)?;
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl)
            .map_err(|e| StoreError::Io(format!("presigning {key}: {e}")))?;
        let request = self.client.get_object().bucket(&self.bucket).key(&full).presigned(config).await;
        request.map(|r| r.uri().to_string()).map_err(|e| self.error(key, e))
    }

    /// A URL that uploads `key` (a PUT with a length) for `ttl`.
    pub async fn presign_put(&self, key: &str, ttl: Duration) -> Result<String, StoreError> {
        let full = self.full(key)?;
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(ttl)
            .map_err(|e| StoreError::Io(format!("presigning {key}: {e}")))?;
        let request = self.client.put_object().bucket(&self.bucket).key(&full).presigned(config).await;
        request.map(|r| r.uri().to_string()).map_err(|e| self.error(key, e))
    }

    /// `put`; with `check`, a create-only object is read back after a
    /// while and must be ours.
    async fn put_checked(&self, key: &str, from: &File, create_only: bool, check: bool) -> Result<(), StoreError> {
        let full = self.full(key)?;
        let size = from.metadata().map_err(|e| StoreError::Io(format!("reading the file to upload: {e}")))?.len();
        // The SDK streams (and, to retry, re-reads) bodies from a path: this
        // one names the open file itself.
        let path = reopen_path(from);
        if size > self.transfer.part_size && !create_only {
            let staged = Staged { key: key.to_string(), pending: self.upload_parts(&full, &path, size).await? };
            return self.commit(staged).await;
        }
        let body = ByteStream::read_from()
            .path(&path)
            .buffer_size(READ_BUFFER)
            .length(Length::Exact(size))
            .build()
            .await
            .map_err(|e| StoreError::Io(format!("reading the file to upload: {e}")))?;
        let mut request = self.client.put_object().bucket(&self.bucket).key(&full).body(body);
        if create_only {
            request = request.if_none_match("*");
        }
        request.send().await.map_err(|e| self.error(key, e))?;
        self.uploaded.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
        if check {
            // Servers that ignore or race If-None-Match: the object must be ours.
            tokio::time::sleep(Duration::from_millis(200)).await;
            if !self.holds(key, &full, from, size).await? {
                return Err(StoreError::AlreadyExists(key.to_string()));
            }
        }
        Ok(())
    }

    /// Whether the stored object `full` has exactly the bytes of `file`
    /// (`size` long), compared as both stream: nothing is read whole.
    async fn holds(&self, key: &str, full: &str, file: &File, size: u64) -> Result<bool, StoreError> {
        let stored =
            self.client.get_object().bucket(&self.bucket).key(full).send().await.map_err(|e| self.error(key, e))?;
        let mut body = stored.body;
        let mut offset = 0u64;
        let mut mine = Vec::new();
        while let Some(chunk) = body.try_next().await.map_err(|e| StoreError::Io(format!("{key}: {e}")))? {
            if offset + chunk.len() as u64 > size {
                return Ok(false);
            }
            mine.resize(chunk.len(), 0);
            file.read_exact_at(&mut mine, offset).map_err(|e| StoreError::Io(format!("reading the upload: {e}")))?;
            if mine != chunk.as_ref() {
                return Ok(false);
            }
            offset += chunk.len() as u64;
        }
        Ok(offset == size)
    }
}

impl S3Store {
    /// Downloads `full` into `to`: one GET when the object may fit in one
    /// part, else a GET of its first part, which tells the whole size, then
    /// the other parts as parallel ranged GETs (each asking for the ETag of
    /// the first, so all parts are of one object). Nothing over `limit`
    /// bytes is accepted, and no part may bring more than it asked for.
    async fn download(&self, key: &str, full: &str, to: &File, limit: u64) -> Result<FileDigest, StoreError> {
        let part_size = self.transfer.part_size;
        let first_range = (limit > part_size).then_some((0, part_size));
        let first = match self.get_part(key, full, first_range, None).await {
            // An empty object has no first byte to range over.
            Err(Retry::EmptyRange) => self.get_part(key, full, None, None).await,
            other => other,
        }
        .map_err(Retry::into_error)?;
        let bad = |what: String| StoreError::Io(format!("{key}: {what}"));
        let (total, first_len) = match first.content_range() {
            Some(range) => match parse_content_range(range) {
                Some((0, end, total)) if end < total => (total, end + 1),
                _ => return Err(bad(format!("the store answered the range `{range}` to a request for its start"))),
            },
            None => {
                let n = first.content_length().ok_or_else(|| bad("the store did not say how large it is".into()))?;
                let n = u64::try_from(n).map_err(|_| bad(format!("the store says it is {n} bytes")))?;
                (n, n)
            }
        };
        if total > limit {
            return Err(StoreError::TooLarge { key: key.to_string(), limit });
        }
        let etag = first.e_tag().map(str::to_string);
        let (assembly, hashing) =
            Assembly::new(to, total, first_len, part_size).map_err(|e| bad(format!("the download's file: {e}")))?;
        let mut jobs: Vec<BoxFuture<'_, Result<(), StoreError>>> = Vec::new();
        let mut first_body = Some(first.body);
        for (index, &(offset, len)) in assembly.parts().iter().enumerate() {
            let writer = assembly.part(index);
            match first_body.take() {
                Some(body) => jobs.push(stream_part(key, limit, writer, body, &self.downloaded).boxed()),
                None => {
                    let etag = etag.clone();
                    jobs.push(
                        async move {
                            let part = self
                                .get_part(key, full, Some((offset, len)), etag.as_deref())
                                .await
                                .map_err(Retry::into_error)?;
                            match part.content_range().and_then(parse_content_range) {
                                Some((start, end, t)) if start == offset && end + 1 == offset + len && t == total => {}
                                _ => return Err(bad(format!("the store did not answer the range {offset}+{len}"))),
                            }
                            stream_part(key, limit, writer, part.body, &self.downloaded).await
                        }
                        .boxed(),
                    );
                }
            }
        }
        let streamed =
            futures::stream::iter(jobs).buffer_unordered(self.transfer.concurrency.max(1)).try_collect::<()>().await;
        // The hasher ends once the assembly is complete or dropped.
        drop(assembly);
        let digest = hashing.finish().await.map_err(|e| bad(format!("reading the download back: {e}")));
        streamed?;
        let digest = digest?;
        if digest.size != total {
            return Err(bad(format!("{} of {total} bytes arrived", digest.size)));
        }
        Ok(digest)
    }

    /// One GET, of a byte range `(offset, length)` or of the whole object.
    async fn get_part(
        &self,
        key: &str,
        full: &str,
        range: Option<(u64, u64)>,
        etag: Option<&str>,
    ) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, Retry> {
        let mut request = self.client.get_object().bucket(&self.bucket).key(full);
        if let Some((offset, len)) = range {
            request = request.range(format!("bytes={offset}-{}", offset + len - 1));
        }
        if let Some(etag) = etag {
            request = request.if_match(etag);
        }
        request.send().await.map_err(|e| {
            if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) {
                Retry::EmptyRange
            } else {
                Retry::Failed(self.error(key, e))
            }
        })
    }
}

/// A GET that failed, or asked for a range of an empty object.
enum Retry {
    EmptyRange,
    Failed(StoreError),
}

impl Retry {
    fn into_error(self) -> StoreError {
        match self {
            Retry::EmptyRange => StoreError::Io("the store refused a byte range".into()),
            Retry::Failed(e) => e,
        }
    }
}

/// Streams one response body into its part of the file.
async fn stream_part(
    key: &str,
    limit: u64,
    mut writer: PartWriter,
    mut body: ByteStream,
    moved: &std::sync::atomic::AtomicU64,
) -> Result<(), StoreError> {
    let part_error = |e: PartError| match e {
        PartError::TooLong(_) => StoreError::TooLarge { key: key.to_string(), limit },
        other => StoreError::Io(format!("{key}: {other}")),
    };
    while let Some(chunk) = body.try_next().await.map_err(|e| StoreError::Io(format!("{key}: {e}")))? {
        let n = chunk.len() as u64;
        writer.push(chunk).await.map_err(part_error)?;
        moved.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }
    writer.finish().await.map_err(part_error)
}

/// `bytes START-END/TOTAL` as `(START, END, TOTAL)`.
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end, total) = (start.parse().ok()?, end.parse().ok()?, total.parse().ok()?);
    (start <= end).then_some((start, end, total))
}

/// The deepest cause of an error, which names what really went wrong.
fn innermost(e: &dyn std::error::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut last = e.to_string();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    fn uploaded(&self) -> u64 {
        self.uploaded.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn downloaded(&self) -> u64 {
        self.downloaded.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix.trim_end_matches('/'))
    }

    fn layout(&self) -> Layout {
        self.layout
    }

    async fn put(&self, key: &str, from: &File, create_only: bool) -> Result<(), StoreError> {
        self.put_checked(key, from, create_only, create_only).await
    }

    async fn put_new(&self, key: &str, from: &File) -> Result<(), StoreError> {
        self.put_checked(key, from, true, false).await
    }

    async fn get(&self, key: &str, to: &File, limit: u64) -> Result<FileDigest, StoreError> {
        let full = self.full(key)?;
        self.download(key, &full, to, limit).await
    }

    async fn stage(&self, key: &str, from: &File) -> Result<Staged, StoreError> {
        let full = self.full(key)?;
        let size = from.metadata().map_err(|e| StoreError::Io(format!("reading the file to upload: {e}")))?.len();
        let pending = if size > self.transfer.part_size {
            self.upload_parts(&full, &reopen_path(from), size).await?
        } else {
            Pending::Later(from.try_clone().map_err(|e| StoreError::Io(format!("reading the file to upload: {e}")))?)
        };
        Ok(Staged { key: key.to_string(), pending })
    }

    async fn commit(&self, staged: Staged) -> Result<(), StoreError> {
        match staged.pending {
            Pending::Later(file) => self.put(&staged.key, &file, false).await,
            Pending::Multipart { full, upload_id, parts } => self.complete(&full, &upload_id, parts).await,
        }
    }

    async fn abort(&self, staged: Staged) {
        if let Pending::Multipart { full, upload_id, .. } = staged.pending {
            self.abort_upload(&full, &upload_id).await;
        }
    }

    async fn exists(&self, key: &str) -> Result<bool, StoreError> {
        let full = self.full(key)?;
        match self.client.head_object().bucket(&self.bucket).key(&full).send().await {
            Ok(_) => Ok(true),
            Err(e) => match self.error(key, e) {
                StoreError::NotFound(_) => Ok(false),
                other => Err(other),
            },
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Object>, StoreError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{}{prefix}", self.prefix))
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.error(prefix, e))?;
            for object in page.contents() {
                if let Some(k) = object.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    // A size that is no size reads as the largest: nothing
                    // trusts it to be small.
                    let size = object.size().map_or(u64::MAX, |n| u64::try_from(n).unwrap_or(u64::MAX));
                    keys.push(Object { key: k.to_string(), size });
                }
            }
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(keys)
    }

    fn cancel(&self) {
        self.cancelled.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    async fn abort_open_uploads(&self) -> usize {
        self.abort_all().await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let full = self.full(key)?;
        self.client.delete_object().bucket(&self.bucket).key(&full).send().await.map_err(|e| self.error(key, e))?;
        Ok(())
    }
}
