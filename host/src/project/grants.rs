//! What a project allows each plugin (`[plugins.NAME.grants]` in
//! hostbuild.toml). A plugin runs only when everything it declares is granted
//! (checked at load); each host call then checks the plugin's allowed set,
//! declared ∩ granted, again.

use serde::{Deserialize, Serialize};

use crate::model::Capabilities;

/// The grants of one plugin; everything is refused unless listed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Grants {
    /// Build images and run steps in containers.
    #[serde(default)]
    pub container: bool,
    /// Architectures it may run under QEMU: `arm`, `arm64`, `amd64`.
    #[serde(default)]
    pub emulation: Vec<String>,
    #[serde(default)]
    pub gpu: bool,
    /// Network access while steps run.
    #[serde(default)]
    pub network: bool,
    /// Network access while the plugin's images build (`RUN apt-get ...`).
    #[serde(default)]
    pub image_network: bool,
    /// The artifact repository, with `--publish`.
    #[serde(default)]
    pub publish: bool,
    /// Host environment variables it may read.
    #[serde(default)]
    pub env: Vec<String>,
    /// Mount the source read-write in its containers (e.g. to write resolved
    /// dependency versions back). Never declared by a plugin: only granted.
    #[serde(default)]
    pub write_source: bool,
    /// Registry/repository prefixes its image artifacts may be tagged and
    /// pushed under, e.g. `["registry.example:5000/team/"]`. Never declared
    /// by a plugin: only granted.
    #[serde(default)]
    pub push: Vec<String>,
}

/// One grant, as `plugins add --grant` and `plugins list` write it
/// (`container`, `emulation:arm`, `env:CI`, `push:reg:5000/team/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Container,
    Emulation(String),
    Gpu,
    Network,
    ImageNetwork,
    Publish,
    WriteSource,
    Env(String),
    Push(String),
}

/// A word that is no grant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a grant")]
pub struct NotAGrant(pub String);

impl NotAGrant {
    /// Every grant word, for a hint.
    pub fn hint() -> String {
        let arches: Vec<&str> = crate::arch::all().iter().map(|a| a.name).collect();
        format!(
            "grants: container, gpu, network, image-network, publish, write-source, emulation:{}, env:VAR, push:PREFIX",
            arches.join("|")
        )
    }
}

impl std::str::FromStr for Grant {
    type Err = NotAGrant;

    fn from_str(word: &str) -> Result<Self, NotAGrant> {
        Ok(match word.split_once(':') {
            None if word == "container" => Grant::Container,
            None if word == "gpu" => Grant::Gpu,
            None if word == "network" => Grant::Network,
            None if word == "image-network" => Grant::ImageNetwork,
            None if word == "publish" => Grant::Publish,
            None if word == "write-source" => Grant::WriteSource,
            Some(("emulation", arch)) if crate::arch::by_name(arch).is_some() => Grant::Emulation(arch.into()),
            Some(("env", var)) if !var.is_empty() => Grant::Env(var.into()),
            Some(("push", prefix)) if !prefix.is_empty() => Grant::Push(prefix.into()),
            _ => return Err(NotAGrant(word.into())),
        })
    }
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grant::Container => f.write_str("container"),
            Grant::Emulation(arch) => write!(f, "emulation:{arch}"),
            Grant::Gpu => f.write_str("gpu"),
            Grant::Network => f.write_str("network"),
            Grant::ImageNetwork => f.write_str("image-network"),
            Grant::Publish => f.write_str("publish"),
            Grant::WriteSource => f.write_str("write-source"),
            Grant::Env(var) => write!(f, "env:{var}"),
            Grant::Push(prefix) => write!(f, "push:{prefix}"),
        }
    }
}

impl Grant {
    /// What it lends, in words: `containers`, `emulation of arm64`.
    pub fn what(&self) -> String {
        match self {
            Grant::Container => "containers".into(),
            Grant::Emulation(arch) => format!("emulation of {arch}"),
            Grant::Gpu => "GPUs".into(),
            Grant::Network => "network during steps".into(),
            Grant::ImageNetwork => "network during image builds".into(),
            Grant::Publish => "the artifact repository".into(),
            Grant::WriteSource => "a writable source tree".into(),
            Grant::Env(var) => format!("environment variable {var}"),
            Grant::Push(prefix) => format!("pushes under {prefix}"),
        }
    }

    /// The hostbuild.toml line that gives it: `gpu = true`, `env = ["CI"]`.
    pub fn toml_line(&self) -> String {
        match self {
            Grant::Emulation(arch) => format!("emulation = [\"{arch}\"]"),
            Grant::Env(var) => format!("env = [\"{var}\"]"),
            Grant::Push(prefix) => format!("push = [\"{prefix}\"]"),
            flag => format!("{flag} = true"),
        }
    }

    /// Why a host call was refused for want of it.
    pub fn denied(&self) -> String {
        format!("access denied: `{self}` was not declared by the plugin, or not granted to it")
    }
}

/// One grant a plugin declared and the project did not give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// In words, e.g. `emulation of arm64`.
    pub what: String,
    /// The hostbuild.toml line that grants it, e.g. `emulation = ["arm64"]`.
    pub grant: String,
}

impl Grants {
    /// Everything `declared` asks for: what running a plugin file directly
    /// (not through a project) implies.
    pub fn all_of(declared: &Capabilities) -> Self {
        Self {
            container: declared.container,
            emulation: declared.emulation.clone(),
            gpu: declared.gpu,
            network: declared.network_during_build,
            image_network: declared.image_network,
            publish: declared.publish,
            env: declared.env_vars.clone(),
            write_source: false,
            push: Vec::new(),
        }
    }

    /// What `declared` asks for beyond these grants, each with its fix.
    pub fn missing(&self, declared: &Capabilities) -> Vec<Missing> {
        let given = self.list();
        Grants::all_of(declared)
            .list()
            .into_iter()
            .filter(|g| !given.contains(g))
            .map(|g| Missing { what: g.what(), grant: g.toml_line() })
            .collect()
    }

    /// What the plugin may use: declared and granted.
    pub fn allow(&self, declared: &Capabilities) -> Capabilities {
        Capabilities {
            container: declared.container && self.container,
            emulation: declared.emulation.iter().filter(|a| self.emulation.contains(a)).cloned().collect(),
            gpu: declared.gpu && self.gpu,
            network_during_build: declared.network_during_build && self.network,
            image_network: declared.image_network && self.image_network,
            publish: declared.publish && self.publish,
            env_vars: declared.env_vars.iter().filter(|v| self.env.contains(v)).cloned().collect(),
        }
    }

    /// Adds one grant (`plugins add --grant`).
    pub fn give(&mut self, grant: Grant) {
        match grant {
            Grant::Container => self.container = true,
            Grant::Emulation(arch) => self.emulation.push(arch),
            Grant::Gpu => self.gpu = true,
            Grant::Network => self.network = true,
            Grant::ImageNetwork => self.image_network = true,
            Grant::Publish => self.publish = true,
            Grant::WriteSource => self.write_source = true,
            Grant::Env(var) => self.env.push(var),
            Grant::Push(prefix) => self.push.push(prefix),
        }
    }

    /// Every grant: flags, then emulation, variables and push prefixes
    /// (`plugins list`, and the fix lines of missing grants).
    pub fn list(&self) -> Vec<Grant> {
        let mut list = Vec::new();
        for (on, grant) in [
            (self.container, Grant::Container),
            (self.gpu, Grant::Gpu),
            (self.network, Grant::Network),
            (self.image_network, Grant::ImageNetwork),
            (self.publish, Grant::Publish),
            (self.write_source, Grant::WriteSource),
        ] {
            list.extend(on.then_some(grant));
        }
        list.extend(self.emulation.iter().cloned().map(Grant::Emulation));
        list.extend(self.env.iter().cloned().map(Grant::Env));
        list.extend(self.push.iter().cloned().map(Grant::Push));
        list
    }

    /// The grants as words, for `plugins list`.
    pub fn words(&self) -> Vec<String> {
        self.list().iter().map(Grant::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn everything() -> Capabilities {
        Capabilities {
            container: true,
            emulation: vec!["arm".into(), "arm64".into()],
            gpu: true,
            network_during_build: true,
            image_network: true,
            publish: true,
            env_vars: vec!["CI".into(), "TOKEN".into()],
        }
    }

    #[test]
    fn every_missing_grant_is_named_with_its_line() {
        let grants =
            Grants { container: true, emulation: vec!["arm".into()], env: vec!["CI".into()], ..Default::default() };
        let missing: Vec<String> = grants.missing(&everything()).into_iter().map(|m| m.grant).collect();
        assert_eq!(
            missing,
            [
                "gpu = true",
                "network = true",
                "image-network = true",
                "publish = true",
                "emulation = [\"arm64\"]",
                "env = [\"TOKEN\"]"
            ]
        );
        assert!(Grants::all_of(&everything()).missing(&everything()).is_empty());
    }

    #[test]
    fn every_grant_reads_back_as_written() {
        let everything =
            Grants { push: vec!["reg:5000/team/".into()], write_source: true, ..Grants::all_of(&everything()) };
        for grant in everything.list() {
            assert_eq!(grant.to_string().parse::<Grant>(), Ok(grant.clone()));
            let mut one = Grants::default();
            one.give(grant.clone());
            assert_eq!(one.list(), [grant]);
        }
        assert!("emulation:sparc".parse::<Grant>().is_err());
        assert!("env:".parse::<Grant>().is_err());
        assert_eq!(everything.words().len(), 11);
    }

    #[test]
    fn allowed_is_declared_and_granted() {
        let grants = Grants {
            container: true,
            gpu: true,
            emulation: vec!["arm64".into()],
            env: vec!["CI".into(), "HOME".into()],
            ..Default::default()
        };
        let allowed = grants.allow(&everything());
        assert!(allowed.container && allowed.gpu && !allowed.publish && !allowed.network_during_build);
        assert_eq!(allowed.emulation, ["arm64"]);
        assert_eq!(allowed.env_vars, ["CI"]);
        let nothing = Capabilities::default();
        assert_eq!(Grants::all_of(&everything()).allow(&nothing), nothing);
    }
}
