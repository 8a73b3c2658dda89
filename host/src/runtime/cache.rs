//! On-disk cache of compiled components.
//!
//! Key: sha256 of the `.wasm` + wasmtime version + a hash of the engine's
//! compilation settings. An entry is `MAGIC`, the sha256 of the payload, then
//! the payload from `Engine::precompile_component`. Entries are written to a
//! temporary file and renamed into place, and verified before every use: a
//! truncated or corrupt entry is deleted and recompiled, never loaded.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use super::engine::WASMTIME_VERSION;

const MAGIC: &[u8; 8] = b"HBCWASM1";

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
#[error("cannot write the compile cache at {}", .dir.display())]
pub struct CacheError {
    pub dir: PathBuf,
    #[source]
    pub source: std::io::Error,
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
        let path = self.entry_path(engine, wasm_sha256);
        let mut outcome = CacheOutcome::Compiled;
        if let Ok(bytes) = std::fs::read(&path) {
            match verified_payload(&bytes) {
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
        self.store(&path, &serialized).map_err(LoadOrCompileError::Cache)?;
        Ok((component, outcome))
    }

    fn store(&self, path: &Path, payload: &[u8]) -> Result<(), CacheError> {
        let err = |source| CacheError { dir: self.dir.clone(), source };
        std::fs::create_dir_all(&self.dir).map_err(err)?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(err)?;
        tmp.write_all(MAGIC).map_err(err)?;
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

/// The payload of an entry, if its header and checksum are intact.
fn verified_payload(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < 32 {
        return None;
    }
    let (sum, payload) = rest.split_at(32);
    (Sha256::digest(payload).as_slice() == sum).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_verified() {
        let payload = b"compiled code";
        let mut entry = MAGIC.to_vec();
        entry.extend_from_slice(&Sha256::digest(payload));
        entry.extend_from_slice(payload);
        assert_eq!(verified_payload(&entry), Some(payload.as_slice()));

        let mut flipped = entry.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(verified_payload(&flipped), None);
        assert_eq!(verified_payload(&entry[..entry.len() - 1]), None);
        assert_eq!(verified_payload(&entry[..20]), None);
        assert_eq!(verified_payload(b"garbage"), None);
    }
}
