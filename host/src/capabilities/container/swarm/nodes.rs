//! The nodes of a swarm as hostbuild places work on them: which are ready,
//! their architecture, labels and GPUs, and the choice of the node a
//! platform's steps run on.

use std::collections::HashMap;

use bollard::models::{Node, NodeState};

use crate::arch::TargetPlatform;

/// The generic resource a node with NVIDIA GPUs advertises
/// (`dockerd --node-generic-resource NVIDIA-GPU=<uuid>`).
pub const GPU_RESOURCE: &str = "NVIDIA-GPU";
/// The node label GPU steps are constrained to
/// (`docker node update --label-add hostbuild.gpu=true NODE`).
pub const GPU_LABEL: &str = "hostbuild.gpu";

/// What hostbuild knows of one node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeInfo {
    pub id: String,
    pub hostname: String,
    pub role: String,
    /// Docker's architecture name: `x86_64`, `aarch64`, `armv7l`...
    pub arch: String,
    pub ready: bool,
    pub labels: HashMap<String, String>,
    /// How many `NVIDIA-GPU` generic resources it advertises.
    pub gpus: i64,
}

impl NodeInfo {
    pub fn from_node(node: &Node) -> Self {
        let spec = node.spec.clone().unwrap_or_default();
        let description = node.description.clone().unwrap_or_default();
        let gpus = description
            .resources
            .and_then(|r| r.generic_resources)
            .unwrap_or_default()
            .iter()
            .map(|g| {
                let discrete = g.discrete_resource_spec.as_ref().filter(|d| d.kind.as_deref() == Some(GPU_RESOURCE));
                let named = g.named_resource_spec.as_ref().filter(|n| n.kind.as_deref() == Some(GPU_RESOURCE));
                discrete.map(|d| d.value.unwrap_or(0)).unwrap_or(0) + i64::from(named.is_some())
            })
            .sum();
        Self {
            id: node.id.clone().unwrap_or_default(),
            hostname: description.hostname.unwrap_or_default(),
            role: spec.role.map(|r| r.to_string()).unwrap_or_default(),
            arch: description.platform.and_then(|p| p.architecture).unwrap_or_default(),
            ready: node.status.as_ref().and_then(|s| s.state) == Some(NodeState::READY),
            labels: spec.labels.unwrap_or_default(),
            gpus,
        }
    }

    /// Whether a swarm constraint (`key==value` or `key!=value` on
    /// `node.id`, `node.hostname`, `node.role`, `node.platform.arch`,
    /// `node.labels.KEY`) holds for this node.
    pub fn satisfies(&self, constraint: &str) -> bool {
        let (key, value, equal) = match constraint.split_once("!=") {
            Some((k, v)) => (k, v, false),
            None => match constraint.split_once("==") {
                Some((k, v)) => (k, v, true),
                None => return false,
            },
        };
        let (key, value) = (key.trim(), value.trim());
        let actual = match key {
            "node.id" => Some(self.id.as_str()),
            "node.hostname" => Some(self.hostname.as_str()),
            "node.role" => Some(self.role.as_str()),
            "node.platform.arch" => Some(self.arch.as_str()),
            k => k.strip_prefix("node.labels.").and_then(|l| self.labels.get(l)).map(String::as_str),
        };
        (actual == Some(value)) == equal
    }

    /// One line for messages: `id (hostname, arch, labels, GPUs)`.
    pub fn describe(&self) -> String {
        let mut labels: Vec<String> = self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        labels.sort();
        format!(
            "{} ({}, {}, {}{}{})",
            &self.id[..self.id.len().min(12)],
            self.hostname,
            self.arch,
            if self.ready { "ready" } else { "not ready" },
            if labels.is_empty() { String::new() } else { format!(", labels {}", labels.join(" ")) },
            if self.gpus > 0 { format!(", {} GPU(s)", self.gpus) } else { String::new() }
        )
    }
}

/// The node a platform's steps run on: ready, satisfying every user
/// constraint (and holding GPUs when asked), preferring the one that runs
/// most of the platform's image architectures natively, then `preferred`
/// (the manager hostbuild talks to, where its paths are). `None` when no
/// node qualifies.
pub fn choose<'a>(
    nodes: &'a [NodeInfo],
    constraints: &[String],
    needs_gpus: bool,
    platforms: &[String],
    preferred: &str,
) -> Option<&'a NodeInfo> {
    nodes
        .iter()
        .filter(|n| n.ready && constraints.iter().all(|c| n.satisfies(c)) && (!needs_gpus || n.gpus > 0))
        .max_by_key(|n| {
            let native = platforms.iter().filter(|p| TargetPlatform::parse(p).uname() == n.arch).count();
            (native, n.id == preferred)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, arch: &str, labels: &[(&str, &str)], gpus: i64) -> NodeInfo {
        NodeInfo {
            id: id.into(),
            hostname: format!("host-{id}"),
            role: "worker".into(),
            arch: arch.into(),
            ready: true,
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            gpus,
        }
    }

    #[test]
    fn constraints_and_placement() {
        let nodes = [
            node("manager", "x86_64", &[], 0),
            node("arm", "aarch64", &[("pool", "ci")], 0),
            node("gpu", "x86_64", &[("pool", "ci"), (GPU_LABEL, "true")], 2),
        ];
        assert!(nodes[1].satisfies("node.labels.pool==ci") && !nodes[0].satisfies("node.labels.pool==ci"));
        assert!(nodes[0].satisfies("node.labels.pool!=ci") && nodes[2].satisfies("node.platform.arch==x86_64"));
        let amd = ["linux/amd64".to_string()];
        let arm = ["linux/arm64".to_string()];
        assert_eq!(choose(&nodes, &[], false, &amd, "manager").unwrap().id, "manager");
        assert_eq!(choose(&nodes, &[], false, &arm, "manager").unwrap().id, "arm", "native arm64 wins");
        assert_eq!(choose(&nodes, &[], true, &amd, "manager").unwrap().id, "gpu");
        let ci = ["node.labels.pool==ci".to_string()];
        assert_eq!(choose(&nodes, &ci, false, &amd, "manager").unwrap().id, "gpu", "x86_64 and ci");
        assert!(choose(&nodes, &["node.labels.pool==gone".to_string()], false, &amd, "manager").is_none());
    }
}
