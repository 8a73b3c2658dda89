//! Publishing one set: claim it (create-only lock object, checked to be
//! ours) while the files' bytes already move invisibly (staged: S3
//! multipart uploads not yet completed), then make the files visible, write
//! their `.meta`, and `manifest.json` create-only, last. Of many publishers
//! racing for one set exactly one wins; the others abort what they staged
//! and fail having written nothing visible. `force` replaces an existing or
//! half-written set.
//! Only checked artifacts are published: open regular files whose size and
//! sha256 are known, streamed to the store from the handle that was hashed.
//!
//! The set's directory follows the store's layout. In the `mxnet-cd` layout
//! a set is also complete for MXNet CD's own tool: primary files at the
//! directory, `licenses/` (that tool refuses sets without licenses, so this
//! does too) and `dependencies/`; hostbuild's `.meta`, claim and manifest
//! sit beside them, where that tool's pull downloads them as plain files.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::checked::CheckedArtifact;
use super::layout::{Layout, SetId, LOCK, MANIFEST};
use super::manifest::{FileEntry, FileRole, Manifest};
use super::meta::{self, LIBMXNET_META};
use crate::capabilities::artifacts::store::{ObjectStore, Staged, StoreError};

/// What to publish.
#[derive(Debug, Clone)]
pub struct Publication<'a> {
    pub id: SetId,
    pub primaries: Vec<&'a CheckedArtifact>,
    pub licenses: Vec<&'a CheckedArtifact>,
    pub dependencies: Vec<&'a CheckedArtifact>,
    pub platform: Option<String>,
    pub plugin: Option<String>,
    pub force: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("a set already exists at {store}/{dir}")]
    Exists { store: String, dir: String },
    #[error("the set at {store}/{dir} is being published by another process, or an earlier publish died midway")]
    Claimed { store: String, dir: String },
    #[error("{0}")]
    Invalid(String),
    #[error("publishing to {store} failed")]
    Store {
        store: String,
        #[source]
        source: StoreError,
    },
}

/// A checked file with its place in the set.
struct Planned<'a> {
    artifact: &'a CheckedArtifact,
    path: String,
    role: FileRole,
}

/// A small file the host writes itself (lock, `.meta`, manifest), opened
/// for the store.
fn scratch_file(dir: &Path, name: &str, contents: &[u8]) -> Result<File, StoreError> {
    let path = dir.join(name);
    let mut file = File::create(&path).map_err(|e| StoreError::Io(e.to_string()))?;
    file.write_all(contents).map_err(|e| StoreError::Io(e.to_string()))?;
    File::open(&path).map_err(|e| StoreError::Io(e.to_string()))
}

pub async fn publish(store: &dyn ObjectStore, p: &Publication<'_>) -> Result<Manifest, PublishError> {
    p.id.check().map_err(PublishError::Invalid)?;
    if p.primaries.is_empty() {
        return Err(PublishError::Invalid("nothing to publish: no primary file".into()));
    }
    let layout = store.layout();
    let dir = p.id.dir(layout);
    let err = |source| PublishError::Store { store: store.describe(), source };
    if layout == Layout::MxnetCd && p.licenses.is_empty() {
        return Err(PublishError::Invalid(
            "the mxnet-cd layout needs license files (MXNet CD's tool refuses sets without licenses/): \
             pass --licenses FILE..."
                .into(),
        ));
    }
    let mut plan = Vec::new();
    for (files, role, sub) in [
        (&p.primaries, FileRole::Primary, ""),
        (&p.licenses, FileRole::License, "licenses/"),
        (&p.dependencies, FileRole::Dependency, "dependencies/"),
    ] {
        for f in files {
            let path = format!("{sub}{}", f.file_name());
            if plan.iter().any(|x: &Planned| x.path == path) {
                return Err(PublishError::Invalid(format!("two files would be published as `{path}`")));
            }
            // MXNet CD's tool writes libmxnet.meta into every set it pulls.
            let meta_of_primary = role == FileRole::Primary && format!("{path}.meta") == LIBMXNET_META;
            if layout == Layout::MxnetCd && (path == LIBMXNET_META || meta_of_primary) {
                return Err(PublishError::Invalid(format!(
                    "`{path}` would be published as (or beside) `{LIBMXNET_META}`, which MXNet CD's tool writes when it pulls"
                )));
            }
            plan.push(Planned { artifact: f, path, role });
        }
    }

    if !p.force && store.exists(&format!("{dir}{MANIFEST}")).await.map_err(err)? {
        return Err(PublishError::Exists { store: store.describe(), dir });
    }
    let scratch = tempfile::tempdir().map_err(|e| err(StoreError::Io(e.to_string())))?;
    let claim_text = format!("pid={} host={}\n", std::process::id(), hostname());
    let lock = scratch_file(scratch.path(), "lock", claim_text.as_bytes()).map_err(err)?;
    // The files' bytes move while the claim is made and checked, invisibly
    // (S3: multipart uploads not completed): a publisher that loses the
    // claim aborts them and has written nothing.
    let (claimed, staged) = tokio::join!(claim(store, p, &dir, &lock), stage(store, &dir, &plan));
    let staged = match (claimed, staged) {
        (Ok(()), Ok(staged)) => staged,
        (Err(e), staged) => {
            if let Ok(staged) = staged {
                abort_all(store, staged).await;
            }
            return Err(e);
        }
        (Ok(()), Err(e)) => {
            let _ = store.delete(&format!("{dir}{LOCK}")).await;
            return Err(e);
        }
    };
    let result = upload(store, p, &dir, &plan, staged, scratch.path()).await;
    if result.is_err() {
        // Let a retry claim the set again; nothing else of it is trusted.
        let _ = store.delete(&format!("{dir}{LOCK}")).await;
    }
    result
}

/// Creates the set's claim, create-only (unless forced): of racing
/// publishers exactly one succeeds.
async fn claim(store: &dyn ObjectStore, p: &Publication<'_>, dir: &str, lock: &File) -> Result<(), PublishError> {
    let err = |source| PublishError::Store { store: store.describe(), source };
    match store.put(&format!("{dir}{LOCK}"), lock, !p.force).await {
        Ok(()) => Ok(()),
        Err(StoreError::AlreadyExists(_)) => {
            // Lost the race, or the set is complete and another process won.
            if store.exists(&format!("{dir}{MANIFEST}")).await.map_err(err)? {
                return Err(PublishError::Exists { store: store.describe(), dir: dir.into() });
            }
            Err(PublishError::Claimed { store: store.describe(), dir: dir.into() })
        }
        Err(e) => Err(err(e)),
    }
}

/// Stages every planned file, in order; on failure nothing stays staged.
async fn stage(store: &dyn ObjectStore, dir: &str, plan: &[Planned<'_>]) -> Result<Vec<Staged>, PublishError> {
    let mut staged = Vec::new();
    for f in plan {
        match store.stage(&format!("{dir}{}", f.path), f.artifact.file()).await {
            Ok(s) => staged.push(s),
            Err(source) => {
                abort_all(store, staged).await;
                return Err(PublishError::Store { store: store.describe(), source });
            }
        }
    }
    Ok(staged)
}

async fn abort_all(store: &dyn ObjectStore, staged: impl IntoIterator<Item = Staged>) {
    for s in staged {
        store.abort(s).await;
    }
}

async fn upload(
    store: &dyn ObjectStore,
    p: &Publication<'_>,
    dir: &str,
    plan: &[Planned<'_>],
    staged: Vec<Staged>,
    scratch: &Path,
) -> Result<Manifest, PublishError> {
    let err = |source| PublishError::Store { store: store.describe(), source };
    let created = now_rfc3339();
    let mut entries = Vec::new();
    let mut sums = BTreeMap::new();
    let mut staged = staged.into_iter();
    for (f, s) in plan.iter().zip(&mut staged) {
        if let Err(e) = store.commit(s).await {
            abort_all(store, staged).await;
            return Err(err(e));
        }
        let (size, sha256) = (f.artifact.size, f.artifact.sha256.clone());
        sums.insert(f.path.clone(), (size, sha256.clone()));
        entries.push(FileEntry { path: f.path.clone(), role: f.role, size, sha256 });
    }
    for primary in plan.iter().filter(|f| f.role == FileRole::Primary) {
        let mut props = BTreeMap::from([
            ("commit".to_string(), p.id.commit.clone()),
            ("os".to_string(), p.id.os.clone()),
            ("variant".to_string(), p.id.variant.clone()),
            ("linkage".to_string(), p.id.linkage.as_str().to_string()),
            ("build_time".to_string(), created.clone()),
        ]);
        if let Some(platform) = &p.platform {
            props.insert("platform".into(), platform.clone());
        }
        if let Some(plugin) = &p.plugin {
            props.insert("plugin".into(), plugin.clone());
        }
        for (path, (size, sha)) in &sums {
            props.insert(format!("sha256.{path}"), sha.clone());
            props.insert(format!("size.{path}"), size.to_string());
        }
        let meta_path = format!("{}.meta", primary.path);
        let text = meta::render(&props);
        let file = scratch_file(scratch, "meta", text.as_bytes()).map_err(err)?;
        store.put(&format!("{dir}{meta_path}"), &file, false).await.map_err(err)?;
        let (size, sha256) = (text.len() as u64, sha256_hex(text.as_bytes()));
        entries.push(FileEntry { path: meta_path, role: FileRole::Meta, size, sha256 });
    }
    let manifest = Manifest {
        format: 1,
        id: p.id.clone(),
        platform: p.platform.clone(),
        plugin: p.plugin.clone(),
        created,
        files: entries,
    };
    let file = scratch_file(scratch, MANIFEST, &manifest.to_json()).map_err(err)?;
    // The claim is ours: create-only as the server enforces it is enough.
    let written = match p.force {
        true => store.put(&format!("{dir}{MANIFEST}"), &file, false).await,
        false => store.put_new(&format!("{dir}{MANIFEST}"), &file).await,
    };
    match written {
        Err(StoreError::AlreadyExists(_)) => Err(PublishError::Exists { store: store.describe(), dir: dir.into() }),
        other => other.map_err(err).map(|()| manifest),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}
