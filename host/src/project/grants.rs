//! What a project allows each plugin (`[plugins.NAME.grants]` in
//! hostbuild.toml). A plugin runs only when everything it declares is granted
//! (checked at load); each host call then checks the plugin's allowed set,
//! declared ∩ granted, again.

use serde::{Deserialize, Serialize};

use crate::description::arch_name;
use crate::runtime::bindings::types::Capabilities;

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
            emulation: declared.emulation.iter().map(|a| arch_name(*a).to_string()).collect(),
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
        let mut missing = Vec::new();
        let mut flag = |asked: bool, given: bool, key: &str, what: &str| {
            if asked && !given {
                missing.push(Missing { what: what.into(), grant: format!("{key} = true") });
            }
        };
        flag(declared.container, self.container, "container", "containers");
        flag(declared.gpu, self.gpu, "gpu", "GPUs");
        flag(declared.network_during_build, self.network, "network", "network during steps");
        flag(declared.image_network, self.image_network, "image-network", "network during image builds");
        flag(declared.publish, self.publish, "publish", "the artifact repository");
        for arch in declared.emulation.iter().map(|a| arch_name(*a)) {
            if !self.emulation.iter().any(|g| g == arch) {
                missing
                    .push(Missing { what: format!("emulation of {arch}"), grant: format!("emulation = [\"{arch}\"]") });
            }
        }
        for var in &declared.env_vars {
            if !self.env.contains(var) {
                missing
                    .push(Missing { what: format!("environment variable {var}"), grant: format!("env = [\"{var}\"]") });
            }
        }
        missing
    }

    /// What the plugin may use: declared and granted.
    pub fn allow(&self, declared: &Capabilities) -> Capabilities {
        Capabilities {
            container: declared.container && self.container,
            emulation: declared
                .emulation
                .iter()
                .copied()
                .filter(|a| self.emulation.iter().any(|g| g == arch_name(*a)))
                .collect(),
            gpu: declared.gpu && self.gpu,
            network_during_build: declared.network_during_build && self.network,
            image_network: declared.image_network && self.image_network,
            publish: declared.publish && self.publish,
            env_vars: declared.env_vars.iter().filter(|v| self.env.contains(v)).cloned().collect(),
        }
    }

    /// The grants as words, for `plugins list`.
    pub fn words(&self) -> Vec<String> {
        let mut words = Vec::new();
        for (on, word) in [
            (self.container, "container"),
            (self.gpu, "gpu"),
            (self.network, "network"),
            (self.image_network, "image-network"),
            (self.publish, "publish"),
            (self.write_source, "write-source"),
        ] {
            if on {
                words.push(word.to_string());
            }
        }
        words.extend(self.emulation.iter().map(|a| format!("emulation:{a}")));
        words.extend(self.env.iter().map(|v| format!("env:{v}")));
        words.extend(self.push.iter().map(|p| format!("push:{p}")));
        words
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::types::CpuArch;

    fn everything() -> Capabilities {
        Capabilities {
            container: true,
            emulation: vec![CpuArch::Arm, CpuArch::Arm64],
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
        assert_eq!(allowed.emulation, [CpuArch::Arm64]);
        assert_eq!(allowed.env_vars, ["CI"]);
        let nothing = Capabilities {
            container: false,
            emulation: vec![],
            gpu: false,
            network_during_build: false,
            image_network: false,
            publish: false,
            env_vars: vec![],
        };
        assert_eq!(Grants::all_of(&everything()).allow(&nothing), nothing);
    }
}
