//! S3 (and S3-compatible servers) through aws-sdk-s3, configured by the
//! standard AWS chain (environment, profile, `AWS_ENDPOINT_URL`). A custom
//! endpoint means path-style requests; checksums are computed only when
//! the API requires them (S3-compatible servers reject the newer defaults).
//! Large files go up in parallel multipart uploads, aborted on failure and
//! on interruption (`abort_open_uploads`). Create-only writes use
//! `If-None-Match: *`; because some servers ignore or race it, the object is
//! read back and must be ours.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use futures::{StreamExt, TryStreamExt};

use super::store::{check_key, reopen_path, FileDigest, HashingWriter, ObjectStore, StoreError};

/// Files larger than this go up in parts.
pub const MULTIPART_THRESHOLD: u64 = 16 << 20;
/// Size of one part.
pub const PART_SIZE: u64 = 8 << 20;
/// Parts in flight at once.
pub const PARALLEL_PARTS: usize = 4;

pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    endpoint: String,
    /// Multipart uploads started and not yet completed or aborted.
    open_uploads: Arc<Mutex<Vec<(String, String)>>>,
    /// Set by [`ObjectStore::cancel`]: multipart uploads stop and abort.
    cancelled: Arc<std::sync::atomic::AtomicBool>,
}

impl S3Store {
    /// `s3://bucket/prefix` with the standard AWS configuration.
    pub async fn connect(bucket: &str, prefix: &str) -> Result<Self, StoreError> {
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
        };
        // Fail early, and clearly, on a missing bucket or refused credentials
        // (some servers would create the bucket on the first write).
        match store.client.head_bucket().bucket(&store.bucket).send().await {
            Ok(_) => Ok(store),
            Err(e) => Err(match store.error(bucket, e) {
                StoreError::NotFound(_) => StoreError::Denied(format!("bucket `{bucket}` does not exist")),
                other => other,
            }),
        }
    }

    fn full(&self, key: &str) -> Result<String, StoreError> {
        check_key(key)?;
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
            _ => StoreError::Io(format!("{key}: {}", code.unwrap_or_else(|| format!("{e}")))),
        }
    }

    async fn multipart(&self, full: &str, from: &Path, size: u64) -> Result<(), StoreError> {
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
        let parts = size.div_ceil(PART_SIZE);
        let uploads = futures::stream::iter(0..parts).map(|i| {
            let id = id.clone();
            async move {
                if self.cancelled.load(std::sync::atomic::Ordering::SeqCst) {
                    return Err(StoreError::Io("the upload was interrupted".into()));
                }
                let offset = i * PART_SIZE;
                let length = PART_SIZE.min(size - offset);
                let body = ByteStream::read_from()
                    .path(from)
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
                Ok::<_, StoreError>(
                    CompletedPart::builder().part_number(part).set_e_tag(done.e_tag().map(str::to_string)).build(),
                )
            }
        });
        let result = async {
            let mut done: Vec<CompletedPart> = uploads.buffer_unordered(PARALLEL_PARTS).try_collect().await?;
            done.sort_by_key(|p| p.part_number());
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(full)
                .upload_id(&id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(done)).build())
                .send()
                .await
                .map_err(|e| self.error(full, e))
                .map(drop)
        }
        .await;
        if result.is_err() {
            let _ = self.client.abort_multipart_upload().bucket(&self.bucket).key(full).upload_id(&id).send().await;
        }
        self.open_uploads.lock().unwrap_or_else(|p| p.into_inner()).retain(|(_, u)| *u != id);
        result
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
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix.trim_end_matches('/'))
    }

    async fn put(&self, key: &str, from: &File, create_only: bool) -> Result<(), StoreError> {
        let full = self.full(key)?;
        let size = from.metadata().map_err(|e| StoreError::Io(format!("reading the file to upload: {e}")))?.len();
        // The SDK streams (and, to retry, re-reads) bodies from a path: this
        // one names the open file itself.
        let path = reopen_path(from);
        if size > MULTIPART_THRESHOLD && !create_only {
            return self.multipart(&full, &path, size).await;
        }
        let body = ByteStream::read_from()
            .path(&path)
            .length(Length::Exact(size))
            .build()
            .await
            .map_err(|e| StoreError::Io(format!("reading the file to upload: {e}")))?;
        let mut request = self.client.put_object().bucket(&self.bucket).key(&full).body(body);
        if create_only {
            request = request.if_none_match("*");
        }
        request.send().await.map_err(|e| self.error(key, e))?;
        if create_only {
            // Servers that ignore or race If-None-Match: the object must be ours.
            tokio::time::sleep(Duration::from_millis(200)).await;
            if !self.holds(key, &full, from, size).await? {
                return Err(StoreError::AlreadyExists(key.to_string()));
            }
        }
        Ok(())
    }

    async fn get(&self, key: &str, to: &File, limit: u64) -> Result<FileDigest, StoreError> {
        use tokio::io::AsyncWriteExt;
        let full = self.full(key)?;
        let object =
            self.client.get_object().bucket(&self.bucket).key(&full).send().await.map_err(|e| self.error(key, e))?;
        let too_large = || StoreError::TooLarge { key: key.to_string(), limit };
        if object.content_length().is_some_and(|n| u64::try_from(n).unwrap_or(u64::MAX) > limit) {
            return Err(too_large());
        }
        let mut body = object.body;
        let file = to.try_clone().map_err(|e| StoreError::Io(format!("the download's file: {e}")))?;
        let mut sink =
            HashingWriter::new(tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file)));
        let write_failed = |e: std::io::Error| StoreError::Io(format!("writing {key}: {e}"));
        while let Some(chunk) = body.try_next().await.map_err(|e| StoreError::Io(format!("{key}: {e}")))? {
            sink.update(&chunk);
            if sink.size > limit {
                return Err(too_large());
            }
            sink.inner.write_all(&chunk).await.map_err(write_failed)?;
        }
        sink.inner.flush().await.map_err(write_failed)?;
        Ok(sink.finish())
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

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
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
                    keys.push(k.to_string());
                }
            }
        }
        keys.sort();
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
