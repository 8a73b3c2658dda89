//! Reading a plugin file and turning it into a compiled, type-checked
//! component, with one precise error for each way a file can be wrong.

use std::path::{Path, PathBuf};

use semver::Version;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

use super::cache::{CacheError, CacheOutcome, LoadOrCompileError, ModuleCache};

/// The `hostbuild:platform` version this host implements.
pub const HOST_WIT_VERSION: Version = Version::new(0, 2, 0);

/// The interface every platform exports, without its version.
pub const PLUGIN_EXPORT: &str = "hostbuild:platform/plugin";

/// A plugin file that is a compiled component of a compatible version.
pub struct LoadedComponent {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub component: Component,
    /// The `hostbuild:platform` version the plugin was built against.
    pub wit_version: Version,
    pub cache: CacheOutcome,
}

/// Why a file cannot be used as a plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin file {} does not exist", .0.display())]
    NotFound(PathBuf),
    #[error("cannot read plugin file {}", .path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a WebAssembly file ({found})", .path.display())]
    NotWasm { path: PathBuf, found: String },
    #[error("{} is a core WebAssembly module, not a component", .0.display())]
    CoreModule(PathBuf),
    #[error("{} is not a valid WebAssembly component: {reason}", .path.display())]
    Invalid { path: PathBuf, reason: String },
    #[error("{} is a component but not a hostbuild platform: it exports {exports}", .path.display())]
    NotAPlatform { path: PathBuf, exports: String },
    #[error(
        "{} was built against hostbuild:platform@{plugin}, but this hostbuild implements hostbuild:platform@{host}",
        .path.display()
    )]
    IncompatibleWit { path: PathBuf, plugin: Version, host: Version },
    #[error("{} does not fit hostbuild:platform@{host}: {reason}", .path.display())]
    Mismatch { path: PathBuf, host: Version, reason: String },
    #[error("{} needs more than its memory limit of {} MiB just to start", .path.display(), .limit_bytes >> 20)]
    MemoryLimit { path: PathBuf, limit_bytes: usize },
    #[error("{} is {size} bytes; a plugin may be at most {limit} bytes", .path.display())]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// Largest plugin file loaded (the compiler needs it whole in memory).
pub const MAX_PLUGIN_BYTES: u64 = 256 << 20;

/// Reads, checks and compiles (or loads from the cache) one plugin.
pub fn load_component(engine: &Engine, cache: &ModuleCache, path: &Path) -> Result<LoadedComponent, LoadError> {
    use std::io::Read;
    let unreadable = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound(path.to_path_buf()),
        _ => LoadError::Unreadable { path: path.to_path_buf(), source },
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    if size > MAX_PLUGIN_BYTES {
        return Err(LoadError::TooLarge { path: path.to_path_buf(), size, limit: MAX_PLUGIN_BYTES });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_PLUGIN_BYTES + 1).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > MAX_PLUGIN_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            limit: MAX_PLUGIN_BYTES,
        });
    }
    sniff(path, &bytes)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let compile = || -> Result<(Component, Vec<u8>), LoadError> {
        let invalid = |e: wasmtime::Error| LoadError::Invalid { path: path.to_path_buf(), reason: error_chain(&e) };
        let serialized = engine.precompile_component(&bytes).map_err(invalid)?;
        // SAFETY: `serialized` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &serialized) }.map_err(invalid)?;
        Ok((component, serialized))
    };
    let (component, cache_outcome) = match cache.load_or_compile(engine, &sha256, compile) {
        Ok(found) => found,
        Err(LoadOrCompileError::Compile(e)) => return Err(e),
        Err(LoadOrCompileError::Cache(e)) => return Err(e.into()),
    };
    let wit_version = platform_version(engine, path, &component)?;
    Ok(LoadedComponent {
        path: path.to_path_buf(),
        sha256,
        size: bytes.len() as u64,
        component,
        wit_version,
        cache: cache_outcome,
    })
}

/// Tells a component from a core module or a file that is not wasm at all.
fn sniff(path: &Path, bytes: &[u8]) -> Result<(), LoadError> {
    if !bytes.starts_with(b"\0asm") {
        return Err(LoadError::NotWasm { path: path.to_path_buf(), found: describe_bytes(bytes) });
    }
    match bytes.get(4..8) {
        Some([1, 0, 0, 0]) => Err(LoadError::CoreModule(path.to_path_buf())),
        Some([_, _, 1, 0]) => Ok(()),
        _ => Err(LoadError::Invalid {
            path: path.to_path_buf(),
            reason: "its header names an unknown WebAssembly version or layer".into(),
        }),
    }
}

/// A few words on what the bytes look like instead.
fn describe_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "the file is empty".into();
    }
    let kind = if bytes.starts_with(b"\x7fELF") {
        "an ELF executable"
    } else if bytes.starts_with(b"PK\x03\x04") {
        "a zip archive"
    } else if bytes.starts_with(b"#!") {
        "a script"
    } else if std::str::from_utf8(&bytes[..bytes.len().min(512)]).is_ok() {
        "text"
    } else {
        "binary data"
    };
    let head: String = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ");
    format!("it looks like {kind}; it starts with {head}, not 00 61 73 6d")
}

/// The version of `hostbuild:platform` the component exports, checked
/// against [`HOST_WIT_VERSION`].
fn platform_version(engine: &Engine, path: &Path, component: &Component) -> Result<Version, LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    let Some(version) = exports.iter().find_map(|name| name.strip_prefix(PLUGIN_EXPORT)?.strip_prefix('@')) else {
        let exports = if exports.is_empty() { "nothing".into() } else { exports.join(", ") };
        return Err(LoadError::NotAPlatform { path: path.to_path_buf(), exports });
    };
    let plugin = Version::parse(version).map_err(|e| LoadError::Invalid {
        path: path.to_path_buf(),
        reason: format!("export {PLUGIN_EXPORT}@{version} has a malformed version: {e}"),
    })?;
    if !compatible(&plugin, &HOST_WIT_VERSION) {
        return Err(LoadError::IncompatibleWit { path: path.to_path_buf(), plugin, host: HOST_WIT_VERSION });
    }
    Ok(plugin)
}

/// A plugin built against `plugin` runs on a host implementing `host` when
/// both are on the same semver track (same major, or same minor below 1.0)
/// and the host is at least as new.
pub fn compatible(plugin: &Version, host: &Version) -> bool {
    let same_track =
        plugin.major == host.major && (host.major > 0 || plugin.minor == host.minor) && plugin.pre.is_empty();
    same_track && plugin <= host
}

/// All messages of an error chain, joined.
pub fn error_chain(e: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    parts.dedup();
    parts.join(": ")
}

impl crate::diagnostics::Diagnose for LoadError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        let build_hint =
            "build plugins with `cargo xtask plugins`, or `cargo build --target wasm32-wasip2` in the plugin's crate";
        match self {
            LoadError::NotFound(_) => (
                ExitStatus::PluginNotFound,
                Some("check the path; bundled plugins are built into plugins/ by `cargo xtask plugins`".into()),
            ),
            LoadError::Unreadable { .. } => (ExitStatus::PluginNotFound, Some("check the file's permissions".into())),
            LoadError::NotWasm { .. } => {
                (ExitStatus::PluginInvalid, Some(format!("pass the compiled `.wasm` component; {build_hint}")))
            }
            LoadError::CoreModule(_) => (
                ExitStatus::PluginInvalid,
                Some(format!(
                    "hostbuild runs components: {build_hint} (wasm32-wasip2 makes components), \
                     or wrap a core module with `wasm-tools component new`"
                )),
            ),
            LoadError::Invalid { .. } => (
                ExitStatus::PluginInvalid,
                Some(format!("the file may be truncated or corrupt; rebuild it ({build_hint})")),
            ),
            LoadError::NotAPlatform { .. } => (
                ExitStatus::PluginInvalid,
                Some("a platform implements the `hostbuild:platform/platform` world; see the plugin author guide in the README".into()),
            ),
            LoadError::IncompatibleWit { plugin, host, .. } => (
                ExitStatus::PluginIncompatible,
                Some(if plugin > host {
                    format!("upgrade hostbuild to one implementing hostbuild:platform@{plugin}, or rebuild the plugin against {host}")
                } else {
                    format!("rebuild the plugin against hostbuild:platform@{host} (update its hostbuild-sdk)")
                }),
            ),
            LoadError::Mismatch { .. } => (
                ExitStatus::PluginIncompatible,
                Some("plugins may import only the hostbuild:platform interfaces and WASI 0.2; rebuild it with hostbuild-sdk".into()),
            ),
            LoadError::Cache(c) => c.diagnose(),
            LoadError::MemoryLimit { .. } => (
                ExitStatus::PluginFailed,
                Some("its memories together exceed the limit; raise it with --plugin-memory-limit MIB if you trust it".into()),
            ),
            LoadError::TooLarge { .. } => (ExitStatus::PluginInvalid, Some("a plugin component is a few MiB at most; check the file".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_tracks() {
        let v = |s| Version::parse(s).unwrap();
        assert!(compatible(&v("0.1.0"), &v("0.1.0")));
        assert!(compatible(&v("0.1.0"), &v("0.1.4")));
        assert!(!compatible(&v("0.1.5"), &v("0.1.4")));
        assert!(!compatible(&v("0.2.0"), &v("0.1.0")));
        assert!(!compatible(&v("1.0.0"), &v("0.1.0")));
        assert!(compatible(&v("1.2.0"), &v("1.3.0")));
        assert!(!compatible(&v("2.0.0"), &v("1.3.0")));
        assert!(!compatible(&v("0.1.0-rc1"), &v("0.1.0")));
    }

    #[test]
    fn sniffing() {
        let p = Path::new("x.wasm");
        assert!(matches!(sniff(p, b""), Err(LoadError::NotWasm { .. })));
        assert!(matches!(sniff(p, b"hello world"), Err(LoadError::NotWasm { .. })));
        assert!(matches!(sniff(p, b"\0asm\x01\0\0\0"), Err(LoadError::CoreModule(_))));
        assert!(matches!(sniff(p, b"\0asm\x0d\0\x01\0"), Ok(())));
        assert!(matches!(sniff(p, b"\0asm\x0d"), Err(LoadError::Invalid { .. })));
        assert!(describe_bytes(b"\x7fELF\x02").contains("ELF"));
    }
}
