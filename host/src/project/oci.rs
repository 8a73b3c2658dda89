//! Components in OCI registries, in the wasm OCI artifact format of the CNCF
//! TAG Runtime (what `wkg` and wasm-pkg-tools push): one `application/wasm`
//! layer, an `application/vnd.wasm.config.v0+json` config. Registries on
//! loopback are spoken to over plain HTTP, as docker does; credentials come
//! from the docker config (`auths` of ~/.docker/config.json), else anonymous.

use std::collections::BTreeMap;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::manifest::{OciImageManifest, WASM_LAYER_MEDIA_TYPE};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use std::path::Path;

use super::sources::DownloadLimits;
use super::SourceError;
use crate::store::{FileDigest, HashingWriter};

pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";

fn parse(reference: &str) -> Result<Reference, SourceError> {
    reference
        .parse::<Reference>()
        .map_err(|e| SourceError::Invalid(format!("`{reference}` is not an OCI reference: {e}")))
}

/// Plain HTTP only for registries on this machine (localhost or a loopback
/// IP, not a name that merely starts with `127.`), HTTPS for the rest; the
/// download timeouts of plugin sources.
fn client(reference: &Reference) -> Client {
    let registry = reference.resolve_registry().to_string();
    let protocol = if on_this_machine(&registry) {
        ClientProtocol::HttpsExcept(vec![registry.clone()])
    } else {
        ClientProtocol::Https
    };
    let timeout = super::sources::DownloadLimits::from_env().map(|l| l.timeout).ok();
    Client::new(ClientConfig { protocol, read_timeout: timeout, connect_timeout: timeout, ..Default::default() })
}

/// Whether `registry` (`host[:port]`) is localhost or a loopback IP.
fn on_this_machine(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => registry,
    };
    super::sources::is_loopback_host(host)
}

/// Basic credentials for the registry of `reference` from the docker config.
fn auth(reference: &Reference) -> RegistryAuth {
    match crate::registry::credentials::lookup(reference.resolve_registry()) {
        Some(b) => RegistryAuth::Basic(b.username, b.password),
        None => RegistryAuth::Anonymous,
    }
}

/// A client and credentials for `reference`.
pub fn connect(reference: &Reference) -> (Client, RegistryAuth) {
    (client(reference), auth(reference))
}

pub fn registry_error(reference: &str, e: oci_client::errors::OciDistributionError) -> SourceError {
    use oci_client::errors::{OciDistributionError as E, OciErrorCode as C};
    let codes: Vec<&C> = match &e {
        E::RegistryError { envelope, .. } => envelope.errors.iter().map(|e| &e.code).collect(),
        _ => Vec::new(),
    };
    if codes.iter().any(|c| matches!(c, C::ManifestUnknown | C::NameUnknown)) {
        return SourceError::NotFound(format!("{reference}: no such manifest in the registry"));
    }
    if codes.iter().any(|c| matches!(c, C::Unauthorized | C::Denied)) {
        return SourceError::Denied(format!("{reference}: the registry refused access"));
    }
    match e {
        E::ImageManifestNotFoundError(_) => {
            SourceError::NotFound(format!("{reference}: no such manifest in the registry"))
        }
        E::AuthenticationFailure(m) | E::UnauthorizedError { url: m } => {
            SourceError::Denied(format!("{reference}: the registry refused the credentials ({m})"))
        }
        E::RequestError(e) if e.is_connect() || e.is_timeout() => {
            // A plain-HTTP registry elsewhere fails here: say why HTTPS was used.
            let registry = reference.split('/').next().unwrap_or_default();
            let https_only = if on_this_machine(registry) {
                ""
            } else {
                " (registries other than localhost or a loopback IP are reached over HTTPS only)"
            };
            SourceError::Unreachable(format!("{reference}: cannot reach the registry{https_only}: {e}"))
        }
        other => SourceError::Failed(format!("{reference}: {other}")),
    }
}

/// Pulls the component of `reference` into the file `to`, streamed and
/// hashed, never larger than the limit; returns its size and sha256.
pub async fn pull(reference: &str, to: &Path, limits: DownloadLimits) -> Result<FileDigest, SourceError> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let parsed = parse(reference)?;
    let (client, auth) = connect(&parsed);
    let (manifest, _) = client.pull_image_manifest(&parsed, &auth).await.map_err(|e| registry_error(reference, e))?;
    let layer = match manifest.layers.as_slice() {
        [layer] if [LAYER_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE].contains(&layer.media_type.as_str()) => layer.clone(),
        [layer] => {
            return Err(SourceError::Failed(format!(
                "{reference}: its layer is `{}`, not a wasm component ({LAYER_MEDIA_TYPE})",
                layer.media_type
            )))
        }
        layers => {
            return Err(SourceError::Failed(format!(
                "{reference} has {} layers; a wasm component artifact has exactly one",
                layers.len()
            )))
        }
    };
    let too_large = || SourceError::TooLarge { what: reference.into(), limit: limits.max_bytes };
    if u64::try_from(layer.size).unwrap_or(u64::MAX) > limits.max_bytes {
        return Err(too_large());
    }
    let mut stream = client.pull_blob_stream(&parsed, &layer).await.map_err(|e| registry_error(reference, e))?;
    let file = tokio::fs::File::create(to).await.map_err(|e| SourceError::Cache(e.to_string()))?;
    let mut sink = HashingWriter::new(tokio::io::BufWriter::new(file));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| SourceError::Failed(format!("{reference}: the download broke off: {e}")))?;
        if sink.size + chunk.len() as u64 > limits.max_bytes {
            return Err(too_large());
        }
        sink.update(&chunk);
        sink.inner.write_all(&chunk).await.map_err(|e| SourceError::Cache(e.to_string()))?;
    }
    sink.inner.flush().await.map_err(|e| SourceError::Cache(e.to_string()))?;
    let digest = sink.finish();
    // The registry's digest of the layer must be what arrived.
    if layer.digest != format!("sha256:{}", digest.sha256) {
        return Err(SourceError::Failed(format!(
            "{reference}: the layer's bytes do not match its digest {}",
            layer.digest
        )));
    }
    Ok(digest)
}

/// Pushes `component` as `reference`; returns the manifest URL.
pub async fn push(
    reference: &str,
    component: Vec<u8>,
    annotations: BTreeMap<String, String>,
) -> Result<String, SourceError> {
    let parsed = parse(reference)?;
    let layer = ImageLayer::new(component, LAYER_MEDIA_TYPE.into(), None);
    let config = serde_json::json!({
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer.sha256_digest()],
    });
    let config = Config::new(serde_json::to_vec(&config).unwrap_or_default(), CONFIG_MEDIA_TYPE.into(), None);
    let manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, Some(annotations));
    let pushed = client(&parsed)
        .push(&parsed, &[layer], config, &auth(&parsed), Some(manifest))
        .await
        .map_err(|e| registry_error(reference, e))?;
    Ok(pushed.manifest_url)
}
