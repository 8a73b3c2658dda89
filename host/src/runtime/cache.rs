//! On-disk cache of compiled components.
//!
//! Key: sha256 of the `.wasm` + wasmtime version + a hash of the engine's
//! compilation settings. An entry is `MAGIC`, the sha256 of the exact
//! `.wasm` it was compiled from, the sha256 of the payload, then the payload
//! from `Engine::precompile_component`. Entries are written to a temporary
//! file and renamed into place, and verified before every use: a truncated
//! or corrupt entry, or one compiled from another `.wasm` (an entry copied
//! over another's name), is deleted and recompiled, never loaded.
//!
//! Loading an entry runs its machine code, so the directory must be ours
//! alone: it is created with mode 0700, and one owned by another user or
//! writable by group or others is refused (as is a symlink in its place).
//! There is no fallback to a shared directory such as `/tmp`.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use super::engine::WASMTIME_VERSION;

const MAGIC: &[u8; 8] = b"HBCWASM2";

/// Where compiled components are kept.
#[derive(Debug, Clone)]
pub struct ModuleCache {
    dir: PathBuf,
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheOutcome {
    /// Loaded from a verified cache entry.
    Hit,
    /// Compiled now (no entry yet) and stored.
    Compiled,
    /// The entry failed verification; it was removed and recompiled.
    Recompiled,
}

/// The cache directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot write the compile cache at {}", .dir.display())]
    Unwritable {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the compile cache {} is not private to you: {why}", .dir.display())]
    NotPrivate { dir: PathBuf, why: String },
    #[error("no directory for the compile cache: HOME and XDG_CACHE_HOME are unset")]
    NoDirectory,
}

impl CacheError {
    /// The directory at fault, if any.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            CacheError::Unwritable { dir, .. } | CacheError::NotPrivate { dir, .. } => Some(dir),
            CacheError::NoDirectory => None,
        }
    }
}

/// Creates `dir` (and missing parents) with mode 0700 and checks that it,
/// and its parent when `with_parent`, are directories of this user that no
/// one else can write.
pub fn private_dir(dir: &Path, with_parent: bool) -> Result<(), CacheError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| CacheError::Unwritable { dir: dir.to_path_buf(), source })?;
    let me = rustix::process::geteuid().as_raw();
    let parent = dir.parent().filter(|p| with_parent && !p.as_os_str().is_empty());
    for d in std::iter::once(dir).chain(parent) {
        let meta =
            std::fs::symlink_metadata(d).map_err(|source| CacheError::Unwritable { dir: d.to_path_buf(), source })?;
        let why = if meta.file_type().is_symlink() {
            Some("it is a symlink".to_string())
        } else if !meta.is_dir() {
            Some("it is not a directory".to_string())
        } else if meta.uid() != me {
            Some(format!("it belongs to uid {}, not {me}", meta.uid()))
        } else if meta.mode() & 0o022 != 0 {
            Some(format!("others can write in it (mode {:o})", meta.mode() & 0o777))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(CacheError::NotPrivate { dir: d.to_path_buf(), why });
        }
    }
    Ok(())
}

impl ModuleCache {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry path for a component with this sha256, on this engine.
    pub fn entry_path(&self, engine: &Engine, wasm_sha256: &str) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let config = hasher.finish();
        self.dir.join(format!("{wasm_sha256}-wasmtime{WASMTIME_VERSION}-{config:016x}.cwasm"))
    }

    /// Loads the component from the cache, or compiles and stores it.
    /// `compile` is only called on a miss; its error is returned as is.
    pub fn load_or_compile<E>(
        &self,
        engine: &Engine,
        wasm_sha256: &str,
        compile: impl FnOnce() -> Result<(Component, Vec<u8>), E>,
    ) -> Result<(Component, CacheOutcome), LoadOrCompileError<E>> {
        private_dir(&self.dir, true).map_err(LoadOrCompileError::Cache)?;
        let path = self.entry_path(engine, wasm_sha256);
        let mut outcome = CacheOutcome::Compiled;
        if let Ok(bytes) = std::fs::read(&path) {
            match verified_payload(&bytes, wasm_sha256) {
                // SAFETY: the payload was produced by `precompile_component` of
                // this wasmtime version and configuration (the key says so) and
                // its sha256 matches, so it is the bytes we wrote.
                Some(payload) => match unsafe { Component::deserialize(engine, payload) } {
                    Ok(component) => return Ok((component, CacheOutcome::Hit)),
                    Err(_) => outcome = CacheOutcome::Recompiled,
                },
                None => outcome = CacheOutcome::Recompiled,
            }
            let _ = std::fs::remove_file(&path);
        }
        let (component, serialized) = compile().map_err(LoadOrCompileError::Compile)?;
        self.store(&path, wasm_sha256, &serialized).map_err(LoadOrCompileError::Cache)?;
        Ok((component, outcome))
    }

    fn store(&self, path: &Path, wasm_sha256: &str, payload: &[u8]) -> Result<(), CacheError> {
        let err = |source| CacheError::Unwritable { dir: self.dir.clone(), source };
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(err)?;
        tmp.write_all(MAGIC).map_err(err)?;
        tmp.write_all(&hex::decode(wasm_sha256).unwrap_or_default()).map_err(err)?;
        tmp.write_all(&Sha256::digest(payload)).map_err(err)?;
        tmp.write_all(payload).map_err(err)?;
        tmp.as_file().sync_all().map_err(err)?;
        tmp.persist(path).map_err(|e| err(e.error))?;
        Ok(())
    }
}

/// Either the compiler or the cache failed.
#[derive(Debug)]
pub enum LoadOrCompileError<E> {
    Compile(E),
    Cache(CacheError),
}

/// The payload of an entry, if its header and checksum are intact and it
/// was compiled from the `.wasm` with sha256 `wasm_sha256`.
fn verified_payload<'a>(bytes: &'a [u8], wasm_sha256: &str) -> Option<&'a [u8]> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < 64 || hex::encode(&rest[..32]) != wasm_sha256 {
        return None;
    }
    let (sum, payload) = rest[32..].split_at(32);
    (Sha256::digest(payload).as_slice() == sum).then_some(payload)
}

impl crate::diagnostics::Diagnose for CacheError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        let hint = match self {
            CacheError::Unwritable { dir, .. } => format!(
                "make {} writable, or point HOSTBUILD_CACHE_DIR (or --cache-dir) at a writable directory",
                dir.display()
            ),
            CacheError::NotPrivate { dir, .. } => format!(
                "compiled plugins are run from there, so only you may write it: `chmod 700 {}` if it is yours, \
                 or point HOSTBUILD_CACHE_DIR (or --cache-dir) at a directory of your own",
                dir.display()
            ),
            CacheError::NoDirectory => {
                "set HOSTBUILD_CACHE_DIR (or --cache-dir) to a directory of your own; hostbuild never falls back \
                 to a shared one such as /tmp"
                    .into()
            }
        };
        (ExitStatus::Unavailable, Some(hint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_verified_and_bound_to_its_wasm() {
        let wasm = hex::encode(Sha256::digest(b"the component"));
        let payload = b"compiled code";
        let mut entry = MAGIC.to_vec();
        entry.extend_from_slice(&hex::decode(&wasm).unwrap());
        entry.extend_from_slice(&Sha256::digest(payload));
        entry.extend_from_slice(payload);
        assert_eq!(verified_payload(&entry, &wasm), Some(payload.as_slice()));
        let other = hex::encode(Sha256::digest(b"another component"));
        assert_eq!(verified_payload(&entry, &other), None, "an entry of another .wasm");

        let mut flipped = entry.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(verified_payload(&flipped, &wasm), None);
        assert_eq!(verified_payload(&entry[..entry.len() - 1], &wasm), None);
        assert_eq!(verified_payload(&entry[..20], &wasm), None);
        assert_eq!(verified_payload(b"garbage", &wasm), None);
    }

    #[test]
    fn only_a_private_directory_is_used() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("hostbuild/components");
        private_dir(&dir, true).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(private_dir(&dir, true), Err(CacheError::NotPrivate { .. })));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(dir.parent().unwrap(), std::fs::Permissions::from_mode(0o775)).unwrap();
        assert!(matches!(private_dir(&dir, true), Err(CacheError::NotPrivate { .. })));
    }
}
