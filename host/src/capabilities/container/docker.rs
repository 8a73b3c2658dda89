//! The Docker engine backend: each step is a fresh container of the
//! plugin's image with logical mounts mapped to host paths, labelled for
//! cleanup, its output streamed to the log, removed when it ends.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::models::{ContainerCreateBody, DeviceRequest, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use tokio::sync::OnceCell;

use super::hardening::ContainerLimits;
use super::images::BuiltImage;
use super::{lifecycle, naming, ContainerBackend};
use crate::capabilities::log::{Level, LogSink};
use crate::runtime::bindings::container::{ContainerError, Step, StepOutcome, Volume};
use crate::units::{Size, Span};

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
    /// Memory and process limits of every container.
    pub limits: ContainerLimits,
    /// Longest a step may run; over it, it is stopped and fails.
    pub step_timeout: Option<Duration>,
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
    // No GPU passed: none reachable either, whatever the image's ENV says
    // (an NVIDIA runtime reads this variable).
    if device_requests.is_none() && !has_env(&env, "NVIDIA_VISIBLE_DEVICES") {
        env.push("NVIDIA_VISIBLE_DEVICES=void".into());
    }
    let mut config = HostConfig {
        mounts: Some(mounts),
        init: Some(true),
        network_mode: Some(if host.network { "bridge" } else { "none" }.into()),
        device_requests,
        ..Default::default()
    };
    host.limits.apply(&mut config, &[]);
    let body = ContainerCreateBody {
        image: Some(image.tag.clone()),
        cmd: Some(step.argv.clone()),
        env: Some(env),
        working_dir: step.workdir.clone(),
        user: Some(host.user.to_string()),
        labels: Some(lifecycle::labels(&host.run_id, &host.plugin)),
        host_config: Some(config),
        ..Default::default()
    };
    Ok((body, image.platform.clone()))
}

impl DockerBackend {
    /// Creates the cache volume once and hands it to the steps' user. The
    /// chown runs in hostbuild's own image (never the plugin's), with only
    /// CAP_CHOWN, no network and the limits of every container.
    async fn ensure_cache(&self) -> Result<(), ContainerError> {
        self.cache_ready
            .get_or_try_init(|| async {
                let fresh = self.docker.inspect_volume(&self.host.cache_volume).await.is_err();
                if fresh {
                    let options = bollard::models::VolumeCreateRequest {
                        name: Some(self.host.cache_volume.clone()),
                        labels: Some(HashMap::from([(naming::LABEL_CACHE.to_string(), self.host.plugin.clone())])),
                        ..Default::default()
                    };
                    self.docker.create_volume(options).await.map_err(|e| ContainerError::Failed(e.to_string()))?;
                }
                if fresh && self.host.user.uid != 0 {
                    if self.docker.inspect_image(naming::HELPER_IMAGE).await.is_err() {
                        return Err(ContainerError::Unavailable(format!(
                            "hostbuild's own image {} (it prepares cache volumes) is missing; \
                             make it with `cargo xtask images`",
                            naming::HELPER_IMAGE
                        )));
                    }
                    let mut config = HostConfig {
                        mounts: Some(vec![Mount {
                            target: Some("/cache".into()),
                            source: Some(self.host.cache_volume.clone()),
                            typ: Some(MountType::VOLUME),
                            ..Default::default()
                        }]),
                        network_mode: Some("none".into()),
                        ..Default::default()
                    };
                    self.host.limits.apply(&mut config, &["CHOWN"]);
                    let body = ContainerCreateBody {
                        image: Some(naming::HELPER_IMAGE.to_string()),
                        entrypoint: Some(vec!["chown".into()]),
                        cmd: Some(vec![self.host.user.to_string(), "/cache".into()]),
                        user: Some("0:0".into()),
                        labels: Some(lifecycle::labels(&self.host.run_id, &self.host.plugin)),
                        host_config: Some(config),
                        ..Default::default()
                    };
                    let outcome = self.run_container("prepare cache", body, "linux/amd64").await?;
                    if outcome.exit_code != 0 {
                        return Err(ContainerError::Failed(format!(
                            "preparing the cache volume failed: {}",
                            outcome.tail.join(" | ")
                        )));
                    }
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Creates, starts, follows and removes one container; a step over the
    /// step timeout is stopped and fails with status 124 (as `timeout` does).
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
        let mut tail = Tail::default();
        let followed = self.follow(name, &id, &mut tail);
        let result = match self.host.step_timeout {
            Some(limit) => match tokio::time::timeout(limit, followed).await {
                Ok(result) => result,
                Err(_) => {
                    let message =
                        format!("hostbuild: step `{name}` stopped: it ran longer than --step-timeout {}", Span(limit));
                    self.log.line(&self.host.plugin, Level::Error, &message);
                    tail.push(message);
                    Ok(TIMED_OUT)
                }
            },
            None => followed.await,
        };
        let oom =
            self.docker.inspect_container(&id, None).await.ok().and_then(|c| c.state?.oom_killed).unwrap_or(false);
        let remove = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        let _ = self.docker.remove_container(&id, Some(remove)).await;
        let exit_code = result.map_err(|e| failed("run", e))?;
        if oom {
            let message = format!(
                "hostbuild: step `{name}` was killed: it used more than its memory limit of {} (--memory)",
                Size(self.host.limits.memory_bytes)
            );
            self.log.line(&self.host.plugin, Level::Error, &message);
            tail.push(message);
        }
        Ok(StepOutcome {
            exit_code,
            tail: tail.lines.into_iter().collect(),
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Starts the container and streams its output as lines (each at most
    /// `MAX_LINE` bytes) until it exits; returns its exit status.
    async fn follow(&self, name: &str, id: &str, tail: &mut Tail) -> Result<i32, bollard::errors::Error> {
        self.docker.start_container(id, None).await?;
        let source = format!("{}:{name}", self.host.plugin);
        let options = LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(options));
        let mut streams = [Lines::default(), Lines::default()];
        while let Some(chunk) = logs.next().await {
            let (slot, bytes) = match chunk? {
                bollard::container::LogOutput::StdErr { message } => (1, message),
                other => (0, other.into_bytes()),
            };
            streams[slot].push(&bytes, |line| self.emit(&source, line, tail));
        }
        for stream in &mut streams {
            stream.finish(|line| self.emit(&source, line, tail));
        }
        let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions>);
        Ok(match wait.next().await {
            Some(Ok(r)) => r.status_code as i32,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code as i32,
            Some(Err(e)) => return Err(e),
            None => -1,
        })
    }

    fn emit(&self, source: &str, line: &str, tail: &mut Tail) {
        self.log.line(source, Level::Info, line);
        tail.push(line.to_string());
    }
}

/// The exit status of a step stopped by the step timeout (as `timeout(1)`).
const TIMED_OUT: i32 = 124;

/// The last lines of a step, for its outcome.
#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
}

impl Tail {
    fn push(&mut self, line: String) {
        self.lines.push_back(line);
        if self.lines.len() > TAIL_LINES {
            self.lines.pop_front();
        }
    }
}

/// Longest line kept whole: a longer one is split into pieces of this size,
/// so a step printing megabytes without a newline never grows a buffer.
pub const MAX_LINE: usize = 64 << 10;

/// One output stream cut into lines. Only new bytes are searched for a
/// newline (no rescans), and a partial line never exceeds `MAX_LINE`.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    fn push(&mut self, mut bytes: &[u8], mut emit: impl FnMut(&str)) {
        while !bytes.is_empty() {
            let room = MAX_LINE - self.partial.len();
            let window = &bytes[..bytes.len().min(room)];
            match window.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    self.partial.extend_from_slice(&window[..end]);
                    self.flush(&mut emit);
                    bytes = &bytes[end + 1..];
                }
                None => {
                    self.partial.extend_from_slice(window);
                    bytes = &bytes[window.len()..];
                    if self.partial.len() == MAX_LINE {
                        self.flush(&mut emit);
                    }
                }
            }
        }
    }

    fn finish(&mut self, mut emit: impl FnMut(&str)) {
        if !self.partial.is_empty() {
            self.flush(&mut emit);
        }
    }

    fn flush(&mut self, emit: &mut impl FnMut(&str)) {
        let line = String::from_utf8_lossy(&self.partial);
        emit(line.trim_end_matches('\r'));
        self.partial.clear();
    }
}

#[async_trait::async_trait]
impl ContainerBackend for DockerBackend {
    async fn run_step(&self, _plugin: &str, step: &Step) -> Result<StepOutcome, ContainerError> {
        let (body, platform) = container_body(step, &self.host)?;
        if step.mounts.iter().any(|m| m.volume == Volume::Cache) {
            self.ensure_cache().await?;
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

#[cfg(test)]
mod tests {
    use super::{Lines, MAX_LINE};

    #[test]
    fn long_lines_are_split_and_nothing_is_rescanned() {
        let mut lines = Lines::default();
        let mut seen: Vec<usize> = Vec::new();
        // 200 KiB without a newline, then "a\nb" in two chunks.
        for _ in 0..200 {
            lines.push(&[b'x'; 1024], |l| seen.push(l.len()));
        }
        lines.push(b"a\nb", |l| seen.push(l.len()));
        lines.finish(|l| seen.push(l.len()));
        assert_eq!(seen, [MAX_LINE, MAX_LINE, MAX_LINE, 200 * 1024 - 3 * MAX_LINE + 1, 1]);
        let mut crlf = Vec::new();
        lines.push(b"one\r\ntwo\n", |l| crlf.push(l.to_string()));
        assert_eq!(crlf, ["one", "two"]);
    }
}
