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

use super::SourceError;

pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";

fn parse(reference: &str) -> Result<Reference, SourceError> {
    reference
        .parse::<Reference>()
        .map_err(|e| SourceError::Invalid(format!("`{reference}` is not an OCI reference: {e}")))
}

/// Plain HTTP for registries on this machine, HTTPS for the rest.
fn client(reference: &Reference) -> Client {
    let registry = reference.resolve_registry().to_string();
    let host = registry.rsplit_once(':').map_or(registry.as_str(), |(h, _)| h);
    let local = host == "localhost" || host.starts_with("127.") || host == "[::1]";
    let protocol = if local { ClientProtocol::HttpsExcept(vec![registry.clone()]) } else { ClientProtocol::Https };
    Client::new(ClientConfig { protocol, ..Default::default() })
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
            SourceError::Unreachable(format!("{reference}: cannot reach the registry: {e}"))
        }
        other => SourceError::Failed(format!("{reference}: {other}")),
    }
}

/// Pulls the component of `reference`; returns its bytes.
pub async fn pull(reference: &str) -> Result<Vec<u8>, SourceError> {
    let parsed = parse(reference)?;
    let image = client(&parsed)
        .pull(&parsed, &auth(&parsed), vec![LAYER_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE])
        .await
        .map_err(|e| registry_error(reference, e))?;
    match image.layers.as_slice() {
        [layer] => Ok(layer.data.to_vec()),
        layers => Err(SourceError::Failed(format!(
            "{reference} has {} layers; a wasm component artifact has exactly one",
            layers.len()
        ))),
    }
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
