//! Steps on a Docker Swarm (`--engine swarm`): each step is a service, the
//! cluster's scheduler places it; hostbuild adds no scheduler of its own.
//!
//! - **Images** are built on the manager as for the local engine, pushed to a
//!   registry the nodes can pull from (`--registry PUSH[=PULL]`), and steps
//!   name them by digest, so a node runs exactly the image that was built.
//! - **Placement**: a platform's steps all run on one node, chosen among the
//!   ready nodes that satisfy the user's constraints (`--constraint`), hold
//!   GPUs when the platform asks for them, preferring the node that runs the
//!   platform's architectures natively (arm64 on an arm64 node when there is
//!   one, else under QEMU), then the manager.
//! - **Files**: on the manager hostbuild talks to, the source and output tree
//!   are bind mounts as locally. Elsewhere they travel through the S3 store
//!   ([`staging`]): the source once (content-addressed), the output tree
//!   around every step, so the plugin reads and writes it between steps as
//!   it would locally.
//! - **Network**: a step without network joins the run's own overlay network
//!   created `--internal` (`--network none` is refused for services,
//!   moby#44403), removed at the end.
//! - **Lifecycle**: services carry the run's labels; a signal removes the
//!   run's services and network; `run` and `clean` remove those whose owner
//!   is provably gone. Services are `replicated` with restart `none`: removing
//!   a running `replicated-job` leaves its container (moby#44312).
//! - Services cannot take `no-new-privileges` on this engine (API 1.41);
//!   capabilities are dropped and limits set as for local containers.

pub mod nodes;
mod service;
pub mod staging;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::{ListNodesOptions, ListServicesOptionsBuilder};
use bollard::Docker;
use tokio::sync::{Mutex, OnceCell};

use self::nodes::NodeInfo;
use self::service::{Placement, Sources, Waits};
use self::staging::Staging;
use super::spec::{ContainerSpec, Lent};
use super::{local, StepEngine, StepError};
use crate::capabilities::container::{ContainerError, StepOutcome};
use crate::capabilities::log::{Level, LogSink};
use crate::docker::images::BuiltImage;
use crate::docker::lifecycle::{self, Owner};
use crate::output_tree::OutputTree;
use crate::registry::publish::{manifest_of, push_tag, split};

/// The swarm cannot be used for this run.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error("the Docker engine at {endpoint} is not a swarm manager ({state})")]
    NotAManager { endpoint: String, state: String },
    #[error("--engine swarm needs a registry the nodes can pull the images from")]
    NoRegistry,
    #[error("no node of the swarm can run platform `{plugin}`: {why}; nodes: {nodes}")]
    NoNode { plugin: String, why: String, nodes: String },
    #[error("pushing {image} to the swarm's registry failed: {message}")]
    Push { image: String, message: String },
    #[error("the swarm engine failed: {0}")]
    Api(String),
    #[error("hostbuild's helper on node {node} failed: {message}")]
    OnNode { node: String, message: String },
    #[error("platform `{plugin}` runs on node {node}, off the manager: its files travel through the artifact store, which must be s3:// (--store s3://BUCKET/PREFIX, reachable from the nodes)")]
    NoStaging { plugin: String, node: String },
}

/// Where the swarm's images go: pushed to `push`, pulled by the nodes
/// from `pull` (the same registry under the name the nodes reach it by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    pub push: String,
    pub pull: String,
}

impl std::str::FromStr for Registry {
    type Err = String;
    /// `HOST:PORT[/PREFIX]`, or `PUSH=PULL` when the nodes reach it by
    /// another name than this machine does.
    fn from_str(text: &str) -> Result<Self, String> {
        let (push, pull) = text.split_once('=').unwrap_or((text, text));
        let clean = |s: &str| s.trim().trim_end_matches('/').to_string();
        if push.trim().is_empty() || pull.trim().is_empty() || text.contains("://") {
            return Err(format!("`{text}` is not REGISTRY or PUSH=PULL (host:port[/prefix], no scheme)"));
        }
        Ok(Registry { push: clean(push), pull: clean(pull) })
    }
}

/// How the swarm is used by a run.
#[derive(Debug, Clone)]
pub struct SwarmOptions {
    pub registry: Registry,
    /// Placement constraints of every platform (`node.labels.pool==ci`).
    pub constraints: Vec<String>,
    /// Stage files through the store even on the manager.
    pub always_stage: bool,
    /// How long a step may wait for a node before it fails.
    pub pending: Duration,
}

/// A swarm as one run uses it.
pub struct Swarm {
    docker: Docker,
    run_id: String,
    /// The node hostbuild talks to (where its paths are).
    pub manager: String,
    pub nodes: Vec<NodeInfo>,
    options: SwarmOptions,
    /// The run's internal overlay network, made on first use.
    network: OnceCell<String>,
    /// Images pushed in this run: local tag → reference by digest.
    pushed: Mutex<HashMap<String, String>>,
    /// Helper services run on nodes so far (`on_node`), for their names.
    helpers: std::sync::atomic::AtomicUsize,
    staging: Option<Arc<Staging>>,
}

impl Swarm {
    /// The swarm of the engine `docker` talks to, which must be a manager.
    pub async fn connect(
        docker: Docker,
        endpoint: &str,
        run_id: &str,
        options: SwarmOptions,
        staging: Option<Arc<Staging>>,
    ) -> Result<Swarm, SwarmError> {
        let info = docker.info().await.map_err(|e| SwarmError::Api(e.to_string()))?;
        let swarm = info.swarm.unwrap_or_default();
        if swarm.control_available != Some(true) {
            let state = swarm.local_node_state.map(|s| s.to_string()).unwrap_or_default();
            let state = if state.is_empty() { "inactive".into() } else { state };
            return Err(SwarmError::NotAManager { endpoint: endpoint.into(), state });
        }
        let nodes = docker
            .list_nodes(None::<ListNodesOptions>)
            .await
            .map_err(|e| SwarmError::Api(e.to_string()))?
            .iter()
            .map(NodeInfo::from_node)
            .collect();
        Ok(Swarm {
            docker,
            run_id: run_id.into(),
            manager: swarm.node_id.unwrap_or_default(),
            nodes,
            options,
            network: OnceCell::new(),
            pushed: Mutex::default(),
            helpers: Default::default(),
            staging,
        })
    }

    /// Files of platforms off the manager travel through this.
    pub fn set_staging(&mut self, staging: Arc<Staging>) {
        self.staging = Some(staging);
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Every node, one line each, for messages.
    pub fn describe_nodes(&self) -> String {
        self.nodes.iter().map(NodeInfo::describe).collect::<Vec<_>>().join("; ")
    }

    /// Whether any node advertises NVIDIA GPUs.
    pub fn has_gpus(&self) -> bool {
        self.nodes.iter().any(|n| n.ready && n.gpus > 0)
    }

    /// The node a platform's steps run on.
    pub fn place(&self, plugin: &str, images: &[BuiltImage], gpus: bool) -> Result<NodeInfo, SwarmError> {
        let platforms: Vec<String> = images.iter().map(|i| i.platform.clone()).collect();
        nodes::choose(&self.nodes, &self.options.constraints, gpus, &platforms, &self.manager).cloned().ok_or_else(
            || {
                let mut why = Vec::new();
                if !self.options.constraints.is_empty() {
                    why.push(format!("constraints {}", self.options.constraints.join(", ")));
                }
                if gpus {
                    why.push(format!("{} generic resources", nodes::GPU_RESOURCE));
                }
                if why.is_empty() {
                    why.push("no node is ready".into());
                }
                SwarmError::NoNode { plugin: plugin.into(), why: why.join(" and "), nodes: self.describe_nodes() }
            },
        )
    }

    /// Pushes a locally built image to the registry (once per run); returns
    /// the reference by digest the nodes pull.
    pub async fn push(&self, image: &BuiltImage, log: &dyn LogSink) -> Result<String, SwarmError> {
        let mut pushed = self.pushed.lock().await;
        if let Some(reference) = pushed.get(&image.tag) {
            return Ok(reference.clone());
        }
        let fail = |message: String| SwarmError::Push { image: image.tag.clone(), message };
        let (repo, tag) = split(&image.tag);
        let (push_repo, pull_repo) =
            (format!("{}/{repo}", self.options.registry.push), format!("{}/{repo}", self.options.registry.pull));
        let options = bollard::query_parameters::TagImageOptionsBuilder::default().repo(&push_repo).tag(tag).build();
        self.docker.tag_image(&image.tag, Some(options)).await.map_err(|e| fail(e.to_string()))?;
        let target = format!("{push_repo}:{tag}");
        push_tag(&self.docker, &push_repo, tag, &target, log).await.map_err(|e| fail(e.to_string()))?;
        let manifest = manifest_of(&target).await;
        // The registry's name for the image was only needed to push it.
        let untag = bollard::query_parameters::RemoveImageOptionsBuilder::default().noprune(true).build();
        let _ = self.docker.remove_image(&target, Some(untag), None).await;
        let (digest, _, _) = manifest.map_err(|e| fail(e.to_string()))?;
        let reference = format!("{pull_repo}@{digest}");
        pushed.insert(image.tag.clone(), reference.clone());
        Ok(reference)
    }

    /// The run's internal overlay network (created on first use).
    async fn internal_network(&self) -> Result<String, ContainerError> {
        self.network
            .get_or_try_init(|| async {
                let name = format!("hostbuild-{}", self.run_id);
                let request = NetworkCreateRequest {
                    name: name.clone(),
                    driver: Some("overlay".into()),
                    internal: Some(true),
                    attachable: Some(false),
                    labels: Some(lifecycle::labels(&self.run_id, "hostbuild")),
                    ..Default::default()
                };
                self.docker
                    .create_network(request)
                    .await
                    .map(|_| name)
                    .map_err(|e| ContainerError::Failed(format!("cannot create the run's internal network: {e}")))
            })
            .await
            .cloned()
    }

    /// Removes every service and network of this run; returns how many
    /// services. After a signal, lists twice (a create cut off may still land).
    pub async fn remove_run(&self, settle: bool) -> usize {
        let mut removed = 0;
        for pass in 0..if settle { 2 } else { 1 } {
            if pass > 0 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            removed += remove_services(&self.docker, &format!("{}={}", lifecycle::LABEL_RUN, self.run_id)).await;
        }
        remove_task_containers(&self.docker, &self.run_id).await;
        let _ = self.docker.remove_network(&format!("hostbuild-{}", self.run_id)).await;
        removed
    }

    pub fn staging(&self) -> Option<&Arc<Staging>> {
        self.staging.as_ref()
    }

    /// Runs `script` in hostbuild's helper image on `node`, given that
    /// node's engine socket (for what only a node's own engine does: its
    /// local volumes); returns what it printed on stdout and stderr.
    pub async fn on_node(
        &self,
        node: &NodeInfo,
        helper: &BuiltImage,
        script: &str,
        log: &dyn LogSink,
    ) -> Result<Vec<String>, SwarmError> {
        let image = self.push(helper, log).await?;
        let spec = ContainerSpec {
            name: "node".into(),
            image: helper.clone(),
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env: vec!["HOME=/tmp".into()],
            workdir: None,
            user: super::User { uid: 0, gid: 0 },
            mounts: vec![super::spec::SpecMount {
                target: NODE_SOCKET.into(),
                lent: Lent::Dir(NODE_SOCKET.into()),
                read_only: false,
            }],
            network: true,
            gpus: None,
            limits: super::hardening::ContainerLimits::default(),
            labels: lifecycle::labels(&self.run_id, "hostbuild"),
            timeout: Some(Duration::from_secs(120)),
        };
        let n = self.helpers.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let at = Placement {
            name: service_name(&self.run_id, &format!("node-{}", &node.id[..node.id.len().min(12)]), n),
            image,
            node: &node.id,
            sources: &Sources::Bind { source: PathBuf::new(), output: PathBuf::new() },
            internal_network: None,
            keep_caps: &[],
        };
        let lines = Collect::default();
        let waits = Waits { pending: self.options.pending };
        let failed = |message: String| SwarmError::OnNode { node: node.describe(), message };
        let outcome = service::run(&self.docker, &lines, "hostbuild", &spec, service::service_spec(&spec, &at), &waits)
            .await
            .map_err(|e| match e {
                StepError::Container(e) => failed(e.message().to_string()),
                StepError::Stopped(s) => failed(s.to_string()),
            })?;
        let lines = lines.0.into_inner().unwrap_or_else(|p| p.into_inner());
        if outcome.exit_code != 0 {
            return Err(failed(format!("exit status {}: {}", outcome.exit_code, outcome.tail.join(" | "))));
        }
        Ok(lines)
    }
}

/// Where a node's engine socket is, on the node.
const NODE_SOCKET: &str = "/var/run/docker.sock";

/// The lines a helper printed.
#[derive(Default)]
struct Collect(std::sync::Mutex<Vec<String>>);

impl LogSink for Collect {
    fn line(&self, _: &str, _: Level, message: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(message.to_string());
    }
    fn progress(&self, _: &str, _: &str, _: u64, _: Option<u64>) {}
}

/// Removes the services carrying `label`; returns how many.
async fn remove_services(docker: &Docker, label: &str) -> usize {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let options = ListServicesOptionsBuilder::default().filters(&filters).build();
    let services = docker.list_services(Some(options)).await.unwrap_or_default();
    let mut removed = 0;
    for s in services {
        if let Some(id) = s.id {
            removed += usize::from(docker.delete_service(&id).await.is_ok());
        }
    }
    removed
}

/// Removes the task containers of the run's (removed) services on this node
/// rather than waiting the seconds the node takes to, then waits (10 s at
/// most) until none is left.
async fn remove_task_containers(docker: &Docker, run_id: &str) {
    use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
    let label = format!("{}={run_id}", lifecycle::LABEL_RUN);
    let filters = HashMap::from([("label".to_string(), vec![label])]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let Ok(containers) = docker.list_containers(Some(options)).await else { return };
        if containers.is_empty() {
            return;
        }
        for id in containers.into_iter().filter_map(|c| c.id) {
            let force = RemoveContainerOptionsBuilder::default().force(true).build();
            let _ = docker.remove_container(&id, Some(force)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What sweeping the swarm did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    pub removed_services: usize,
    /// Services whose owner could not be proven dead, left alone, by reason.
    pub left_alone: std::collections::BTreeMap<lifecycle::Unproven, usize>,
}

/// Removes services (and run networks) whose owner is provably gone, by the
/// rule of the local reaper; a no-op on an engine that is not a manager.
pub async fn reap_services(docker: &Docker) -> Swept {
    let filters = HashMap::from([("label".to_string(), vec![lifecycle::LABEL_OWNER_PID.to_string()])]);
    let options = ListServicesOptionsBuilder::default().filters(&filters).build();
    let Ok(services) = docker.list_services(Some(options)).await else { return Swept::default() };
    let mut swept = Swept::default();
    for s in services {
        let labels = s.spec.and_then(|spec| spec.labels).unwrap_or_default();
        match lifecycle::owner(&labels) {
            Owner::Dead => {
                if let Some(id) = &s.id {
                    swept.removed_services += usize::from(docker.delete_service(id).await.is_ok());
                }
                if let Some(run) = labels.get(lifecycle::LABEL_RUN) {
                    let _ = docker.remove_network(&format!("hostbuild-{run}")).await;
                }
            }
            Owner::Unknown(why) => *swept.left_alone.entry(why).or_default() += 1,
            Owner::Alive => {}
        }
    }
    swept
}

/// A platform's steps on the swarm.
pub struct SwarmEngine {
    swarm: Arc<Swarm>,
    plugin: String,
    node: NodeInfo,
    sources: Sources,
    /// Set when the platform's files are staged through the store.
    staged: Option<staging::StagedPlatform>,
    log: Arc<dyn LogSink>,
    steps: Mutex<usize>,
    /// Cache volumes prepared (bind-mount mode).
    prepared: Mutex<Vec<String>>,
}

impl SwarmEngine {
    /// The engine of platform `plugin` on `node`: bind mounts on the
    /// manager, staging through the store elsewhere (or always, if asked).
    pub async fn new(
        swarm: Arc<Swarm>,
        plugin: &str,
        node: NodeInfo,
        source: PathBuf,
        output: Arc<OutputTree>,
        log: Arc<dyn LogSink>,
    ) -> Result<SwarmEngine, SwarmError> {
        let stage = node.id != swarm.manager || swarm.options.always_stage;
        let (sources, staged) = if stage {
            let staging = swarm
                .staging()
                .cloned()
                .ok_or_else(|| SwarmError::NoStaging { plugin: plugin.into(), node: node.describe() })?;
            let platform = staging::StagedPlatform::new(staging, &swarm.run_id, plugin, source, output.clone());
            (Sources::Staged { source: platform.source_volume(), output: platform.output_volume() }, Some(platform))
        } else {
            (Sources::Bind { source, output: output.host_path().to_path_buf() }, None)
        };
        log.line(
            plugin,
            Level::Info,
            &format!("on swarm node {}{}", node.describe(), if staged.is_some() { ", files staged" } else { "" }),
        );
        Ok(SwarmEngine {
            swarm,
            plugin: plugin.into(),
            node,
            sources,
            staged,
            log,
            steps: Mutex::new(0),
            prepared: Mutex::default(),
        })
    }

    /// Runs a helper (hostbuild's own image) on the platform's node.
    async fn helper(&self, spec: &ContainerSpec, keep_caps: &[&str]) -> Result<StepOutcome, ContainerError> {
        let image = self
            .swarm
            .push(&spec.image, self.log.as_ref())
            .await
            .map_err(|e| ContainerError::Unavailable(e.to_string()))?;
        self.service(spec, image, keep_caps).await.map_err(|e| match e {
            StepError::Container(e) => e,
            StepError::Stopped(s) => ContainerError::Failed(format!("`{}`: {s}", spec.name)),
        })
    }

    /// Whether the platform's node is the manager hostbuild talks to.
    fn on_manager(&self) -> bool {
        self.node.id == self.swarm.manager
    }

    async fn service(&self, spec: &ContainerSpec, image: String, keep_caps: &[&str]) -> Result<StepOutcome, StepError> {
        let n = {
            let mut steps = self.steps.lock().await;
            *steps += 1;
            *steps
        };
        let network = if spec.network { None } else { Some(self.swarm.internal_network().await?) };
        let name = service_name(&self.swarm.run_id, &self.plugin, n);
        let at = Placement {
            name,
            image,
            node: &self.node.id,
            sources: &self.sources,
            internal_network: network.as_deref(),
            keep_caps,
        };
        let waits = Waits { pending: self.swarm.options.pending };
        service::run(
            &self.swarm.docker,
            self.log.as_ref(),
            &self.plugin,
            spec,
            service::service_spec(spec, &at),
            &waits,
        )
        .await
    }
}

/// `hb-<run>-<plugin>-<n>`, within Swarm's 63 characters.
fn service_name(run: &str, plugin: &str, n: usize) -> String {
    let name = format!("hb-{run}-{plugin}");
    let name: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    let max = 63 - format!("-{n}").len();
    format!("{}-{n}", &name[..name.len().min(max)])
}

#[async_trait::async_trait]
impl StepEngine for SwarmEngine {
    async fn run(&self, spec: &ContainerSpec) -> Result<StepOutcome, StepError> {
        if let Some(staged) = &self.staged {
            staged.before_step(self, spec).await?;
        } else {
            // On the manager: its cache volumes are local volumes.
            for m in &spec.mounts {
                if let Lent::Cache(volume) = &m.lent {
                    let mut prepared = self.prepared.lock().await;
                    if !prepared.contains(volume) {
                        let docker = &self.swarm.docker;
                        let run_id = &self.swarm.run_id;
                        local::prepare_volume(docker, &self.plugin, run_id, volume, spec.user, &spec.limits, &self.log)
                            .await?;
                        prepared.push(volume.clone());
                    }
                }
            }
        }
        let image = self
            .swarm
            .push(&spec.image, self.log.as_ref())
            .await
            .map_err(|e| ContainerError::Unavailable(e.to_string()))?;
        let outcome = self.service(spec, image, &[]).await?;
        if let Some(staged) = &self.staged {
            staged.after_step(self, spec).await?;
        }
        Ok(outcome)
    }

    async fn finish(&self) -> Result<(), ContainerError> {
        match &self.staged {
            Some(staged) => staged.remove_volumes(self).await,
            None => Ok(()),
        }
    }
}

impl crate::diagnostics::Diagnose for SwarmError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        match self {
            SwarmError::NotAManager { .. } => (
                ExitStatus::Unavailable,
                Some(
                    "make this engine a swarm manager (`docker swarm init`), point DOCKER_HOST at one, or use \
                      --engine local"
                        .into(),
                ),
            ),
            SwarmError::NoRegistry => (
                ExitStatus::Usage,
                Some(
                    "pass --registry HOST:PORT (or `registry` under [engine]): a registry every node can pull \
                      from, e.g. Debian's docker-registry run as a swarm service (see the README)"
                        .into(),
                ),
            ),
            SwarmError::NoNode { .. } => (
                ExitStatus::Unavailable,
                Some("check --constraint and the nodes' labels (`docker node ls`, `docker node inspect`)".into()),
            ),
            SwarmError::Push { .. } => (
                ExitStatus::Unavailable,
                Some("check that the registry is up and that this machine's engine can push to it".into()),
            ),
            SwarmError::NoStaging { .. } => (
                ExitStatus::Usage,
                Some(
                    "pass --store s3://BUCKET/PREFIX (an S3 server the nodes reach), or constrain the platform to \
                      the manager"
                        .into(),
                ),
            ),
            SwarmError::Api(_) => (ExitStatus::Unavailable, Some("`hostbuild doctor --engine swarm`".into())),
            SwarmError::OnNode { .. } => (
                ExitStatus::Unavailable,
                Some(
                    "the node must pull hostbuild's helper image from --registry and lend it its engine socket \
                     (/var/run/docker.sock); `docker node ps` on the manager shows why a task failed"
                        .into(),
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_and_service_names() {
        let r: Registry = "127.0.0.1:5000".parse().unwrap();
        assert_eq!((r.push.as_str(), r.pull.as_str()), ("127.0.0.1:5000", "127.0.0.1:5000"));
        let r: Registry = "127.0.0.1:5000=10.231.0.1:5000/team/".parse().unwrap();
        assert_eq!((r.push.as_str(), r.pull.as_str()), ("127.0.0.1:5000", "10.231.0.1:5000/team"));
        assert!("http://x".parse::<Registry>().is_err());
        let long = service_name("19abc-3f2", &"p".repeat(80), 12);
        assert!(long.len() <= 63 && long.ends_with("-12"), "{long}");
        assert_eq!(service_name("r1", "armv7", 3), "hb-r1-armv7-3");
    }
}
