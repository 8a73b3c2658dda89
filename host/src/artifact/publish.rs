//! Publishing one set: claim it (create-only lock object, checked to be
//! ours) while the files' bytes already move invisibly (staged: S3
//! multipart uploads not yet completed), then make the files visible, write
//! their `.meta`, and `manifest.json` create-only, last. Of many publishers
//! racing for one set exactly one wins; the others abort what they staged
//! and fail having written nothing visible. `force` replaces an existing or
//! half-written set.
//! Only checked files become visible: open regular files whose size and
//! sha256 are known, streamed to the store from the handle that is hashed.
//! Files the user names (`artifacts push`) are hashed while their bytes are
//! staged, not before the upload starts (the hasher and the upload read the
//! file at the same time, through the page cache), and no file is made
//! visible before all were hashed.
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

use super::checked::{CheckError, CheckedArtifact, UserFile};
use super::layout::{Layout, SetId, LOCK, MANIFEST};
use super::manifest::{FileEntry, FileRole, Manifest};
use super::meta::{self, LIBMXNET_META};
use crate::store::{ObjectStore, Staged, StoreError};

/// What to publish: checked artifacts ([`publish`]), or files the user
/// named, hashed while their bytes are staged ([`publish_user_files`]).
#[derive(Debug, Clone)]
pub struct Publication<'a, A = CheckedArtifact> {
    pub id: SetId,
    pub primaries: Vec<&'a A>,
    pub licenses: Vec<&'a A>,
    pub dependencies: Vec<&'a A>,
    pub platform: Option<String>,
    pub plugin: Option<String>,
    pub force: bool,
}

/// A file a publication carries: its open handle and its name in the set.
pub trait Publishable {
    fn file(&self) -> &File;
    fn file_name(&self) -> &str;
}

impl Publishable for CheckedArtifact {
    fn file(&self) -> &File {
        CheckedArtifact::file(self)
    }
    fn file_name(&self) -> &str {
        CheckedArtifact::file_name(self)
    }
}

impl Publishable for UserFile {
    fn file(&self) -> &File {
        UserFile::file(self)
    }
    fn file_name(&self) -> &str {
        UserFile::file_name(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("a set already exists at {store}/{dir}")]
    Exists { store: String, dir: String },
    #[error("the set at {store}/{dir} is being published by another process, or an earlier publish died midway")]
    Claimed { store: String, dir: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error("publishing to {store} failed")]
    Store {
        store: String,
        #[source]
        source: StoreError,
    },
}

/// A file with its place in the set.
struct Planned<'a> {
    file: &'a File,
    path: String,
    role: FileRole,
}

/// Size and sha256 of each planned file, in plan order.
type Digests = Vec<(u64, String)>;

/// A small file the host writes itself (lock, `.meta`, manifest), opened
/// for the store.
fn scratch_file(dir: &Path, name: &str, contents: &[u8]) -> Result<File, StoreError> {
    let path = dir.join(name);
    let mut file = File::create(&path).map_err(|e| StoreError::Io(e.to_string()))?;
    file.write_all(contents).map_err(|e| StoreError::Io(e.to_string()))?;
    File::open(&path).map_err(|e| StoreError::Io(e.to_string()))
}

/// Publishes checked artifacts.
pub async fn publish(store: &dyn ObjectStore, p: &Publication<'_>) -> Result<Manifest, PublishError> {
    let digests: Digests = [&p.primaries, &p.licenses, &p.dependencies]
        .into_iter()
        .flatten()
        .map(|a| (a.size, a.sha256.clone()))
        .collect();
    publish_with(store, p, async { Ok(digests) }).await
}

/// Publishes files the user named, hashing them while their bytes are
/// staged: nothing becomes visible before every file is checked. A failed
/// or interrupted hash cancels the store's uploads (the store is this
/// push's own), aborts what was staged and gives up the claim.
pub async fn publish_user_files(
    store: &dyn ObjectStore,
    p: &Publication<'_, UserFile>,
) -> Result<Manifest, PublishError> {
    let files: Vec<UserFile> =
        [&p.primaries, &p.licenses, &p.dependencies].into_iter().flatten().map(|f| (*f).clone()).collect();
    let hashing = async move {
        let hashed = tokio::task::spawn_blocking(move || {
            files
                .into_iter()
                .map(|f| f.check(crate::interrupt::flag()).map(|a| (a.size, a.sha256)))
                .collect::<Result<Digests, CheckError>>()
        })
        .await;
        let failed = match hashed {
            Ok(Ok(digests)) => return Ok(digests),
            Ok(Err(e)) => PublishError::Check(e),
            Err(e) => PublishError::Store { store: store.describe(), source: StoreError::Io(e.to_string()) },
        };
        // Stop the parts still moving: they would only be aborted.
        store.cancel();
        Err(failed)
    };
    publish_with(store, p, hashing).await
}

async fn publish_with<A: Publishable>(
    store: &dyn ObjectStore,
    p: &Publication<'_, A>,
    digests: impl std::future::Future<Output = Result<Digests, PublishError>>,
) -> Result<Manifest, PublishError> {
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
            plan.push(Planned { file: f.file(), path, role });
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
    let (claimed, staged, digests) =
        tokio::join!(claim(store, p.force, &dir, &lock), stage(store, &dir, &plan), digests);
    let (staged, digests) = match (claimed, staged, digests) {
        (Ok(()), Ok(staged), Ok(digests)) => (staged, digests),
        (claimed, staged, digests) => {
            let staging_failed = match staged {
                Ok(staged) => {
                    abort_all(store, staged).await;
                    None
                }
                Err(e) => Some(e),
            };
            if claimed.is_ok() {
                let _ = store.delete(&format!("{dir}{LOCK}")).await;
            }
            // The first cause: losing the claim, a file that failed its
            // check, then the store (staging stops when a check fails).
            let failed = claimed.err().or(digests.err()).or(staging_failed);
            return Err(failed.unwrap_or_else(|| PublishError::Invalid("publishing failed".into())));
        }
    };
    let meta = SetMeta { id: &p.id, platform: p.platform.as_deref(), plugin: p.plugin.as_deref(), force: p.force };
    let result = upload(store, &meta, &dir, &plan, staged, digests, scratch.path()).await;
    if result.is_err() {
        // Let a retry claim the set again; nothing else of it is trusted.
        let _ = store.delete(&format!("{dir}{LOCK}")).await;
    }
    result
}

/// Creates the set's claim, create-only (unless forced): of racing
/// publishers exactly one succeeds.
async fn claim(store: &dyn ObjectStore, force: bool, dir: &str, lock: &File) -> Result<(), PublishError> {
    let err = |source| PublishError::Store { store: store.describe(), source };
    match store.put(&format!("{dir}{LOCK}"), lock, !force).await {
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
        match store.stage(&format!("{dir}{}", f.path), f.file).await {
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

/// What the `.meta` files and the manifest say besides the files.
struct SetMeta<'a> {
    id: &'a SetId,
    platform: Option<&'a str>,
    plugin: Option<&'a str>,
    force: bool,
}

async fn upload(
    store: &dyn ObjectStore,
    p: &SetMeta<'_>,
    dir: &str,
    plan: &[Planned<'_>],
    staged: Vec<Staged>,
    digests: Digests,
    scratch: &Path,
) -> Result<Manifest, PublishError> {
    let err = |source| PublishError::Store { store: store.describe(), source };
    let created = now_rfc3339();
    let mut entries = Vec::new();
    let mut sums = BTreeMap::new();
    let mut staged = staged.into_iter();
    for ((f, s), (size, sha256)) in plan.iter().zip(&mut staged).zip(digests) {
        if let Err(e) = store.commit(s).await {
            abort_all(store, staged).await;
            return Err(err(e));
        }
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
        if let Some(platform) = p.platform {
            props.insert("platform".into(), platform.into());
        }
        if let Some(plugin) = p.plugin {
            props.insert("plugin".into(), plugin.into());
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
        platform: p.platform.map(str::to_string),
        plugin: p.plugin.map(str::to_string),
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

impl crate::diagnostics::Diagnose for PublishError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        match self {
            PublishError::Exists { .. } => {
                (ExitStatus::Conflict, Some("a published set is never overwritten; pass --force to replace it".into()))
            }
            PublishError::Claimed { .. } => (
                ExitStatus::Conflict,
                Some("wait for the other publisher, or pass --force if an earlier publish died midway".into()),
            ),
            PublishError::Invalid(_) => (ExitStatus::Usage, None),
            PublishError::Check(c) => c.diagnose(),
            PublishError::Store { source, .. } => source.diagnose(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::checked::{CheckedArtifact, Role};
    use crate::artifact::layout::Linkage;
    use crate::store::local::LocalStore;

    fn files_under(dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path.display().to_string());
            }
        }
        found
    }

    #[tokio::test]
    async fn a_user_file_that_changes_before_it_is_hashed_publishes_nothing_and_frees_the_claim() {
        let tmp = tempfile::tempdir().unwrap();
        let (work, root) = (tmp.path().join("work"), tmp.path().join("store"));
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        let lib = work.join("libx.so");
        std::fs::write(&lib, vec![1u8; 4096]).unwrap();
        let store = LocalStore::new(root.clone(), Layout::Hostbuild);
        let id = SetId { commit: "c".into(), os: "linux".into(), variant: "cpu".into(), linkage: Linkage::Dynamic };
        let publication = |file| Publication {
            id: id.clone(),
            primaries: vec![file],
            licenses: vec![],
            dependencies: vec![],
            platform: None,
            plugin: None,
            force: false,
        };

        let opened = CheckedArtifact::open_user_file(&lib, Role::Primary).unwrap();
        std::fs::write(&lib, b"shorter").unwrap();
        let err = publish_user_files(&store, &publication(&opened)).await.unwrap_err();
        assert!(matches!(err, PublishError::Check(CheckError::Changed { .. })), "{err:?}");
        assert_eq!(files_under(&root), Vec::<String>::new(), "something of the set is in the store");

        // The claim was given up: a retry needs no --force.
        let opened = CheckedArtifact::open_user_file(&lib, Role::Primary).unwrap();
        let manifest = publish_user_files(&store, &publication(&opened)).await.unwrap();
        assert_eq!(manifest.files[0].sha256, sha256_hex(b"shorter"));
    }
}
