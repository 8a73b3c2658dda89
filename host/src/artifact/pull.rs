//! Pulling one set into a new directory, atomically: every file downloads
//! into a temporary directory beside the destination, which is renamed into
//! place only when all of them arrived and passed their checks; an
//! interrupted, refused or corrupt pull leaves nothing behind.
//!
//! A set with a `manifest.json` is **verified**: each file's size and sha256
//! must match it. A set without one (in the `mxnet-cd` layout: pushed by
//! MXNet CD's tool, which writes none) is **unverified**: it is pulled only
//! when the caller allows it, by listing its directory as that tool does,
//! and each object is checked against the size the listing gave, nothing
//! more. Store contents are untrusted either way: paths must stay inside the
//! set (no `..`, nothing absolute, bounded lengths), no object may be larger
//! than listed, and the whole set must fit the destination's free space.
//! In the `mxnet-cd` layout the pull also writes `libmxnet.meta`, as the tool
//! does.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::layout::{Layout, SetId, LOCK, MANIFEST};
use super::manifest::Manifest;
use super::meta::{libmxnet_meta, LIBMXNET_META};
use crate::store::{check_key, ObjectStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("no set for commit {}, os {}, variant {}, {} linkage in {store} ({layout} layout)", .id.commit, .id.os, .id.variant, .id.linkage.as_str())]
    NoSet { store: String, id: Box<SetId>, layout: Layout, available: Vec<String> },
    #[error("{} already exists; pull into a new directory", .0.display())]
    DestinationExists(PathBuf),
    #[error("`{file}` of the set does not match its manifest ({problem}); nothing was written")]
    Corrupt { file: String, problem: String },
    #[error("the set {dir} in {store} has no manifest.json: its files cannot be verified")]
    Unverified { store: String, dir: String, files: usize, bytes: u64 },
    #[error("the set {dir} in {store} is being published, or its publisher died midway (it has no manifest.json yet)")]
    Incomplete { store: String, dir: String },
    #[error("the store holds `{key}`, which this pull refuses: {problem}; nothing was written")]
    Refused { key: String, problem: String },
    #[error("the set is {needed} bytes, more than the {available} bytes free in {}", .dir.display())]
    NoSpace { dir: PathBuf, needed: u64, available: u64 },
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

/// Whether a set can be trusted to be what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SetState {
    /// It has a manifest: pulls verify every file against it.
    Verified,
    /// No manifest and no publisher's claim: another tool wrote it.
    Unverified,
    /// hostbuild's claim without a manifest: being published, or died.
    Incomplete,
}

/// A set found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSet {
    pub id: SetId,
    /// Its directory key, without the trailing slash.
    pub dir: String,
    pub state: SetState,
}

/// The sets under `commit/` (every commit when `None`), in the store's
/// layout. The plugin store's `plugins/` holds no sets.
pub async fn sets(store: &dyn ObjectStore, commit: Option<&str>) -> Result<Vec<ListedSet>, StoreError> {
    let layout = store.layout();
    let objects = store.list(&commit.map(|c| format!("{c}/")).unwrap_or_default()).await?;
    let mut found: Vec<(SetId, bool, bool)> = Vec::new();
    for object in objects.iter().filter(|o| !o.key.starts_with("plugins/")) {
        let Some((id, rest)) = SetId::of_key(layout, &object.key) else { continue };
        let index = match found.iter().position(|(seen, _, _)| *seen == id) {
            Some(i) => i,
            None => {
                found.push((id, false, false));
                found.len() - 1
            }
        };
        found[index].1 |= rest == MANIFEST;
        found[index].2 |= rest == LOCK;
    }
    let mut listed: Vec<ListedSet> = found
        .into_iter()
        .map(|(id, manifest, claim)| {
            let state = match (manifest, claim) {
                (true, _) => SetState::Verified,
                (false, true) => SetState::Incomplete,
                (false, false) => SetState::Unverified,
            };
            ListedSet { dir: id.dir(layout).trim_end_matches('/').to_string(), id, state }
        })
        .collect();
    listed.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(listed)
}

/// One file that was pulled, with what it was checked against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PulledFile {
    pub path: String,
    pub size: u64,
    /// Computed while it downloaded (checked against the manifest only
    /// when the set is verified).
    pub sha256: String,
}

/// What a pull brought.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The set's directory in the store.
    pub dir: String,
    /// The manifest every file was verified against; `None` for an
    /// unverified set.
    pub manifest: Option<Manifest>,
    pub files: Vec<PulledFile>,
}

/// Largest `manifest.json` read: thousands of files' entries fit in far less.
const MANIFEST_LIMIT: u64 = 16 << 20;
/// Most objects an unverified set may have (MXNet CD's tool reads at most
/// the first 1000 its listing returns).
const MAX_OBJECTS: usize = 10_000;
/// Longest path inside a set, and longest path segment (NAME_MAX).
const MAX_PATH: usize = 1024;
const MAX_SEGMENT: usize = 255;
const MAX_DEPTH: usize = 32;

/// Pulls the set `id` into `dest` (which must not exist, or be empty).
/// A set without a manifest is refused unless `allow_unverified`.
pub async fn pull(
    store: &dyn ObjectStore,
    id: &SetId,
    dest: &Path,
    allow_unverified: bool,
) -> Result<Pulled, PullError> {
    id.check().map_err(PullError::Invalid)?;
    let err = |source| PullError::Store { store: store.describe(), source };
    if dest.exists() && std::fs::read_dir(dest).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(PullError::DestinationExists(dest.into()));
    }
    let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|source| PullError::Write { path: parent.into(), source })?;
    let layout = store.layout();
    let dir = id.dir(layout);

    let plan = match read_manifest(store, &dir).await {
        Ok(manifest) => Plan::verified(manifest, id, &dir)?,
        Err(StoreError::NotFound(_)) => {
            let plan = Plan::listed(store, id, &dir).await?;
            if !allow_unverified {
                return Err(PullError::Unverified {
                    store: store.describe(),
                    dir,
                    files: plan.files.len(),
                    bytes: plan.files.iter().map(|f| f.size).sum(),
                });
            }
            plan
        }
        Err(e) => return Err(err(e)),
    };
    plan.check_space(parent)?;

    let staging = tempfile::Builder::new()
        .prefix(".hostbuild-pull-")
        .tempdir_in(parent)
        .map_err(|source| PullError::Write { path: parent.into(), source })?;
    let mut pulled = Vec::new();
    for f in &plan.files {
        let local = staging.path().join(&f.path);
        if let Some(p) = local.parent() {
            std::fs::create_dir_all(p).map_err(|source| PullError::Write { path: p.into(), source })?;
        }
        let out = File::create_new(&local).map_err(|source| PullError::Write { path: local.clone(), source })?;
        let got = store.get(&f.key, &out, f.size).await.map_err(|e| match e {
            StoreError::TooLarge { .. } => f.mismatch(format!("larger than its {} bytes", f.size)),
            e => err(e),
        })?;
        if got.size != f.size || f.sha256.as_ref().is_some_and(|sha| *sha != got.sha256) {
            let expected = f.sha256.as_deref().map(|s| format!(" with sha256 {s}")).unwrap_or_default();
            return Err(f.mismatch(format!(
                "{} bytes with sha256 {}, expected {} bytes{expected}",
                got.size, got.sha256, f.size
            )));
        }
        pulled.push(PulledFile { path: f.path.clone(), size: got.size, sha256: got.sha256 });
    }
    if layout == Layout::MxnetCd && !plan.files.iter().any(|f| f.path == LIBMXNET_META) {
        let path = staging.path().join(LIBMXNET_META);
        std::fs::write(&path, libmxnet_meta(id)).map_err(|source| PullError::Write { path, source })?;
    }
    // An empty destination directory may exist; replace it.
    if dest.exists() {
        std::fs::remove_dir(dest).map_err(|source| PullError::Write { path: dest.into(), source })?;
    }
    let staged = staging.keep();
    std::fs::rename(&staged, dest).map_err(|source| {
        let _ = std::fs::remove_dir_all(&staged);
        PullError::Write { path: dest.into(), source }
    })?;
    Ok(Pulled { dir, manifest: plan.manifest, files: pulled })
}

/// Reads the set's manifest (streamed, at most [`MANIFEST_LIMIT`] bytes).
async fn read_manifest(store: &dyn ObjectStore, dir: &str) -> Result<Result<Manifest, String>, StoreError> {
    let file = tempfile::tempfile().map_err(|e| StoreError::Io(format!("a temporary file for the manifest: {e}")))?;
    store.get(&format!("{dir}{MANIFEST}"), &file, MANIFEST_LIMIT).await?;
    let mut reader = std::io::BufReader::new(file);
    std::io::Seek::rewind(&mut reader).map_err(|e| StoreError::Io(format!("reading the manifest back: {e}")))?;
    Ok(serde_json::from_reader(reader).map_err(|e| format!("malformed manifest.json: {e}")))
}

/// What a pull downloads.
struct Plan {
    manifest: Option<Manifest>,
    files: Vec<Planned>,
}

/// One object to download, where it goes in the set, and what it must be.
struct Planned {
    key: String,
    path: String,
    size: u64,
    sha256: Option<String>,
}

impl Planned {
    fn mismatch(&self, problem: String) -> PullError {
        match self.sha256 {
            Some(_) => PullError::Corrupt { file: self.path.clone(), problem },
            None => PullError::Refused { key: self.key.clone(), problem: format!("{problem} (as listed)") },
        }
    }
}

impl Plan {
    /// Every file of the manifest, verified by size and sha256.
    fn verified(manifest: Result<Manifest, String>, id: &SetId, dir: &str) -> Result<Self, PullError> {
        let manifest = manifest.map_err(|problem| PullError::Corrupt { file: MANIFEST.into(), problem })?;
        if manifest.id != *id {
            let m = &manifest.id;
            let problem = format!(
                "it describes commit {}, os {}, variant {}, {} linkage",
                m.commit,
                m.os,
                m.variant,
                m.linkage.as_str()
            );
            return Err(PullError::Corrupt { file: MANIFEST.into(), problem });
        }
        let mut paths = Paths::default();
        let mut files = Vec::new();
        for f in &manifest.files {
            if check_key(&f.path).is_err() || f.path.len() > MAX_PATH {
                return Err(PullError::Corrupt { file: f.path.clone(), problem: "path leaves the set".into() });
            }
            paths.add(&f.path).map_err(|problem| PullError::Corrupt { file: f.path.clone(), problem })?;
            files.push(Planned {
                key: format!("{dir}{}", f.path),
                path: f.path.clone(),
                size: f.size,
                sha256: Some(f.sha256.clone()),
            });
        }
        Ok(Self { manifest: Some(manifest), files })
    }

    /// Every object listed under `dir`, as MXNet CD's tool pulls a set: the
    /// key after the directory (one leading `/` dropped, as the tool writes
    /// it) is the path in the set, checked to stay inside it.
    async fn listed(store: &dyn ObjectStore, id: &SetId, dir: &str) -> Result<Self, PullError> {
        let err = |source| PullError::Store { store: store.describe(), source };
        let objects = store.list(dir).await.map_err(err)?;
        if objects.is_empty() {
            let layout = store.layout();
            let available = sets(store, Some(&id.commit)).await.map_err(err)?;
            return Err(PullError::NoSet {
                store: store.describe(),
                id: Box::new(id.clone()),
                layout,
                available: available
                    .iter()
                    .map(|s| match s.state {
                        SetState::Verified => s.dir.clone(),
                        SetState::Unverified => format!("{} (unverified)", s.dir),
                        SetState::Incomplete => format!("{} (incomplete)", s.dir),
                    })
                    .collect(),
            });
        }
        if objects.iter().any(|o| o.key.strip_prefix(dir) == Some(LOCK)) {
            return Err(PullError::Incomplete { store: store.describe(), dir: dir.trim_end_matches('/').into() });
        }
        if objects.len() > MAX_OBJECTS {
            return Err(PullError::Refused {
                key: dir.into(),
                problem: format!("{} objects, more than the {MAX_OBJECTS} a set may have", objects.len()),
            });
        }
        let mut paths = Paths::default();
        let mut files = Vec::new();
        for object in objects {
            let refuse = |problem: String| PullError::Refused { key: object.key.clone(), problem };
            let Some(rest) = object.key.strip_prefix(dir) else {
                return Err(refuse(format!("the store listed it under {dir}")));
            };
            let Some(path) = set_path(rest).map_err(|p| refuse(p.into()))? else {
                if object.size > 0 {
                    return Err(refuse("a directory marker with contents".into()));
                }
                continue;
            };
            paths.add(&path).map_err(refuse)?;
            files.push(Planned { key: object.key.clone(), path, size: object.size, sha256: None });
        }
        if files.is_empty() {
            return Err(PullError::Refused { key: dir.into(), problem: "it holds no file".into() });
        }
        Ok(Self { manifest: None, files })
    }

    /// Refuses a set larger than the free space where it lands.
    fn check_space(&self, parent: &Path) -> Result<(), PullError> {
        let needed = self.files.iter().try_fold(0u64, |sum, f| sum.checked_add(f.size)).unwrap_or(u64::MAX);
        let available = match rustix::fs::statvfs(parent) {
            Ok(s) => s.f_bavail.saturating_mul(s.f_frsize),
            // No figure: the downloads' own errors will tell.
            Err(_) => return Ok(()),
        };
        if needed > available {
            return Err(PullError::NoSpace { dir: parent.into(), needed, available });
        }
        Ok(())
    }
}

/// The path in a set of a key's rest after the set's directory: `None` for
/// a directory marker (a key ending in `/`); an error for anything that is
/// not a plain relative path inside the set.
fn set_path(rest: &str) -> Result<Option<String>, &'static str> {
    // MXNet CD's tool joins the set's directory and a name with one more `/`.
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    if rest.starts_with('/') {
        return Err("its path in the set is absolute");
    }
    if rest.len() > MAX_PATH {
        return Err("its path in the set is longer than 1024 bytes");
    }
    if rest.chars().any(|c| c.is_control() || c == '\\') {
        return Err("its path in the set has a control character or a backslash");
    }
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    if segments.is_empty() || rest.ends_with('/') {
        return Ok(None);
    }
    if segments.iter().any(|s| *s == ".." || *s == ".") {
        return Err("its path in the set has a `..` or `.` segment");
    }
    if segments.iter().any(|s| s.len() > MAX_SEGMENT) {
        return Err("its path in the set has a name longer than 255 bytes");
    }
    if segments.len() > MAX_DEPTH {
        return Err("its path in the set is more than 32 directories deep");
    }
    Ok(Some(segments.join("/")))
}

/// The paths of a set so far, to refuse two objects landing on one path, or
/// a file where another needs a directory.
#[derive(Default)]
struct Paths {
    files: BTreeSet<String>,
    dirs: BTreeSet<String>,
}

impl Paths {
    fn add(&mut self, path: &str) -> Result<(), String> {
        if self.files.contains(path) || self.dirs.contains(path) {
            return Err(format!("a second object for the path `{path}`"));
        }
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            let dir = &path[..at + i];
            if self.files.contains(dir) {
                return Err(format!("`{dir}` is both a file and a directory"));
            }
            self.dirs.insert(dir.to_string());
            at += i + 1;
        }
        self.files.insert(path.to_string());
        Ok(())
    }
}

impl crate::diagnostics::Diagnose for PullError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        match self {
            PullError::NoSet { available, layout, .. } => (
                ExitStatus::ArtifactMissing,
                Some(if available.is_empty() {
                    format!(
                        "this commit has no sets in the {layout} layout; check --git-sha and --layout, \
                         or `hostbuild artifacts ls`"
                    )
                } else {
                    format!("sets of this commit (commit/{}): {}", layout.shape(), available.join(", "))
                }),
            ),
            PullError::Unverified { files, bytes, .. } => (
                ExitStatus::ArtifactMissing,
                Some(format!(
                    "it holds {files} file(s), {bytes} bytes, that nothing can check but their listed sizes; \
                     pass --allow-unverified to pull it anyway"
                )),
            ),
            PullError::Incomplete { .. } => {
                (ExitStatus::ArtifactMissing, Some("wait for the publisher, or republish the set with --force".into()))
            }
            PullError::Refused { .. } => (
                ExitStatus::ArtifactMissing,
                Some("the store's contents are not a set that can be pulled safely; ask whoever writes it".into()),
            ),
            PullError::NoSpace { .. } => (ExitStatus::Unavailable, Some("free some space, or pull elsewhere".into())),
            PullError::Corrupt { .. } => (
                ExitStatus::ArtifactMissing,
                Some("the stored object was changed after publishing; republish the set with --force".into()),
            ),
            PullError::DestinationExists(_) | PullError::Invalid(_) => (ExitStatus::Usage, None),
            PullError::Write { .. } => (ExitStatus::Unavailable, None),
            PullError::Store { source, .. } => source.diagnose(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_a_set_stay_inside_it() {
        assert_eq!(set_path("/libmxnet.so"), Ok(Some("libmxnet.so".into())));
        assert_eq!(set_path("licenses//LICENSE"), Ok(Some("licenses/LICENSE".into())));
        assert_eq!(set_path("dependencies/libgomp.so.1"), Ok(Some("dependencies/libgomp.so.1".into())));
        assert_eq!(set_path("licenses/"), Ok(None));
        assert_eq!(set_path(""), Ok(None));
        for bad in ["../x", "/../x", "a/../../x", "//etc/passwd", "a/./b", "a\\b", "a\u{0}b", "a\nb"] {
            assert!(set_path(bad).is_err(), "{bad:?} accepted");
        }
        assert!(set_path(&"x".repeat(256)).is_err());
        assert!(set_path(&"a/".repeat(40)).is_ok_and(|p| p.is_none()));
        assert!(set_path(&format!("{}x", "a/".repeat(40))).is_err());
        assert!(set_path(&"y".repeat(1025)).is_err());
    }

    #[test]
    fn two_objects_never_share_a_path() {
        let mut p = Paths::default();
        p.add("licenses/LICENSE").unwrap();
        p.add("libx.so").unwrap();
        assert!(p.add("licenses/LICENSE").is_err());
        assert!(p.add("licenses").is_err());
        assert!(p.add("libx.so/y").is_err());
    }
}
