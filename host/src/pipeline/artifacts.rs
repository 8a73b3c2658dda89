//! `detect-artifacts` answers, checked: each file a plugin reports becomes a
//! [`CheckedArtifact`] or the run stops. The files are opened and hashed on
//! a blocking thread, which stops between chunks when a signal arrives.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::artifact::checked::{CheckError, CheckedArtifact, Role};
use crate::model::{Artifact, ArtifactRole};
use crate::output_tree::{OutputTree, TreeError};
use crate::runtime::CallError;

/// A reported artifact that is not a regular file inside the output tree
/// (a path that leaves it, a symlink, a FIFO, a device, a file over the
/// size limit): refused, exit status 13.
#[derive(Debug, thiserror::Error)]
#[error("plugin `{plugin}` reported artifact `{path}`, which hostbuild refuses: {reason}")]
pub struct ArtifactRefused {
    pub plugin: String,
    pub path: String,
    pub reason: String,
}

fn role(role: ArtifactRole) -> Option<Role> {
    match role {
        ArtifactRole::Primary => Some(Role::Primary),
        ArtifactRole::License => Some(Role::License),
        ArtifactRole::Dependency => Some(Role::Dependency),
        ArtifactRole::Wheel => Some(Role::Wheel),
        ArtifactRole::TestReport => Some(Role::TestReport),
        // Images are not files: their path is a reference (registry::checked).
        ArtifactRole::Image => None,
    }
}

/// Checks every file artifact of `plugin` in `tree`.
pub async fn check(
    plugin: &str,
    tree: Arc<OutputTree>,
    detected: &[Artifact],
    limit: u64,
) -> anyhow::Result<Vec<CheckedArtifact>> {
    let wanted: Vec<(String, Role, BTreeMap<String, String>)> = detected
        .iter()
        .filter_map(|a| role(a.role).map(|r| (a.path.clone(), r, a.properties.iter().cloned().collect())))
        .collect();
    let plugin = plugin.to_string();
    tokio::task::spawn_blocking(move || {
        let mut checked: Vec<CheckedArtifact> = Vec::new();
        for (path, role, properties) in wanted {
            if checked.iter().any(|c| c.path == path) {
                continue;
            }
            let artifact =
                CheckedArtifact::in_tree(tree.dir(), &path, role, properties, limit, crate::interrupt::flag());
            checked.push(artifact.map_err(|e| refused(&plugin, &path, e))?);
        }
        Ok(checked)
    })
    .await?
}

fn refused(plugin: &str, path: &str, e: CheckError) -> anyhow::Error {
    match e {
        // A file the plugin says it made and did not: a bug, not an attack.
        CheckError::Tree(TreeError::NotFound(_)) => CallError::Malformed {
            plugin: plugin.into(),
            call: "detect-artifacts",
            problem: format!("artifact `{path}` does not exist in the output tree"),
        }
        .into(),
        CheckError::Interrupted(_) => e.into(),
        e => ArtifactRefused { plugin: plugin.into(), path: path.into(), reason: e.to_string() }.into(),
    }
}

impl crate::diagnostics::Diagnose for ArtifactRefused {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        let hint = format!(
            "artifacts must be regular files inside the output tree (no symlinks, no `..`), \
             at most --max-artifact-size; nothing was published; {}",
            crate::diagnostics::UNTRUSTED
        );
        (ExitStatus::Refused, Some(hint))
    }
}
