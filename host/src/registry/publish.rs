//! Images a platform reports as artifacts (role `image`, path = the
//! reference, property `image` = the recipe that built it) are tagged in the
//! engine; with `run --publish` they are pushed with the docker config's
//! credentials. Several platforms under one reference become one OCI image
//! index: each platform's image is pushed as `<reference>-<arch>`, then the
//! index at `<reference>` names their manifests, so `docker pull` on either
//! architecture gets its own. No buildx involved.

use std::collections::BTreeMap;

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{PushImageOptionsBuilder, TagImageOptionsBuilder};
use futures::StreamExt;
use oci_client::Reference;
use sha2::{Digest, Sha256};

use super::checked::CheckedImage;
use super::credentials;
use crate::arch::TargetPlatform;
use crate::capabilities::log::{Level, LogSink};
use crate::project::oci;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot tag {reference}: {message}")]
    Tag { reference: String, message: String },
    #[error("pushing {reference} failed: {message}")]
    Push { reference: String, message: String },
}

/// What the run summary shows for one image: a tag made (and pushed), or
/// the index over several.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublishedImage {
    pub path: String,
    pub role: &'static str,
    pub platform: String,
    /// The recipe image it tags (none for an index).
    pub image: Option<String>,
    /// The manifest digest in the registry; none when not pushed.
    pub digest: Option<String>,
    pub properties: BTreeMap<String, String>,
}

/// Tags (and with `push`, pushes) checked image artifacts; several
/// platforms under one reference get an OCI index there when pushed.
pub async fn publish_images(
    docker: &bollard::Docker,
    images: &[CheckedImage],
    push: bool,
    log: &dyn LogSink,
) -> Result<Vec<PublishedImage>, RegistryError> {
    let mut groups: BTreeMap<&str, Vec<&CheckedImage>> = BTreeMap::new();
    for image in images {
        groups.entry(image.reference.as_str()).or_default().push(image);
    }
    let mut out = Vec::new();
    for (reference, wanted) in groups {
        let several = wanted.len() > 1;
        let mut manifests = Vec::new();
        for w in &wanted {
            let target = w.target.as_str();
            let (repo, tag) = split(target);
            let options = TagImageOptionsBuilder::default().repo(repo).tag(tag).build();
            docker
                .tag_image(&w.image.tag, Some(options))
                .await
                .map_err(|e| RegistryError::Tag { reference: target.into(), message: e.to_string() })?;
            let mut entry = PublishedImage {
                path: target.into(),
                role: "image",
                platform: w.image.platform.clone(),
                image: Some(w.image.tag.clone()),
                digest: None,
                properties: w.properties.clone(),
            };
            if push {
                log.line("hostbuild", Level::Info, &format!("pushing {target} ({})", w.image.platform));
                push_tag(docker, repo, tag, target, log).await?;
                let (digest, size, media_type) = manifest_of(target).await?;
                log.line("hostbuild", Level::Info, &format!("pushed {target}@{digest}"));
                entry.digest = Some(digest.clone());
                manifests.push(serde_json::json!({
                    "mediaType": media_type,
                    "digest": digest,
                    "size": size,
                    "platform": TargetPlatform::parse(&w.image.platform).oci(),
                }));
            }
            out.push(entry);
        }
        if several {
            let platforms: Vec<&str> = wanted.iter().map(|w| w.image.platform.as_str()).collect();
            let mut entry = PublishedImage {
                path: reference.into(),
                role: "image",
                platform: platforms.join(","),
                image: None,
                digest: None,
                properties: BTreeMap::from([("kind".to_string(), "index".to_string())]),
            };
            if push {
                let digest = push_index(reference, &manifests).await?;
                log.line(
                    "hostbuild",
                    Level::Info,
                    &format!("pushed index {reference}@{digest} ({})", platforms.join(", ")),
                );
                entry.digest = Some(digest);
            }
            out.push(entry);
        }
    }
    Ok(out)
}

/// `repository` and `tag` of a reference (`latest` when it has none).
pub(crate) fn split(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (reference, "latest"),
    }
}

/// Pushes `repo:tag` to `target`'s registry, reporting layers pushed as
/// the progress of task `push TARGET` (the engine's stream names no layer
/// by id here, so bytes cannot be summed; each layer ends with one line).
pub(crate) async fn push_tag(
    docker: &bollard::Docker,
    repo: &str,
    tag: &str,
    target: &str,
    log: &dyn LogSink,
) -> Result<(), RegistryError> {
    let registry = credentials::registry_of(target);
    let creds = match credentials::lookup(&registry) {
        Some(b) => DockerCredentials {
            username: Some(b.username),
            password: Some(b.password),
            serveraddress: Some(registry),
            ..Default::default()
        },
        None => DockerCredentials { serveraddress: Some(registry), ..Default::default() },
    };
    let options = PushImageOptionsBuilder::default().tag(tag).build();
    let layers = docker.inspect_image(&format!("{repo}:{tag}")).await.ok().and_then(|i| i.root_fs?.layers);
    let (task, total) = (format!("push {target}"), layers.map(|l| l.len() as u64));
    let mut done = 0;
    let mut stream = docker.push_image(repo, Some(options), Some(creds));
    let fail = |message: String| RegistryError::Push { reference: target.into(), message };
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| fail(e.to_string()))?;
        if let Some(error) = info.error_detail.and_then(|d| d.message) {
            return Err(fail(error));
        }
        if info.status.as_deref().is_some_and(layer_done) {
            done += 1;
            log.progress("hostbuild", &task, done, total.map(|t| t.max(done)));
        }
    }
    Ok(())
}

/// Whether a push status line ends a layer (the engine's words).
fn layer_done(status: &str) -> bool {
    status == "Pushed" || status == "Layer already exists" || status.starts_with("Mounted from ")
}

/// Digest, size and media type of the manifest the registry holds for `target`.
pub(crate) async fn manifest_of(target: &str) -> Result<(String, usize, String), RegistryError> {
    let reference: Reference = target.parse().map_err(|e: oci_client::ParseError| RegistryError::Push {
        reference: target.into(),
        message: e.to_string(),
    })?;
    let (client, auth) = oci::connect(&reference);
    let (bytes, digest) =
        client.pull_manifest_raw(&reference, &auth, &[DOCKER_MANIFEST, OCI_MANIFEST]).await.map_err(|e| {
            RegistryError::Push { reference: target.into(), message: oci::registry_error(target, e).to_string() }
        })?;
    let media_type = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(String::from))
        .unwrap_or_else(|| OCI_MANIFEST.into());
    Ok((digest, bytes.len(), media_type))
}

/// Pushes an OCI index naming `manifests` at `target`; returns its digest.
async fn push_index(target: &str, manifests: &[serde_json::Value]) -> Result<String, RegistryError> {
    let fail = |message: String| RegistryError::Push { reference: target.into(), message };
    let reference: Reference = target.parse().map_err(|e: oci_client::ParseError| fail(e.to_string()))?;
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    let body = serde_json::to_vec(&index).map_err(|e| fail(e.to_string()))?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    let (client, auth) = oci::connect(&reference);
    // Authenticate for push first: push_manifest_raw uses stored tokens.
    let _ = client.auth(&reference, &auth, oci_client::RegistryOperation::Push).await;
    client
        .push_manifest_raw(&reference, body, reqwest::header::HeaderValue::from_static(OCI_INDEX))
        .await
        .map_err(|e| fail(oci::registry_error(target, e).to_string()))?;
    Ok(digest)
}

impl crate::diagnostics::Diagnose for RegistryError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        match self {
            RegistryError::Tag { .. } => (ExitStatus::Unavailable, Some("`hostbuild doctor` checks the engine".into())),
            RegistryError::Push { .. } => (
                ExitStatus::Unavailable,
                Some("check that the registry is reachable from the Docker engine, and `docker login REGISTRY`".into()),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_layer_ends() {
        assert_eq!(split("localhost:5000/team/env:py-3.11"), ("localhost:5000/team/env", "py-3.11"));
        assert_eq!(split("localhost:5000/team/env"), ("localhost:5000/team/env", "latest"));
        assert!(layer_done("Pushed") && layer_done("Mounted from team/base") && layer_done("Layer already exists"));
        assert!(!layer_done("Pushing") && !layer_done("Preparing") && !layer_done("Waiting"));
    }
}
