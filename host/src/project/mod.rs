//! A project's plugins: `hostbuild.toml` (which plugins by name, from where,
//! with which grants and default options), `hostbuild.lock` (exactly which
//! bytes, versions and base images), the sources components come from, and
//! the checks `run` makes before anything executes.

pub mod bundled;
pub mod config;
pub mod engine;
pub mod grants;
pub mod lock;
pub mod oci;
pub mod resolve;
pub mod sources;

use std::path::PathBuf;

use crate::store::open::OpenError;

/// Why a project's plugin cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot read or write {}", file.display())]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is invalid: {problem}", file.display())]
    Invalid { file: PathBuf, problem: String },
    #[error("`{name}` is not a plugin file, and there is no {} in {} to look it up in", config::PROJECT_FILE, dir.display())]
    NoProject { name: String, dir: PathBuf },
    #[error("plugin `{name}` is not in {}", file.display())]
    UnknownPlugin { name: String, file: PathBuf, known: Vec<String> },
    #[error("plugin `{name}` asks for {}, which {} does not grant it", list(missing.iter().map(|m| m.what.as_str())), config::PROJECT_FILE)]
    NotGranted { name: String, missing: Vec<grants::Missing> },
    #[error("plugin `{name}` is not in {}", lock::LOCK_FILE)]
    NotLocked { name: String },
    #[error("plugin `{name}`: {what} differs from {}: expected {expected}, found {actual}", lock::LOCK_FILE)]
    LockMismatch { name: String, what: String, expected: String, actual: String },
    #[error("plugin `{name}` is version {actual}, but {} requires {requirement}", config::PROJECT_FILE)]
    VersionMismatch { name: String, actual: String, requirement: String },
    #[error("cannot fetch plugin `{name}` from {source_text}")]
    Fetch {
        name: String,
        source_text: String,
        #[source]
        source: SourceError,
    },
}

/// Why a source could not deliver a component.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Failed(String),
    #[error("the plugin cache is not writable: {0}")]
    Cache(String),
    #[error("{0}")]
    Insecure(String),
    #[error("{what} is larger than the limit of {limit} bytes (HOSTBUILD_PLUGIN_MAX_SIZE)")]
    TooLarge { what: String, limit: u64 },
    #[error(transparent)]
    Store(#[from] OpenError),
}

/// Reads and parses a TOML file; `None` when it does not exist.
fn read_toml<T: serde::de::DeserializeOwned>(file: &std::path::Path) -> Result<Option<T>, ProjectError> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ProjectError::Io { file: file.into(), source: e }),
    };
    toml::from_str(&text).map(Some).map_err(|e| ProjectError::Invalid { file: file.into(), problem: e.to_string() })
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

impl crate::diagnostics::Diagnose for ProjectError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        use crate::project::config::PROJECT_FILE;
        match self {
            ProjectError::Io { .. } => (ExitStatus::Unavailable, Some("check the file's permissions".into())),
            ProjectError::Invalid { .. } => {
                (ExitStatus::Usage, Some(format!("fix the file; the README's \"CI\" section shows {PROJECT_FILE}")))
            }
            ProjectError::NoProject { name, .. } => (
                ExitStatus::Usage,
                Some(format!(
                    "pass a plugin file (plugins/{name}.wasm), or add it to the project: \
                     `hostbuild plugins add {name} SOURCE --grant-declared`; `hostbuild list` shows the installed ones"
                )),
            ),
            ProjectError::UnknownPlugin { name, known, .. } => (
                ExitStatus::Usage,
                Some(format!(
                    "the project has: {}; add it with `hostbuild plugins add {name} SOURCE`",
                    if known.is_empty() { "no plugins".into() } else { known.join(", ") }
                )),
            ),
            ProjectError::NotGranted { name, missing } => {
                let lines: Vec<&str> = missing.iter().map(|m| m.grant.as_str()).collect();
                (
                    ExitStatus::NotGranted,
                    Some(format!(
                        "if you trust it with that, grant it in {PROJECT_FILE} under [plugins.{name}.grants]: {}",
                        lines.join("; ")
                    )),
                )
            }
            ProjectError::NotLocked { name } => (
                ExitStatus::LockMismatch,
                Some(format!(
                    "--locked runs plugins by name from hostbuild.lock; lock `{name}` with `hostbuild lock` and commit the lock"
                )),
            ),
            ProjectError::LockMismatch { name, .. } => (
                ExitStatus::LockMismatch,
                Some(
                    format!("if the change is intended, run `hostbuild plugins update {name}` and commit hostbuild.lock")
                ),
            ),
            ProjectError::VersionMismatch { .. } => (
                ExitStatus::PluginIncompatible,
                Some(format!("point the source at a matching release, or change the version requirement in {PROJECT_FILE}")),
            ),
            ProjectError::Fetch { source, .. } => source.diagnose(),
        }
    }
}

impl crate::diagnostics::Diagnose for SourceError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        match self {
            SourceError::Invalid(_) => (
                ExitStatus::Usage,
                Some("a source is a path, https://..., s3://bucket/key or oci://registry/repository:tag".into()),
            ),
            SourceError::NotFound(_) => (ExitStatus::PluginNotFound, Some("check the source's address and tag".into())),
            SourceError::Denied(_) => (
                ExitStatus::Unavailable,
                Some("log in (`docker login REGISTRY` for OCI; AWS credentials for s3://) and try again".into()),
            ),
            SourceError::Unreachable(_) | SourceError::Failed(_) => (
                ExitStatus::Unavailable,
                Some("nothing was kept of a failed download; check the network and run again".into()),
            ),
            SourceError::Cache(_) => (ExitStatus::Unavailable, Some("pass a writable --cache-dir".into())),
            SourceError::Insecure(_) => (
                ExitStatus::Refused,
                Some("serve the plugin over https:// (or from this machine), or use an oci:// or s3:// source".into()),
            ),
            SourceError::TooLarge { .. } => (
                ExitStatus::Refused,
                Some(
                    "raise HOSTBUILD_PLUGIN_MAX_SIZE (e.g. 1G) if the plugin is really that large; nothing was kept"
                        .into(),
                ),
            ),
            SourceError::Store(_) => (
                ExitStatus::Unavailable,
                Some("check the AWS configuration (AWS_PROFILE, AWS_ENDPOINT_URL, credentials)".into()),
            ),
        }
    }
}
