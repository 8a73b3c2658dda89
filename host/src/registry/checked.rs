//! Image artifacts, checked before anything is tagged or pushed.
//!
//! A plugin reports an image artifact as a reference (its `path`) and the
//! recipe that built it (property `image`). It may only name:
//! - an image its own recipe built in this run;
//! - a reference under a prefix the user allowed (`push = ["reg:5000/team/"]`
//!   in the plugin's grants, or `run --allow-push PREFIX`), since tagging
//!   and pushing happen with the user's engine and registry credentials;
//! - and only when the plugin declared `publish` and it was granted.
//!
//! Never a `hostbuild/` reference (base images, recipe images, helpers),
//! never a base image of this run, and never a tag that already names an
//! image some other recipe (or the user) made.

use std::collections::{BTreeMap, HashMap};

use oci_client::Reference;

use crate::arch::TargetPlatform;
use crate::docker::images::{self, BuiltImage};
use crate::docker::naming;
use crate::model::{Artifact, ArtifactRole};

/// One tag to create (and with `--publish`, push).
#[derive(Debug, Clone)]
pub struct CheckedImage {
    /// The reference the plugin reported; several platforms under one
    /// reference become one OCI index there.
    pub reference: String,
    /// The tag created for this image: the reference itself, or
    /// `<reference>-<arch>` when several platforms share it.
    pub target: String,
    pub image: BuiltImage,
    pub properties: BTreeMap<String, String>,
}

/// What the user lets a plugin do with image references.
#[derive(Debug, Clone)]
pub struct ImageRules<'a> {
    /// The plugin declared `publish` and it was granted.
    pub publish: bool,
    /// Prefixes references must start with (`push` grant, `--allow-push`).
    pub prefixes: &'a [String],
    /// The plugin's name: a tag may be moved from an image that a plugin of
    /// this name built (an earlier version of it, inside a prefix the user
    /// allowed), never from anyone else's.
    pub plugin: &'a str,
    /// Base images of this run's recipes.
    pub base_images: Vec<String>,
}

/// An image artifact that cannot be tagged.
#[derive(Debug, thiserror::Error)]
pub enum ImageRefused {
    #[error("image artifact `{reference}` is not a valid image reference: {problem}")]
    InvalidReference { reference: String, problem: String },
    #[error("image artifact `{reference}` names image `{image}`, but this plugin's recipes built: {known}")]
    UnknownImage { reference: String, image: String, known: String },
    #[error("plugin `{plugin}` reports image `{reference}`, but tagging images needs the `publish` capability, which it did not declare or was not granted")]
    NoPublish { plugin: String, reference: String },
    #[error("image `{reference}` is not under a prefix the user allowed ({allowed})")]
    NotAllowed { reference: String, allowed: String },
    #[error("image `{reference}` is reserved: {why}")]
    Reserved { reference: String, why: String },
    #[error(
        "image `{reference}` already names an image no plugin of this name built ({existing}); it is never overwritten"
    )]
    WouldOverwrite { reference: String, existing: String },
}

/// Whether `reference` falls under `prefix`: equal, or a prefix ending in
/// `/` or `:`, or a repository followed by `/`, `:` or `@`.
pub fn under(reference: &str, prefix: &str) -> bool {
    if prefix.is_empty() {
        return false;
    }
    if reference == prefix {
        return true;
    }
    match reference.strip_prefix(prefix) {
        Some(rest) => prefix.ends_with('/') || prefix.ends_with(':') || rest.starts_with(['/', ':', '@']),
        None => false,
    }
}

/// Checks every image artifact against the rules; returns the tags to make.
pub async fn check_images(
    docker: &bollard::Docker,
    plugin: &str,
    built: &HashMap<String, BuiltImage>,
    artifacts: &[Artifact],
    rules: &ImageRules<'_>,
) -> Result<Vec<CheckedImage>, ImageRefused> {
    type Wanted<'a> = (&'a BuiltImage, BTreeMap<String, String>);
    let mut groups: BTreeMap<&str, Vec<Wanted>> = BTreeMap::new();
    for a in artifacts.iter().filter(|a| a.role == ArtifactRole::Image) {
        let reference = a.path.as_str();
        reference
            .parse::<Reference>()
            .map_err(|e| ImageRefused::InvalidReference { reference: reference.into(), problem: e.to_string() })?;
        if !rules.publish {
            return Err(ImageRefused::NoPublish { plugin: plugin.into(), reference: reference.into() });
        }
        let properties: BTreeMap<String, String> = a.properties.iter().cloned().collect();
        let name = properties
            .get("image")
            .cloned()
            .or_else(|| (built.len() == 1).then(|| built.keys().next().cloned()).flatten());
        let image = name.as_ref().and_then(|n| built.get(n)).ok_or_else(|| {
            let mut known: Vec<&str> = built.keys().map(String::as_str).collect();
            known.sort();
            ImageRefused::UnknownImage {
                reference: reference.into(),
                image: name.clone().unwrap_or_else(|| "(no `image` property)".into()),
                known: if known.is_empty() { "nothing".into() } else { known.join(", ") },
            }
        })?;
        if !rules.prefixes.iter().any(|p| under(reference, p)) {
            let allowed = if rules.prefixes.is_empty() { "none".to_string() } else { rules.prefixes.join(", ") };
            return Err(ImageRefused::NotAllowed { reference: reference.into(), allowed });
        }
        groups.entry(reference).or_default().push((image, properties));
    }
    let mut checked = Vec::new();
    for (reference, images) in groups {
        let several = images.len() > 1;
        for (image, properties) in images {
            let target = if several {
                format!("{reference}-{}", TargetPlatform::parse(&image.platform).short())
            } else {
                reference.into()
            };
            check_target(docker, &target, rules).await?;
            checked.push(CheckedImage { reference: reference.into(), target, image: image.clone(), properties });
        }
    }
    Ok(checked)
}

/// A tag may be made at `target` only if it is not reserved and names no
/// image yet, or one this plugin's recipes built.
async fn check_target(docker: &bollard::Docker, target: &str, rules: &ImageRules<'_>) -> Result<(), ImageRefused> {
    let repository = target.split('@').next().unwrap_or(target);
    let path = repository.split_once('/').map_or(repository, |(first, rest)| {
        if first.contains('.') || first.contains(':') || first == "localhost" {
            rest
        } else {
            repository
        }
    });
    if path.starts_with("hostbuild/") || path.starts_with("library/hostbuild/") {
        return Err(ImageRefused::Reserved {
            reference: target.into(),
            why: "`hostbuild/` holds hostbuild's base, recipe and helper images".into(),
        });
    }
    if rules.base_images.iter().any(|b| b == target || with_latest(b) == with_latest(target)) {
        return Err(ImageRefused::Reserved { reference: target.into(), why: "it is a base image of this run".into() });
    }
    match docker.inspect_image(target).await {
        Ok(existing) => {
            let labels = existing.config.and_then(|c| c.labels).unwrap_or_default();
            if images::recipe_owner(&labels).is_some_and(|o| naming::name_of_key(o) == rules.plugin) {
                Ok(())
            } else {
                let id = existing.id.unwrap_or_default();
                let what = match images::recipe_owner(&labels) {
                    Some(other) => format!("{id}, built by `{other}`"),
                    None => format!("{id}, not built by hostbuild"),
                };
                Err(ImageRefused::WouldOverwrite { reference: target.into(), existing: what })
            }
        }
        Err(_) => Ok(()),
    }
}

/// `name` with `:latest` when it has no tag or digest.
fn with_latest(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if last.contains(':') || reference.contains('@') {
        reference.to_string()
    } else {
        format!("{reference}:latest")
    }
}

impl crate::diagnostics::Diagnose for ImageRefused {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        match self {
            ImageRefused::InvalidReference { .. } | ImageRefused::UnknownImage { .. } => {
                (ExitStatus::PluginFailed, Some(crate::diagnostics::PLUGIN_BUG.into()))
            }
            ImageRefused::NotAllowed { reference, .. } => {
                let prefix = reference.rsplit_once(['/', ':']).map_or(reference.as_str(), |(p, _)| p);
                (
                    ExitStatus::NotGranted,
                    Some(format!(
                        "if you trust the plugin with it, pass --allow-push {prefix}/ (or grant \
                         `push = [\"{prefix}/\"]` in hostbuild.toml); nothing was tagged or pushed"
                    )),
                )
            }
            ImageRefused::NoPublish { .. } | ImageRefused::Reserved { .. } | ImageRefused::WouldOverwrite { .. } => {
                (ExitStatus::Refused, Some(format!("nothing was tagged or pushed; {}", crate::diagnostics::UNTRUSTED)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_names_only() {
        assert!(under("reg:5000/team/env:1", "reg:5000/team/"));
        assert!(under("reg:5000/team/env:1", "reg:5000/team/env"));
        assert!(under("reg:5000/team/env@sha256:ab", "reg:5000/team/env"));
        assert!(under("research-env/cpu:runtime", "research-env/"));
        assert!(!under("reg:5000/team-evil/env:1", "reg:5000/team"));
        assert!(!under("reg:5000/teamx/env", "reg:5000/team"));
        assert!(!under("anything", ""));
        assert_eq!(with_latest("hostbuild/bookworm"), "hostbuild/bookworm:latest");
        assert_eq!(with_latest("reg:5000/x"), "reg:5000/x:latest");
        assert_eq!(with_latest("reg:5000/x:1"), "reg:5000/x:1");
    }
}
