//! From what the user typed (`plugins/x.wasm` or a project name such as
//! `armv7`) to a component file, with the grants, default options and lock
//! entry that apply, and the checks against hostbuild.toml and
//! hostbuild.lock made once the plugin has described itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::config::{Located, PluginEntry};
use super::grants::Grants;
use super::lock::{LockedPlugin, Lockfile, LOCK_FILE};
use super::sources::{self, Source};
use super::ProjectError;
use crate::capabilities::container::DirMount;
use crate::description::PlatformInfo;
use crate::model::ImageRecipe;
use crate::options::RawOption;
use crate::runtime::LoadedComponent;

/// A plugin to run, and what the project says about it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The component file to load.
    pub path: PathBuf,
    /// The project's name for it; `None` for a file given directly.
    pub name: Option<String>,
    /// The project's entry; `None` for a file given directly (which is
    /// granted everything it declares: running a file is trusting it).
    pub entry: Option<PluginEntry>,
    pub locked: Option<LockedPlugin>,
    /// Whether differences from the lock stop the run (`--locked`).
    pub enforce_lock: bool,
    /// Whether the project has a hostbuild.lock (a plugin it lacks runs,
    /// with a warning).
    pub lockfile: bool,
    /// The project's directory (relative mounts start there).
    pub project_dir: Option<PathBuf>,
}

/// Whether a run argument names a file rather than a project plugin.
pub fn is_file(arg: &str) -> bool {
    arg.contains('/') || arg.ends_with(".wasm") || Path::new(arg).is_file()
}

/// The project and lock of `dir`, when there is a project file.
pub fn project(dir: &Path) -> Result<Option<(Located, Option<Lockfile>)>, ProjectError> {
    match Located::read(dir)? {
        Some(p) => {
            let lock = Lockfile::read(&p.dir)?;
            Ok(Some((p, lock)))
        }
        None => Ok(None),
    }
}

/// Where downloaded components live: next to the compiled ones.
pub fn download_dir(cache: &Path) -> PathBuf {
    cache.join("plugins")
}

/// Resolves one run argument. A plugin the lock has an entry for must have
/// the locked bytes, `--locked` or not: other bytes stop here, before
/// anything of them is loaded or run (`hostbuild plugins update NAME`
/// records an intended change). With `locked`, a plugin must also be in the
/// lock and come from the locked source.
pub async fn resolve(
    arg: &str,
    project: Option<&(Located, Option<Lockfile>)>,
    cache: &Path,
    locked: bool,
) -> Result<Resolved, ProjectError> {
    if is_file(arg) {
        if locked {
            return Err(ProjectError::NotLocked { name: arg.into() });
        }
        return Ok(Resolved::file(arg.into()));
    }
    let Some((located, lock)) = project else {
        // No project file: a plugin installed with hostbuild, run as a file is.
        if let Some(path) = super::bundled::find(arg).filter(|_| !locked) {
            return Ok(Resolved::file(path));
        }
        let dir = std::env::current_dir().unwrap_or_default();
        return Err(ProjectError::NoProject { name: arg.into(), dir });
    };
    let entry = located.entry(arg)?.clone();
    let pinned = lock.as_ref().and_then(|l| l.get(arg)).cloned();
    if locked {
        let Some(pin) = &pinned else { return Err(ProjectError::NotLocked { name: arg.into() }) };
        if pin.source != entry.source {
            return Err(ProjectError::LockMismatch {
                name: arg.into(),
                what: "the source".into(),
                expected: pin.source.clone(),
                actual: entry.source.clone(),
            });
        }
    }
    // A pin of the same source is what runs; its cached copy needs no download.
    let expected = pinned.as_ref().filter(|p| p.source == entry.source).map(|p| p.sha256.clone());
    let fetched = fetch(arg, &entry, &located.dir, cache, expected.as_deref()).await?;
    if let Some(pin) = &pinned {
        if fetched.sha256 != pin.sha256 {
            return Err(ProjectError::LockMismatch {
                name: arg.into(),
                what: "the component (sha256)".into(),
                expected: pin.sha256.clone(),
                actual: fetched.sha256,
            });
        }
    }
    Ok(Resolved {
        path: fetched.path,
        name: Some(arg.into()),
        entry: Some(entry),
        locked: pinned,
        enforce_lock: locked,
        lockfile: lock.is_some(),
        project_dir: Some(located.dir.clone()),
    })
}

/// Fetches the component of a project entry into the download cache.
pub async fn fetch(
    name: &str,
    entry: &PluginEntry,
    project_dir: &Path,
    cache: &Path,
    expected: Option<&str>,
) -> Result<sources::Fetched, ProjectError> {
    let fail = |source| ProjectError::Fetch { name: name.into(), source_text: entry.source.clone(), source };
    let source = Source::parse(&entry.source, project_dir).map_err(fail)?;
    sources::fetch(&source, &download_dir(cache), expected).await.map_err(fail)
}

impl Resolved {
    /// A plugin run as the file it is: no project entry, no lock.
    fn file(path: PathBuf) -> Self {
        Self { path, name: None, entry: None, locked: None, enforce_lock: false, lockfile: false, project_dir: None }
    }

    /// The project's default options for this plugin (called `plugin` once
    /// described), minus those `given` on the command line, which win;
    /// followed by the command line's.
    pub fn options_with(&self, plugin: &str, given: &[RawOption]) -> Vec<RawOption> {
        let defaults = match (&self.name, &self.entry) {
            (Some(name), Some(entry)) => entry.raw_options(name),
            _ => Vec::new(),
        };
        let overridden =
            |d: &RawOption| given.iter().any(|g| g.key == d.key && g.plugin.as_deref().is_none_or(|p| p == plugin));
        defaults.into_iter().filter(|d| !overridden(d)).chain(given.iter().cloned()).collect()
    }

    /// The directories lent to its containers: the project's `mounts`, then
    /// the command line's `--mount NAME=DIR[:ro]` (relative to the current
    /// directory), which replace a project mount of the same name.
    pub fn dirs(&self, given: &[String]) -> Result<Vec<DirMount>, String> {
        let mut dirs = Vec::new();
        if let (Some(entry), Some(dir)) = (&self.entry, &self.project_dir) {
            for (name, path) in &entry.mounts {
                dirs.push(DirMount::new(name, path, dir)?);
            }
        }
        let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
        for text in given {
            let mount = DirMount::parse(text, &cwd)?;
            dirs.retain(|d: &DirMount| d.name != mount.name);
            dirs.push(mount);
        }
        Ok(dirs)
    }

    /// Whether the source is mounted read-write: granted in the project or
    /// asked for with `--write-source`.
    pub fn write_source(&self, flag: bool) -> bool {
        flag || self.entry.as_ref().is_some_and(|e| e.grants.write_source)
    }

    /// Who this plugin is, beyond its name: the project's source for it
    /// (which stays the same across versions), or the sha256 of the file
    /// given directly. Cache volumes, recipe images and store prefixes are
    /// keyed by it, so a same-named plugin from elsewhere never shares them.
    pub fn identity(&self, wasm_sha256: &str) -> String {
        match &self.entry {
            Some(entry) => format!("source:{}", entry.source),
            None => format!("sha256:{wasm_sha256}"),
        }
    }

    /// The grants that apply: the project's, or all that a direct file declares.
    pub fn grants(&self, info: &PlatformInfo) -> Grants {
        match &self.entry {
            Some(entry) => entry.grants.clone(),
            None => Grants::all_of(&info.capabilities),
        }
    }

    /// Checks a described plugin against hostbuild.toml (name, version
    /// requirement, grants) and hostbuild.lock (version, WIT version).
    /// Returns warnings for lock differences that do not stop the run, and
    /// for a plugin that a project's lock lacks.
    pub fn check_loaded(&self, info: &PlatformInfo, loaded: &LoadedComponent) -> Result<Vec<String>, ProjectError> {
        let (Some(name), Some(entry)) = (&self.name, &self.entry) else { return Ok(Vec::new()) };
        entry.check(name, info)?;
        let mut warnings = Vec::new();
        if let Some(pin) = &self.locked {
            // Other bytes never run silently under the project's grants,
            // --locked or not: `plugins update NAME` records a change on purpose.
            if pin.sha256 != loaded.sha256 {
                return Err(ProjectError::LockMismatch {
                    name: name.clone(),
                    what: "the component (sha256)".into(),
                    expected: pin.sha256.clone(),
                    actual: loaded.sha256.clone(),
                });
            }
            for (what, expected, actual) in [
                ("the version", &pin.version, &info.version.to_string()),
                ("the WIT version", &pin.wit, &loaded.wit_version.to_string()),
            ] {
                if expected != actual {
                    let mismatch = ProjectError::LockMismatch {
                        name: name.clone(),
                        what: what.into(),
                        expected: expected.clone(),
                        actual: actual.clone(),
                    };
                    if self.enforce_lock {
                        return Err(mismatch);
                    }
                    warnings.push(format!("{mismatch}; `hostbuild lock` records the new one"));
                }
            }
        } else if self.lockfile {
            warnings.push(format!(
                "plugin `{name}` is not in {LOCK_FILE}: its bytes are not pinned; \
                 `hostbuild plugins update {name}` pins them"
            ));
        }
        Ok(warnings)
    }

    /// Checks the base images of `recipes` (`ids`: their ids in the engine)
    /// against the lock; under `--locked` a difference stops the run.
    pub fn check_base_images(
        &self,
        recipes: &[ImageRecipe],
        ids: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, ProjectError> {
        let (Some(name), Some(pin)) = (&self.name, &self.locked) else { return Ok(Vec::new()) };
        let mut warnings = Vec::new();
        for r in recipes {
            let actual = ids.get(&r.base_image).cloned().unwrap_or_else(|| "absent".into());
            let expected = pin.base_images.get(&r.base_image).cloned().unwrap_or_else(|| "not locked".into());
            if actual != expected {
                let mismatch = ProjectError::LockMismatch {
                    name: name.clone(),
                    what: format!("base image {}", r.base_image),
                    expected,
                    actual,
                };
                if self.enforce_lock {
                    return Err(mismatch);
                }
                warnings.push(format!("{mismatch}; `hostbuild lock` records the new one"));
            }
        }
        Ok(warnings)
    }
}
