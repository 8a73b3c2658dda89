//! `hostbuild.toml`: the plugins a project uses, by name, each with its
//! source, version requirement, grants and default options.
//!
//! ```toml
//! [engine]              # optional; see `project::engine`
//! memory = "8G"
//!
//! [plugins.armv7]
//! source = "oci://registry.example:5000/platforms/armv7:0.1.0"
//! version = "^0.1"
//! grants = { container = true, emulation = ["arm"] }
//! options = { build-type = "Debug" }
//!
//! [store]                      # the artifact repository (flags and env win)
//! url = "s3://team-artifacts/builds"
//! layout = "mxnet-cd"          # or "hostbuild", the default
//! concurrency = 8              # parts in flight per transfer
//! part-size = "8M"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::grants::Grants;
use super::ProjectError;
use crate::artifact::layout::Layout;
use crate::description::PlatformInfo;
use crate::options::RawOption;

pub const PROJECT_FILE: &str = "hostbuild.toml";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginEntry>,
    /// How containers run (`[engine]`): limits, timeout, CA bundle.
    #[serde(default)]
    pub engine: super::engine::EngineConfig,
    /// The artifact repository, when no flag or environment variable names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreTable>,
}

/// `[store]`: where `artifacts` and `run --publish` publish and pull, and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StoreTable {
    /// A directory, `file:///path` or `s3://bucket/prefix`.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub layout: Option<Layout>,
    /// Parts of one file in flight at once.
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Bytes per part: a number, or a size such as `"8M"`.
    #[serde(default)]
    pub part_size: Option<SizeValue>,
}

/// A size written as a number of bytes or as text (`"8M"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    Bytes(u64),
    Text(String),
}

impl SizeValue {
    pub fn bytes(&self) -> Result<u64, String> {
        match self {
            SizeValue::Bytes(n) => Ok(*n),
            SizeValue::Text(t) => t.parse::<crate::units::Size>().map(|s| s.bytes()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    /// A path (relative to the project file), `https://...`, `s3://bucket/key`
    /// or `oci://registry/repository:tag` (or `@sha256:...`).
    pub source: String,
    /// A semver requirement on the plugin's own version, e.g. `^0.1`.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub grants: Grants,
    /// Default `--opt` values; `--opt` on the command line wins.
    #[serde(default)]
    pub options: BTreeMap<String, toml::Value>,
    /// Host directories lent to its containers at `/work/<name>`:
    /// `data = "../data"` (relative to the project) or `"/srv/data:ro"`.
    #[serde(default)]
    pub mounts: BTreeMap<String, String>,
}

impl PluginEntry {
    /// The version requirement, parsed (any version when absent).
    pub fn requirement(&self, name: &str) -> Result<semver::VersionReq, ProjectError> {
        match &self.version {
            None => Ok(semver::VersionReq::STAR),
            Some(v) => semver::VersionReq::parse(v).map_err(|e| ProjectError::Invalid {
                file: PROJECT_FILE.into(),
                problem: format!("plugins.{name}.version `{v}` is not a semver requirement: {e}"),
            }),
        }
    }

    /// Checks a described plugin against this entry: it is the plugin the
    /// entry names, its version meets the requirement, and everything it
    /// declares is granted.
    pub fn check(&self, name: &str, info: &PlatformInfo) -> Result<(), ProjectError> {
        if info.name != name {
            return Err(ProjectError::Invalid {
                file: PROJECT_FILE.into(),
                problem: format!("plugins.{name} comes from `{}`, which is plugin `{}`", self.source, info.name),
            });
        }
        let requirement = self.requirement(name)?;
        if !requirement.matches(&info.version) {
            return Err(ProjectError::VersionMismatch {
                name: name.into(),
                actual: info.version.to_string(),
                requirement: requirement.to_string(),
            });
        }
        let missing = self.grants.missing(&info.capabilities);
        if !missing.is_empty() {
            return Err(ProjectError::NotGranted { name: name.into(), missing });
        }
        Ok(())
    }

    /// The default options as `--opt` values scoped to this plugin.
    pub fn raw_options(&self, name: &str) -> Vec<RawOption> {
        self.options
            .iter()
            .map(|(k, v)| RawOption {
                plugin: Some(name.to_string()),
                key: k.clone(),
                value: match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            })
            .collect()
    }
}

/// A project file and the directory it is in (sources are relative to it).
#[derive(Debug, Clone)]
pub struct Located {
    pub dir: PathBuf,
    pub project: Project,
}

impl Located {
    /// Reads `dir/hostbuild.toml`; `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Located>, ProjectError> {
        let file = dir.join(PROJECT_FILE);
        let Some(project) = super::read_toml::<Project>(&file)? else { return Ok(None) };
        for name in project.plugins.keys() {
            if !is_name(name) {
                return Err(ProjectError::Invalid {
                    file,
                    problem: format!("`{name}` is not a plugin name (lower-case letters, digits and `-`)"),
                });
            }
        }
        Ok(Some(Located { dir: dir.to_path_buf(), project }))
    }

    pub fn file(&self) -> PathBuf {
        self.dir.join(PROJECT_FILE)
    }

    pub fn entry(&self, name: &str) -> Result<&PluginEntry, ProjectError> {
        self.project.plugins.get(name).ok_or_else(|| ProjectError::UnknownPlugin {
            name: name.into(),
            file: self.file(),
            known: self.project.plugins.keys().cloned().collect(),
        })
    }
}

/// Whether `s` can name a plugin: kebab-case, as `describe` names are.
pub fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') && !s.starts_with('-')
}

/// The text `plugins add` appends for a new plugin.
pub fn entry_text(name: &str, source: &str, version: Option<&str>, grants: &Grants) -> String {
    let mut text = format!("\n[plugins.{name}]\nsource = {}\n", toml::Value::String(source.into()));
    if let Some(v) = version {
        text.push_str(&format!("version = {}\n", toml::Value::String(v.into())));
    }
    let grants = toml::to_string(grants).unwrap_or_default();
    let lines: Vec<&str> = grants.lines().filter(|l| !l.ends_with("= false") && !l.ends_with("= []")).collect();
    text.push_str(&format!("grants = {{ {} }}\n", lines.join(", ")));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_project_and_refuses_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PROJECT_FILE),
            "[plugins.armv7]\nsource = \"plugins/armv7.wasm\"\nversion = \"^0.1\"\n\
             grants = { container = true, emulation = [\"arm\"] }\noptions = { build-type = \"Debug\", skip-tests = true }\n",
        )
        .unwrap();
        let p = Located::read(dir.path()).unwrap().unwrap();
        let e = p.entry("armv7").unwrap();
        assert!(e.grants.container && e.grants.emulation == ["arm"]);
        assert!(e.requirement("armv7").unwrap().matches(&semver::Version::new(0, 1, 3)));
        let opts: Vec<String> = e.raw_options("armv7").iter().map(|o| format!("{}={}", o.key, o.value)).collect();
        assert_eq!(opts, ["build-type=Debug", "skip-tests=true"]);
        assert!(matches!(p.entry("cuda"), Err(ProjectError::UnknownPlugin { .. })));

        std::fs::write(dir.path().join(PROJECT_FILE), "[plugins.armv7]\nsource = \"x\"\ngrant = {}\n").unwrap();
        let err = Located::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("unknown field `grant`"), "{err}");

        std::fs::write(
            dir.path().join(PROJECT_FILE),
            "[store]\nurl = \"s3://b/p\"\nlayout = \"mxnet-cd\"\nconcurrency = 4\npart-size = \"16M\"\n",
        )
        .unwrap();
        let store = Located::read(dir.path()).unwrap().unwrap().project.store.unwrap();
        assert_eq!((store.url.as_deref(), store.layout), (Some("s3://b/p"), Some(Layout::MxnetCd)));
        assert_eq!((store.concurrency, store.part_size.unwrap().bytes()), (Some(4), Ok(16 << 20)));
        std::fs::write(dir.path().join(PROJECT_FILE), "[store]\nlayout = \"mxnet\"\n").unwrap();
        assert!(Located::read(dir.path()).is_err());
        assert!(Located::read(&dir.path().join("none")).unwrap().is_none());
    }

    #[test]
    fn an_added_entry_reads_back() {
        let grants = Grants { container: true, emulation: vec!["arm".into()], ..Default::default() };
        let text = entry_text("armv7", "oci://localhost:5000/p/armv7:0.1.0", Some("^0.1"), &grants);
        let project: Project = toml::from_str(&text).unwrap();
        assert_eq!(project.plugins["armv7"].grants, grants);
        assert_eq!(project.plugins["armv7"].version.as_deref(), Some("^0.1"));
    }
}
