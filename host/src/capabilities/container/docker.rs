//! The Docker engine backend: each step is a fresh container of the
//! plugin's image with logical mounts mapped to host paths, labelled for
//! cleanup, its output streamed to the log, removed when it ends.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bollard::models::{ContainerCreateBody, DeviceRequest, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use tokio::sync::OnceCell;

use super::images::BuiltImage;
use super::{lifecycle, ContainerBackend};
use crate::capabilities::log::{Level, LogSink};
use crate::runtime::bindings::container::{ContainerError, Step, StepOutcome, Volume};

/// Lines of a step's output kept for its outcome.
const TAIL_LINES: usize = 50;

/// Everything a step's container is made from, besides the step itself.
#[derive(Clone)]
pub struct StepHost {
    pub run_id: String,
    pub plugin: String,
    pub images: HashMap<String, BuiltImage>,
    pub source: PathBuf,
    pub output: PathBuf,
    /// Named volume mounted for `volume.cache`.
    pub cache_volume: String,
    /// Who the steps run as, so output files belong to the user.
    pub user: User,
    pub network: bool,
    /// Whether GPU requests reach the engine; `run --no-gpu` turns them off.
    pub gpu: bool,
    /// The source is mounted read-write (granted `write-source`), else read-only.
    pub source_writable: bool,
    /// Host directories lent at `/work/<name>` in every step.
    pub dirs: Vec<super::DirMount>,
    /// ccache's size cap, e.g. `10G`.
    pub ccache_size: String,
    /// The host's proxy variables, given to steps that have network.
    pub proxies: Vec<(String, String)>,
}

pub struct DockerBackend {
    docker: Docker,
    host: StepHost,
    log: Arc<dyn LogSink>,
    cache_ready: OnceCell<()>,
}

impl DockerBackend {
    pub fn new(docker: Docker, host: StepHost, log: Arc<dyn LogSink>) -> Self {
        Self { docker, host, log, cache_ready: OnceCell::new() }
    }
}

/// A numeric user and group; shown as `uid:gid`, as `docker run --user` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

impl std::fmt::Display for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

impl User {
    /// The user this process runs as.
    pub fn current() -> Self {
        use std::os::unix::fs::MetadataExt;
        let (uid, gid) = std::fs::metadata("/proc/self").map(|m| (m.uid(), m.gid())).unwrap_or((0, 0));
        Self { uid, gid }
    }

    /// The user to run steps as: the one who invoked hostbuild, seen through
    /// sudo (`SUDO_UID`/`SUDO_GID`) when run that way, as MXNet's USRID/GRPID.
    pub fn invoking() -> Self {
        let sudo = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u32>().ok());
        match (Self::current(), sudo("SUDO_UID"), sudo("SUDO_GID")) {
            (Self { uid: 0, .. }, Some(uid), Some(gid)) => Self { uid, gid },
            (me, _, _) => me,
        }
    }
}

/// The container a step runs in. Public for tests that inspect its shape.
pub fn container_body(step: &Step, host: &StepHost) -> Result<(ContainerCreateBody, String), ContainerError> {
    let image = host.images.get(&step.image).ok_or_else(|| {
        let mut known: Vec<&str> = host.images.keys().map(String::as_str).collect();
        known.sort();
        ContainerError::UnknownImage(format!(
            "step `{}` names image `{}`; the recipes define: {}",
            step.name,
            step.image,
            known.join(", ")
        ))
    })?;
    if step.argv.is_empty() {
        return Err(ContainerError::InvalidStep(format!("step `{}` has an empty argv", step.name)));
    }
    let mut env: Vec<String> = step.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let has_env = |env: &[String], k: &str| env.iter().any(|e| e.starts_with(&format!("{k}=")));
    let mut mounts = Vec::new();
    for m in &step.mounts {
        if !m.target.starts_with('/') || mounts.iter().any(|x: &Mount| x.target.as_deref() == Some(&m.target)) {
            return Err(ContainerError::InvalidStep(format!(
                "step `{}`: mount target `{}` must be absolute and used once",
                step.name, m.target
            )));
        }
        let (kind, source, read_only) = match m.volume {
            Volume::Source => (MountType::BIND, host.source.display().to_string(), !host.source_writable),
            Volume::Output => (MountType::BIND, host.output.display().to_string(), false),
            Volume::Cache => {
                for (k, v) in [("CCACHE_DIR", m.target.as_str()), ("CCACHE_MAXSIZE", host.ccache_size.as_str())] {
                    if !has_env(&env, k) {
                        env.push(format!("{k}={v}"));
                    }
                }
                (MountType::VOLUME, host.cache_volume.clone(), false)
            }
        };
        mounts.push(Mount {
            target: Some(m.target.clone()),
            source: Some(source),
            typ: Some(kind),
            read_only: Some(read_only),
            ..Default::default()
        });
    }
    for d in &host.dirs {
        if !mounts.iter().any(|m| m.target.as_deref() == Some(d.target().as_str())) {
            mounts.push(Mount {
                target: Some(d.target()),
                source: Some(d.host.display().to_string()),
                typ: Some(MountType::BIND),
                read_only: Some(d.read_only),
                ..Default::default()
            });
        }
    }
    if !has_env(&env, "HOME") {
        env.push("HOME=/tmp".into());
    }
    if host.network {
        for (k, v) in &host.proxies {
            if !has_env(&env, k) {
                env.push(format!("{k}={v}"));
            }
        }
    }
    let device_requests = step.gpu.as_ref().filter(|_| host.gpu).map(|g| {
        let caps =
            if g.capabilities.is_empty() { vec!["compute".into(), "utility".into()] } else { g.capabilities.clone() };
        if !has_env(&env, "NVIDIA_DRIVER_CAPABILITIES") {
            env.push(format!("NVIDIA_DRIVER_CAPABILITIES={}", caps.join(",")));
        }
        let mut gpu_caps = vec!["gpu".to_string()];
        gpu_caps.extend(caps);
        vec![DeviceRequest {
            driver: Some("nvidia".into()),
            count: Some(g.count.map_or(-1, i64::from)),
            capabilities: Some(vec![gpu_caps]),
            ..Default::default()
        }]
    });
    let body = ContainerCreateBody {
        image: Some(image.tag.clone()),
        cmd: Some(step.argv.clone()),
        env: Some(env),
        working_dir: step.workdir.clone(),
        user: Some(host.user.to_string()),
        labels: Some(lifecycle::labels(&host.run_id, &host.plugin)),
        host_config: Some(HostConfig {
            mounts: Some(mounts),
            init: Some(true),
            network_mode: Some(if host.network { "bridge" } else { "none" }.into()),
            device_requests,
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok((body, image.platform.clone()))
}

impl DockerBackend {
    /// Creates the cache volume once and hands it to the steps' user.
    async fn ensure_cache(&self, image: &str, platform: &str) -> Result<(), ContainerError> {
        self.cache_ready
            .get_or_try_init(|| async {
                let fresh = self.docker.inspect_volume(&self.host.cache_volume).await.is_err();
                if fresh {
                    let options = bollard::models::VolumeCreateRequest {
                        name: Some(self.host.cache_volume.clone()),
                        labels: Some(HashMap::from([("hostbuild.cache".to_string(), self.host.plugin.clone())])),
                        ..Default::default()
                    };
                    self.docker.create_volume(options).await.map_err(|e| ContainerError::Failed(e.to_string()))?;
                }
                if fresh && self.host.user.uid != 0 {
                    let chown = Step {
                        name: "prepare cache".into(),
                        image: String::new(),
                        argv: vec!["chown".into(), self.host.user.to_string(), "/cache".into()],
                        env: vec![],
                        workdir: None,
                        mounts: vec![],
                        gpu: None,
                    };
                    let body = ContainerCreateBody {
                        image: Some(image.to_string()),
                        cmd: Some(chown.argv),
                        user: Some("0:0".into()),
                        labels: Some(lifecycle::labels(&self.host.run_id, &self.host.plugin)),
                        host_config: Some(HostConfig {
                            mounts: Some(vec![Mount {
                                target: Some("/cache".into()),
                                source: Some(self.host.cache_volume.clone()),
                                typ: Some(MountType::VOLUME),
                                ..Default::default()
                            }]),
                            network_mode: Some("none".into()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    };
                    self.run_container(&chown.name, body, platform).await?;
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Creates, starts, follows and removes one container.
    async fn run_container(
        &self,
        name: &str,
        body: ContainerCreateBody,
        platform: &str,
    ) -> Result<StepOutcome, ContainerError> {
        let started = Instant::now();
        let failed =
            |what: &str, e: bollard::errors::Error| ContainerError::Failed(format!("step `{name}`: {what}: {e}"));
        let options = CreateContainerOptionsBuilder::default().platform(platform).build();
        let id = self.docker.create_container(Some(options), body).await.map_err(|e| failed("create", e))?.id;
        let result = self.follow(name, &id).await;
        let remove = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        let _ = self.docker.remove_container(&id, Some(remove)).await;
        let (exit_code, tail) = result.map_err(|e| failed("run", e))?;
        Ok(StepOutcome { exit_code, tail, duration_ms: started.elapsed().as_millis() as u64 })
    }

    async fn follow(&self, name: &str, id: &str) -> Result<(i32, Vec<String>), bollard::errors::Error> {
        self.docker.start_container(id, None).await?;
        let source = format!("{}:{name}", self.host.plugin);
        let options = LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(options));
        let mut tail = VecDeque::new();
        let mut partial = [String::new(), String::new()];
        while let Some(chunk) = logs.next().await {
            let (slot, bytes) = match chunk? {
                bollard::container::LogOutput::StdErr { message } => (1, message),
                other => (0, other.into_bytes()),
            };
            partial[slot].push_str(&String::from_utf8_lossy(&bytes));
            while let Some(end) = partial[slot].find('\n') {
                let line: String = partial[slot].drain(..=end).collect();
                self.emit(&source, line.trim_end(), &mut tail);
            }
        }
        for rest in partial.iter().filter(|p| !p.is_empty()) {
            self.emit(&source, rest.trim_end(), &mut tail);
        }
        let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions>);
        let code = match wait.next().await {
            Some(Ok(r)) => r.status_code as i32,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code as i32,
            Some(Err(e)) => return Err(e),
            None => -1,
        };
        Ok((code, tail.into_iter().collect()))
    }

    fn emit(&self, source: &str, line: &str, tail: &mut VecDeque<String>) {
        self.log.line(source, Level::Info, line);
        tail.push_back(line.to_string());
        if tail.len() > TAIL_LINES {
            tail.pop_front();
        }
    }
}

#[async_trait::async_trait]
impl ContainerBackend for DockerBackend {
    async fn run_step(&self, _plugin: &str, step: &Step) -> Result<StepOutcome, ContainerError> {
        let (body, platform) = container_body(step, &self.host)?;
        if step.mounts.iter().any(|m| m.volume == Volume::Cache) {
            self.ensure_cache(body.image.as_deref().unwrap_or_default(), &platform).await?;
        }
        self.log.line(&self.host.plugin, Level::Info, &format!("step `{}`: {}", step.name, step.argv.join(" ")));
        if let (Some(gpu), false) = (&step.gpu, self.host.gpu) {
            let count = gpu.count.map_or("all GPUs".to_string(), |n| format!("{n} GPU(s)"));
            let caps = if gpu.capabilities.is_empty() { "compute,utility".into() } else { gpu.capabilities.join(",") };
            let message = format!("step `{}` asks for {count} ({caps}); not passed: --no-gpu", step.name);
            self.log.line(&self.host.plugin, Level::Warn, &message);
        }
        self.run_container(&step.name, body, &platform).await
    }
}
