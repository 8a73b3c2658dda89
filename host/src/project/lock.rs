//! `hostbuild.lock`: exactly what a project's plugins are. Written by
//! `hostbuild lock` and `plugins add/update`, sorted and stable so it diffs
//! well; read by `run --locked` and `plugins verify`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ProjectError;

pub const LOCK_FILE: &str = "hostbuild.lock";
const HEADER: &str = "# hostbuild.lock: written by `hostbuild lock`; commit it, do not edit it.\n\
                      # `hostbuild run --locked` refuses anything that differs.\n\n";
const FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    pub version: u32,
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<LockedPlugin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LockedPlugin {
    pub name: String,
    /// The plugin's own version, from `describe`.
    pub version: String,
    /// The source as written in hostbuild.toml.
    pub source: String,
    /// sha256 of the component's bytes.
    pub sha256: String,
    /// The `hostbuild:platform` version it targets.
    pub wit: String,
    /// Each base image its recipes start from (with the project's options)
    /// and that image's id in the engine.
    #[serde(default)]
    pub base_images: BTreeMap<String, String>,
}

impl Lockfile {
    pub fn new() -> Self {
        Self { version: FORMAT, plugins: Vec::new() }
    }

    /// Reads `dir/hostbuild.lock`; `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Lockfile>, ProjectError> {
        let file = dir.join(LOCK_FILE);
        let Some(lock) = super::read_toml::<Lockfile>(&file)? else { return Ok(None) };
        if lock.version != FORMAT {
            return Err(ProjectError::Invalid {
                file,
                problem: format!("lock format {} is not {FORMAT}, the one this hostbuild writes", lock.version),
            });
        }
        Ok(Some(lock))
    }

    /// The lock as text: a header, then the plugins sorted by name.
    pub fn to_text(&self) -> String {
        let mut sorted = self.clone();
        sorted.plugins.sort_by(|a, b| a.name.cmp(&b.name));
        format!("{HEADER}{}", toml::to_string(&sorted).unwrap_or_default())
    }

    /// Writes the lock atomically (temporary file, then rename).
    pub fn write(&self, dir: &Path) -> Result<(), ProjectError> {
        let file = dir.join(LOCK_FILE);
        let io = |source| ProjectError::Io { file: file.clone(), source };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut tmp, self.to_text().as_bytes()).map_err(io)?;
        tmp.persist(&file).map_err(|e| io(e.error))?;
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&LockedPlugin> {
        self.plugins.iter().find(|p| p.name == name)
    }

    /// Adds or replaces the entry of `plugin.name`.
    pub fn put(&mut self, plugin: LockedPlugin) {
        self.plugins.retain(|p| p.name != plugin.name);
        self.plugins.push(plugin);
        self.plugins.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(name: &str) -> LockedPlugin {
        LockedPlugin {
            name: name.into(),
            version: "0.1.0".into(),
            source: format!("plugins/{name}.wasm"),
            sha256: "ab".repeat(32),
            wit: "0.1.0".into(),
            base_images: [("hostbuild/bookworm:amd64".to_string(), "sha256:12".to_string())].into(),
        }
    }

    #[test]
    fn round_trips_sorted_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let mut lock = Lockfile::new();
        lock.put(plugin("cuda"));
        lock.put(plugin("armv7"));
        lock.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert!(text.find("name = \"armv7\"").unwrap() < text.find("name = \"cuda\"").unwrap(), "{text}");
        let back = Lockfile::read(dir.path()).unwrap().unwrap();
        assert_eq!(back, lock);
        assert_eq!(back.to_text(), text, "writing what was read changes nothing");
    }
}
