//! A platform's checked files as artifact sets: one set per (os, variant,
//! linkage) of its primary files and wheels, each with the licenses and
//! dependencies.

use std::collections::BTreeMap;

use crate::artifact::characteristics;
use crate::artifact::checked::{CheckedArtifact, Role};
use crate::artifact::layout::{Linkage, SetId};
use crate::artifact::publish::{publish as publish_set, Publication, PublishError};
use crate::store::ObjectStore;

/// Publishes the sets; returns their directories in the store.
pub async fn publish(
    store: &dyn ObjectStore,
    commit: &str,
    platform: &str,
    plugin: &str,
    files: &[CheckedArtifact],
    force: bool,
) -> Result<Vec<String>, PublishError> {
    let of_role = |role: Role| -> Vec<&CheckedArtifact> { files.iter().filter(|a| a.role == role).collect() };
    let mut groups: BTreeMap<(String, String, Linkage), Vec<&CheckedArtifact>> = BTreeMap::new();
    for a in files.iter().filter(|a| matches!(a.role, Role::Primary | Role::Wheel)) {
        let os = characteristics::os(None, a.property("os")).value;
        let variant = a.property("variant").unwrap_or("cpu").to_string();
        let linkage = if a.property("linkage") == Some("static") { Linkage::Static } else { Linkage::Dynamic };
        groups.entry((os, variant, linkage)).or_default().push(a);
    }
    let mut published = Vec::new();
    for ((os, variant, linkage), primaries) in groups {
        let id = SetId { commit: commit.to_string(), os, variant, linkage };
        let p = Publication {
            id: id.clone(),
            primaries,
            licenses: of_role(Role::License),
            dependencies: of_role(Role::Dependency),
            platform: Some(platform.to_string()),
            plugin: Some(plugin.to_string()),
            force,
        };
        publish_set(store, &p).await?;
        published.push(id.dir(store.layout()));
    }
    Ok(published)
}
