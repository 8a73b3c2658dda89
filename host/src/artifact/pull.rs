//! Pulling one set: read its manifest, download every file into a
//! temporary directory beside the destination, verify each size and sha256,
//! then rename the directory into place. An interrupted or corrupt pull
//! leaves nothing behind and names the file that failed.

use std::path::{Path, PathBuf};

use super::layout::{SetId, MANIFEST};
use super::manifest::Manifest;
use crate::capabilities::artifacts::store::{check_key, ObjectStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("no set for commit {commit}, os {os}, variant {variant}, {linkage} linkage in {store}")]
    NoSet { store: String, commit: String, os: String, variant: String, linkage: String, available: Vec<String> },
    #[error("{} already exists; pull into a new directory", .0.display())]
    DestinationExists(PathBuf),
    #[error("`{file}` of the set does not match its manifest ({problem}); nothing was written")]
    Corrupt { file: String, problem: String },
    #[error("{0}")]
    Invalid(String),
    #[error("pulling from {store} failed")]
    Store {
        store: String,
        #[source]
        source: StoreError,
    },
    #[error("cannot write {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Sets (`os/variant/linkage`) that have a manifest under `commit/`.
pub async fn available(store: &dyn ObjectStore, commit: &str) -> Result<Vec<String>, StoreError> {
    let keys = store.list(&format!("{commit}/")).await?;
    Ok(keys
        .iter()
        .filter_map(|k| k.strip_suffix(&format!("/{MANIFEST}")))
        .filter_map(|k| k.strip_prefix(&format!("{commit}/")))
        .map(str::to_string)
        .collect())
}

/// Largest `manifest.json` read: thousands of files' entries fit in far less.
const MANIFEST_LIMIT: u64 = 16 << 20;

pub async fn pull(store: &dyn ObjectStore, id: &SetId, dest: &Path) -> Result<Manifest, PullError> {
    id.check().map_err(PullError::Invalid)?;
    let err = |source| PullError::Store { store: store.describe(), source };
    if dest.exists() && std::fs::read_dir(dest).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(PullError::DestinationExists(dest.into()));
    }
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|source| PullError::Write { path: parent.into(), source })?;
    let staging = tempfile::Builder::new()
        .prefix(".hostbuild-pull-")
        .tempdir_in(parent)
        .map_err(|source| PullError::Write { path: parent.into(), source })?;

    let dir = id.dir();
    let manifest_file = staging.path().join(".manifest.json");
    let new_file = |path: &Path| std::fs::File::create_new(path);
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PullError::Write { path, source }
    };
    let manifest_out = new_file(&manifest_file).map_err(write_err(&manifest_file))?;
    match store.get(&format!("{dir}{MANIFEST}"), &manifest_out, MANIFEST_LIMIT).await {
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => {
            return Err(PullError::NoSet {
                store: store.describe(),
                commit: id.commit.clone(),
                os: id.os.clone(),
                variant: id.variant.clone(),
                linkage: id.linkage.as_str().into(),
                available: available(store, &id.commit).await.map_err(err)?,
            })
        }
        Err(e) => return Err(err(e)),
    }
    let bytes =
        std::fs::read(&manifest_file).map_err(|source| PullError::Write { path: manifest_file.clone(), source })?;
    let manifest =
        Manifest::from_json(&bytes).map_err(|problem| PullError::Corrupt { file: MANIFEST.into(), problem })?;
    std::fs::remove_file(&manifest_file).map_err(|source| PullError::Write { path: manifest_file.clone(), source })?;

    for f in &manifest.files {
        if check_key(&f.path).is_err() {
            return Err(PullError::Corrupt { file: f.path.clone(), problem: "path leaves the set".into() });
        }
        let local = staging.path().join(&f.path);
        if let Some(p) = local.parent() {
            std::fs::create_dir_all(p).map_err(|source| PullError::Write { path: p.into(), source })?;
        }
        let got = store
            .get(&format!("{dir}{}", f.path), &new_file(&local).map_err(write_err(&local))?, f.size)
            .await
            .map_err(|e| match e {
            StoreError::TooLarge { .. } => {
                PullError::Corrupt { file: f.path.clone(), problem: format!("larger than its {} bytes", f.size) }
            }
            e => err(e),
        })?;
        if got.size != f.size || got.sha256 != f.sha256 {
            return Err(PullError::Corrupt {
                file: f.path.clone(),
                problem: format!(
                    "{} bytes with sha256 {}, expected {} bytes with sha256 {}",
                    got.size, got.sha256, f.size, f.sha256
                ),
            });
        }
    }
    // An empty destination directory may exist; replace it.
    if dest.exists() {
        std::fs::remove_dir(dest).map_err(|source| PullError::Write { path: dest.into(), source })?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, dest).map_err(|source| PullError::Write { path: dest.into(), source })?;
    Ok(manifest)
}
