//! The local engine: each step is a fresh container on the Docker engine
//! `DOCKER_HOST` names (or the local socket), its logical mounts bound to
//! this machine's paths, labelled for cleanup, its output streamed, removed
//! when it ends.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bollard::models::{ContainerCreateBody, DeviceRequest, HostConfig, Mount, MountType};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptions,
};
use bollard::Docker;
use futures::StreamExt;
use tokio::sync::Mutex;

use super::hardening::ContainerLimits;
use super::output::StepOutput;
use super::spec::{ContainerSpec, Lent, User};
use super::{StepEngine, StepError, StepStopped};
use crate::capabilities::container::{ContainerError, StepOutcome};
use crate::capabilities::log::{Level, LogSink};
use crate::docker::{lifecycle, naming};
use crate::units::Size;

/// Steps of one platform on the local engine.
pub struct LocalEngine {
    docker: Docker,
    plugin: String,
    run_id: String,
    /// Host paths of the logical mounts.
    source: PathBuf,
    output: PathBuf,
    log: Arc<dyn LogSink>,
    /// Cache volumes already prepared by this run.
    prepared: Mutex<Vec<String>>,
}

impl LocalEngine {
    pub fn new(
        docker: Docker,
        plugin: &str,
        run_id: &str,
        source: PathBuf,
        output: PathBuf,
        log: Arc<dyn LogSink>,
    ) -> Self {
        Self { docker, plugin: plugin.into(), run_id: run_id.into(), source, output, log, prepared: Mutex::default() }
    }
}

/// The container of a spec, with its mounts bound to `source` and `output`;
/// and the platform to create it for.
pub fn container_body(
    spec: &ContainerSpec,
    source: &std::path::Path,
    output: &std::path::Path,
) -> (ContainerCreateBody, String) {
    let mounts = spec
        .mounts
        .iter()
        .map(|m| {
            let (typ, from) = match &m.lent {
                Lent::Source => (MountType::BIND, source.display().to_string()),
                Lent::Output => (MountType::BIND, output.display().to_string()),
                Lent::Cache(volume) | Lent::Volume(volume) => (MountType::VOLUME, volume.clone()),
                Lent::Dir(dir) => (MountType::BIND, dir.display().to_string()),
            };
            Mount {
                target: Some(m.target.clone()),
                source: Some(from),
                typ: Some(typ),
                read_only: Some(m.read_only),
                ..Default::default()
            }
        })
        .collect();
    let device_requests = spec.gpus.as_ref().map(|g| {
        let mut caps = vec!["gpu".to_string()];
        caps.extend(g.capabilities.iter().cloned());
        vec![DeviceRequest {
            driver: Some("nvidia".into()),
            count: Some(g.count.map_or(-1, i64::from)),
            capabilities: Some(vec![caps]),
            ..Default::default()
        }]
    });
    let mut config = HostConfig {
        mounts: Some(mounts),
        init: Some(true),
        network_mode: Some(if spec.network { "bridge" } else { "none" }.into()),
        device_requests,
        ..Default::default()
    };
    spec.limits.apply(&mut config, &[]);
    let body = ContainerCreateBody {
        image: Some(spec.image.tag.clone()),
        cmd: Some(spec.argv.clone()),
        env: Some(spec.env.clone()),
        working_dir: spec.workdir.clone(),
        user: Some(spec.user.to_string()),
        labels: Some(spec.labels.clone()),
        host_config: Some(config),
        ..Default::default()
    };
    (body, spec.image.platform.clone())
}

/// The same container as `docker run` arguments (for `hostbuild shell`,
/// which hands the terminal to the docker CLI), up to the image and its
/// command: `docker run [ARGS] IMAGE ARGV...` follows from
/// [`ContainerSpec::image`] and [`ContainerSpec::argv`].
pub fn docker_run_args(spec: &ContainerSpec, source: &std::path::Path, output: &std::path::Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["--init".into(), "--platform".into(), spec.image.platform.clone()];
    args.extend(["--user".into(), spec.user.to_string()]);
    let mut labels: Vec<_> = spec.labels.iter().collect();
    labels.sort();
    for (k, v) in labels {
        args.extend(["--label".into(), format!("{k}={v}")]);
    }
    for m in &spec.mounts {
        let from = match &m.lent {
            Lent::Source => source.display().to_string(),
            Lent::Output => output.display().to_string(),
            Lent::Cache(volume) | Lent::Volume(volume) => volume.clone(),
            Lent::Dir(dir) => dir.display().to_string(),
        };
        args.extend(["-v".into(), format!("{from}:{}{}", m.target, if m.read_only { ":ro" } else { "" })]);
    }
    args.extend(["--network".into(), if spec.network { "bridge" } else { "none" }.into()]);
    if let Some(g) = &spec.gpus {
        args.extend(["--gpus".into(), g.count.map_or("all".into(), |n| n.to_string())]);
    }
    args.extend(spec.limits.docker_flags());
    for e in &spec.env {
        args.extend(["-e".into(), e.clone()]);
    }
    if let Some(w) = &spec.workdir {
        args.extend(["-w".into(), w.clone()]);
    }
    args
}

/// Creates a cache volume on this engine (labelled with the platform) and,
/// when it is new, hands it to `user` (who steps and `shell` run as). The
/// chown runs in hostbuild's own image (never the plugin's, whose
/// ENTRYPOINT or `chown` would run as root), with an explicit entrypoint,
/// only CAP_CHOWN, no network and the limits of every container.
pub async fn prepare_volume(
    docker: &Docker,
    plugin: &str,
    run_id: &str,
    volume: &str,
    user: User,
    limits: &ContainerLimits,
    log: &Arc<dyn LogSink>,
) -> Result<(), ContainerError> {
    let fresh = docker.inspect_volume(volume).await.is_err();
    if fresh {
        let options = bollard::models::VolumeCreateRequest {
            name: Some(volume.to_string()),
            labels: Some(HashMap::from([(naming::LABEL_CACHE.to_string(), plugin.to_string())])),
            ..Default::default()
        };
        docker.create_volume(options).await.map_err(|e| ContainerError::Failed(e.to_string()))?;
    }
    if fresh && user.uid != 0 {
        let engine = LocalEngine {
            docker: docker.clone(),
            plugin: plugin.into(),
            run_id: run_id.into(),
            source: PathBuf::new(),
            output: PathBuf::new(),
            log: log.clone(),
            prepared: Mutex::default(),
        };
        engine.chown_volume(volume, user, limits).await?;
    }
    Ok(())
}

impl LocalEngine {
    /// Prepares a cache volume once per run.
    async fn ensure_cache(&self, volume: &str, spec: &ContainerSpec) -> Result<(), ContainerError> {
        let mut prepared = self.prepared.lock().await;
        if prepared.iter().any(|v| v == volume) {
            return Ok(());
        }
        prepare_volume(&self.docker, &self.plugin, &self.run_id, volume, spec.user, &spec.limits, &self.log).await?;
        prepared.push(volume.to_string());
        Ok(())
    }

    async fn chown_volume(&self, volume: &str, user: User, limits: &ContainerLimits) -> Result<(), ContainerError> {
        if self.docker.inspect_image(naming::HELPER_IMAGE).await.is_err() {
            return Err(ContainerError::Unavailable(format!(
                "hostbuild's own image {} (it prepares cache volumes) is missing; make it with `cargo xtask images`",
                naming::HELPER_IMAGE
            )));
        }
        let mut config = HostConfig {
            mounts: Some(vec![Mount {
                target: Some("/cache".into()),
                source: Some(volume.to_string()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            }]),
            network_mode: Some("none".into()),
            ..Default::default()
        };
        limits.apply(&mut config, &["CHOWN"]);
        let body = ContainerCreateBody {
            image: Some(naming::HELPER_IMAGE.to_string()),
            entrypoint: Some(vec!["chown".into()]),
            cmd: Some(vec![user.to_string(), "/cache".into()]),
            user: Some("0:0".into()),
            labels: Some(lifecycle::labels(&self.run_id, &self.plugin)),
            host_config: Some(config),
            ..Default::default()
        };
        let outcome =
            self.run_container("prepare cache", body, "linux/amd64", limits, None).await.map_err(|e| match e {
                StepError::Container(e) => e,
                StepError::Stopped(s) => ContainerError::Failed(format!("preparing the cache volume: {s}")),
            })?;
        if outcome.exit_code != 0 {
            return Err(ContainerError::Failed(format!(
                "preparing the cache volume failed: {}",
                outcome.tail.join(" | ")
            )));
        }
        Ok(())
    }

    /// Creates, starts, follows and removes one container; one over
    /// `timeout` is stopped and removed, and is `StepError::Stopped`.
    async fn run_container(
        &self,
        name: &str,
        body: ContainerCreateBody,
        platform: &str,
        limits: &ContainerLimits,
        timeout: Option<std::time::Duration>,
    ) -> Result<StepOutcome, StepError> {
        let started = Instant::now();
        let failed =
            |what: &str, e: bollard::errors::Error| ContainerError::Failed(format!("step `{name}`: {what}: {e}"));
        let options = CreateContainerOptionsBuilder::default().platform(platform).build();
        let id = self.docker.create_container(Some(options), body).await.map_err(|e| failed("create", e))?.id;
        let mut output = StepOutput::new(self.log.as_ref(), &self.plugin, name);
        let followed = self.follow(&id, &mut output);
        let (result, stopped) = match timeout {
            Some(limit) => match tokio::time::timeout(limit, followed).await {
                Ok(result) => (result, None),
                Err(_) => (Ok(-1), Some(StepStopped { step: name.to_string(), limit })),
            },
            None => (followed.await, None),
        };
        let oom =
            self.docker.inspect_container(&id, None).await.ok().and_then(|c| c.state?.oom_killed).unwrap_or(false);
        let remove = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        let _ = self.docker.remove_container(&id, Some(remove)).await;
        if let Some(stopped) = stopped {
            self.log.line(&self.plugin, Level::Error, &format!("hostbuild: {stopped}; it was removed"));
            return Err(StepError::Stopped(stopped));
        }
        let exit_code = result.map_err(|e| failed("run", e))?;
        if oom {
            let message = format!(
                "hostbuild: step `{name}` was killed: it used more than its memory limit of {} (--memory)",
                Size(limits.memory_bytes)
            );
            self.log.line(&self.plugin, Level::Error, &message);
            output.tail.push(message);
        }
        let duration_ms = started.elapsed().as_millis() as u64;
        Ok(StepOutcome { exit_code, tail: output.tail.into_lines(), duration_ms })
    }

    /// Starts the container and streams its output until it exits; returns
    /// its exit status.
    async fn follow(&self, id: &str, output: &mut StepOutput<'_>) -> Result<i32, bollard::errors::Error> {
        self.docker.start_container(id, None).await?;
        let options = LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build();
        let mut logs = self.docker.logs(id, Some(options));
        while let Some(chunk) = logs.next().await {
            match chunk? {
                bollard::container::LogOutput::StdErr { message } => output.push(true, &message),
                other => output.push(false, &other.into_bytes()),
            }
        }
        output.finish();
        let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions>);
        Ok(match wait.next().await {
            Some(Ok(r)) => r.status_code as i32,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code as i32,
            Some(Err(e)) => return Err(e),
            None => -1,
        })
    }
}

#[async_trait::async_trait]
impl StepEngine for LocalEngine {
    async fn run(&self, spec: &ContainerSpec) -> Result<StepOutcome, StepError> {
        for m in &spec.mounts {
            if let Lent::Cache(volume) = &m.lent {
                self.ensure_cache(volume, spec).await?;
            }
        }
        let (body, platform) = container_body(spec, &self.source, &self.output);
        self.run_container(&spec.name, body, &platform, &spec.limits, spec.timeout).await
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::capabilities::container::spec::SpecMount;
    use crate::capabilities::container::GpuRequest;
    use crate::docker::images::BuiltImage;

    #[test]
    fn the_shells_docker_run_arguments_say_what_a_steps_container_body_says() {
        let mount = |target: &str, lent, read_only| SpecMount { target: target.into(), lent, read_only };
        let spec = ContainerSpec {
            name: "shell".into(),
            image: BuiltImage { tag: "hostbuild/x".into(), platform: "linux/arm/v7".into(), reused: true },
            argv: vec!["bash".into()],
            env: vec!["HOME=/tmp".into(), "NVIDIA_VISIBLE_DEVICES=void".into()],
            workdir: Some("/work/out".into()),
            user: User { uid: 1000, gid: 100 },
            mounts: vec![
                mount("/work/src", Lent::Source, true),
                mount("/work/out", Lent::Output, false),
                mount("/work/cache", Lent::Cache("hostbuild-cache-x".into()), false),
                mount("/work/data", Lent::Dir("/data".into()), true),
            ],
            network: false,
            gpus: Some(GpuRequest { count: Some(2), capabilities: vec!["compute".into()] }),
            limits: ContainerLimits { memory_bytes: 64 << 20, pids: 64 },
            labels: lifecycle::labels("run-1", "x"),
            timeout: None,
        };
        let (src, out) = (Path::new("/src"), Path::new("/out"));
        let (body, platform) = container_body(&spec, src, out);
        let args = docker_run_args(&spec, src, out);
        let has = |flag: &str, value: &str| args.windows(2).any(|w| w[0] == flag && w[1] == value);
        assert!(has("--platform", &platform) && has("--user", body.user.as_deref().unwrap()));
        let config = body.host_config.unwrap();
        for m in config.mounts.unwrap() {
            let ro = if m.read_only == Some(true) { ":ro" } else { "" };
            let v = format!("{}:{}{ro}", m.source.unwrap(), m.target.unwrap());
            assert!(has("-v", &v), "{v} not in {args:?}");
        }
        for e in body.env.unwrap() {
            assert!(has("-e", &e), "{e} not in {args:?}");
        }
        for (k, v) in body.labels.unwrap() {
            assert!(has("--label", &format!("{k}={v}")));
        }
        assert!(has("--network", config.network_mode.as_deref().unwrap()));
        assert!(has("--pids-limit", "64") && has("--memory", &(64u64 << 20).to_string()) && has("--gpus", "2"));
        assert!(has("-w", "/work/out") && args.contains(&"--init".to_string()));
    }
}
