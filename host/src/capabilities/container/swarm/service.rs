//! One step as one Swarm service: `replicated`, one replica, restart
//! `none`, carrying the run's labels, pinned to the platform's node; its
//! output streamed from the service's logs while its task is watched; its
//! outcome the task's exit code and the last lines; removed when it ends.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{
    GenericResourcesInner, GenericResourcesInnerDiscreteResourceSpec, Limit, Mount, MountType, MountVolumeOptions,
    MountVolumeOptionsDriverConfig, NetworkAttachmentConfig, ResourceObject, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec, TaskSpecPlacement, TaskSpecResources,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::{ListTasksOptionsBuilder, LogsOptionsBuilder};
use bollard::Docker;
use futures::StreamExt;

use super::nodes::{GPU_LABEL, GPU_RESOURCE};
use crate::capabilities::container::output::StepOutput;
use crate::capabilities::container::spec::{ContainerSpec, Lent};
use crate::capabilities::container::{ContainerError, StepOutcome};
use crate::capabilities::container::{StepError, StepStopped};
use crate::capabilities::log::{Level, LogSink};
use crate::docker::{lifecycle, naming};
use crate::units::Span;

/// Where a spec's logical mounts come from on the node.
pub enum Sources {
    /// This machine's paths (the node is the manager hostbuild talks to).
    Bind { source: std::path::PathBuf, output: std::path::PathBuf },
    /// Volumes on the node, filled and emptied by staging.
    Staged { source: String, output: String },
}

/// What a service is made of besides the spec.
pub struct Placement<'a> {
    pub name: String,
    /// The image by digest, as the nodes pull it.
    pub image: String,
    pub node: &'a str,
    pub sources: &'a Sources,
    /// The run's internal network, for steps without network.
    pub internal_network: Option<&'a str>,
    /// Capabilities kept besides none (helpers only).
    pub keep_caps: &'a [&'a str],
}

/// The service of a step.
pub fn service_spec(spec: &ContainerSpec, at: &Placement<'_>) -> ServiceSpec {
    let mounts = spec
        .mounts
        .iter()
        .map(|m| {
            let (typ, from) = match (&m.lent, at.sources) {
                (Lent::Source, Sources::Bind { source, .. }) => (MountType::BIND, source.display().to_string()),
                (Lent::Output, Sources::Bind { output, .. }) => (MountType::BIND, output.display().to_string()),
                (Lent::Source, Sources::Staged { source, .. }) => (MountType::VOLUME, source.clone()),
                (Lent::Output, Sources::Staged { output, .. }) => (MountType::VOLUME, output.clone()),
                (Lent::Cache(volume) | Lent::Volume(volume), _) => (MountType::VOLUME, volume.clone()),
                (Lent::Dir(dir), _) => (MountType::BIND, dir.display().to_string()),
            };
            // A cache volume a node creates for this mount carries the
            // label a local one gets, so `hostbuild cache` finds it there.
            let volume_options = match &m.lent {
                Lent::Cache(_) => {
                    let platform = spec.labels.get(lifecycle::LABEL_PLUGIN).cloned().unwrap_or_default();
                    // With a driver named, the node's executor creates the
                    // volume (labels included) before the container; without
                    // one the labels were seen missing.
                    Some(MountVolumeOptions {
                        labels: Some(HashMap::from([(naming::LABEL_CACHE.to_string(), platform)])),
                        driver_config: Some(MountVolumeOptionsDriverConfig {
                            name: Some("local".into()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                }
                _ => None,
            };
            Mount {
                target: Some(m.target.clone()),
                source: Some(from),
                typ: Some(typ),
                read_only: Some(m.read_only),
                volume_options,
                ..Default::default()
            }
        })
        .collect();
    let mut constraints = vec![format!("node.id=={}", at.node)];
    let reservations = spec.gpus.as_ref().map(|g| {
        constraints.push(format!("node.labels.{GPU_LABEL}==true"));
        ResourceObject {
            generic_resources: Some(vec![GenericResourcesInner {
                discrete_resource_spec: Some(GenericResourcesInnerDiscreteResourceSpec {
                    kind: Some(GPU_RESOURCE.into()),
                    value: Some(i64::from(g.count.unwrap_or(1))),
                }),
                ..Default::default()
            }]),
            ..Default::default()
        }
    });
    let memory = i64::try_from(spec.limits.memory_bytes).unwrap_or(i64::MAX);
    let container = TaskSpecContainerSpec {
        image: Some(at.image.clone()),
        labels: Some(spec.labels.clone()),
        args: Some(spec.argv.clone()),
        env: Some(spec.env.clone()),
        dir: spec.workdir.clone(),
        user: Some(spec.user.to_string()),
        mounts: Some(mounts),
        init: Some(true),
        capability_drop: Some(vec!["ALL".into()]),
        capability_add: (!at.keep_caps.is_empty()).then(|| at.keep_caps.iter().map(|c| c.to_string()).collect()),
        ..Default::default()
    };
    let task = TaskSpec {
        container_spec: Some(container),
        resources: Some(TaskSpecResources {
            limits: Some(Limit { memory_bytes: Some(memory), pids: Some(spec.limits.pids), ..Default::default() }),
            reservations,
            ..Default::default()
        }),
        restart_policy: Some(TaskSpecRestartPolicy {
            condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
            ..Default::default()
        }),
        placement: Some(TaskSpecPlacement { constraints: Some(constraints), ..Default::default() }),
        networks: at
            .internal_network
            .map(|n| vec![NetworkAttachmentConfig { target: Some(n.into()), ..Default::default() }]),
        ..Default::default()
    };
    ServiceSpec {
        name: Some(at.name.clone()),
        labels: Some(spec.labels.clone()),
        task_template: Some(task),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// How long a step may stay pending (no node can take it) before it fails.
pub struct Waits {
    pub pending: Duration,
}

/// Creates the service, streams its logs until its task ends, removes it;
/// one over the spec's timeout is removed at once: `StepError::Stopped`.
pub async fn run(
    docker: &Docker,
    log: &dyn LogSink,
    plugin: &str,
    spec: &ContainerSpec,
    service: ServiceSpec,
    waits: &Waits,
) -> Result<StepOutcome, StepError> {
    let started = Instant::now();
    let name = spec.name.clone();
    let failed = |what: &str, e: bollard::errors::Error| ContainerError::Failed(format!("step `{name}`: {what}: {e}"));
    let created = docker.create_service(service, None).await.map_err(|e| failed("create service", e))?;
    let id = created.id.unwrap_or_default();
    let mut output = StepOutput::new(log, plugin, &spec.name);
    let followed = follow(docker, &id, &mut output, waits);
    let (result, stopped) = match spec.timeout {
        Some(limit) => match tokio::time::timeout(limit, followed).await {
            Ok(result) => (result, None),
            Err(_) => (Ok(-1), Some(StepStopped { step: spec.name.clone(), limit })),
        },
        None => (followed.await, None),
    };
    let _ = docker.delete_service(&id).await;
    if let Some(stopped) = stopped {
        log.line(plugin, Level::Error, &format!("hostbuild: {stopped}; it was removed"));
        return Err(StepError::Stopped(stopped));
    }
    let exit_code = result?;
    Ok(StepOutcome { exit_code, tail: output.tail.into_lines(), duration_ms: started.elapsed().as_millis() as u64 })
}

/// The task of a service: its state, exit code and message.
async fn task_of(docker: &Docker, service: &str) -> Option<(TaskState, Option<i64>, String, String)> {
    let filters = HashMap::from([("service".to_string(), vec![service.to_string()])]);
    let options = ListTasksOptionsBuilder::default().filters(&filters).build();
    let tasks = docker.list_tasks(Some(options)).await.ok()?;
    let task = tasks.into_iter().max_by_key(|t| t.created_at.clone().map(|d| d.to_string()))?;
    let status = task.status?;
    let exit = status.container_status.and_then(|c| c.exit_code);
    Some((status.state?, exit, status.message.unwrap_or_default(), status.err.unwrap_or_default()))
}

fn ended(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::COMPLETE
            | TaskState::FAILED
            | TaskState::REJECTED
            | TaskState::SHUTDOWN
            | TaskState::ORPHANED
            | TaskState::REMOVE
    )
}

/// Streams the service's logs while its task runs; returns the exit code.
async fn follow(
    docker: &Docker,
    service: &str,
    output: &mut StepOutput<'_>,
    waits: &Waits,
) -> Result<i32, ContainerError> {
    let since_pending = Instant::now();
    // Wait for the task to start (or end, or stay unplaceable).
    loop {
        match task_of(docker, service).await {
            Some((state, ..)) if matches!(state, TaskState::RUNNING) || ended(state) => break,
            Some((TaskState::PENDING, _, message, err)) if since_pending.elapsed() > waits.pending => {
                return Err(ContainerError::Unavailable(format!(
                    "no node of the swarm can run step `{}` (pending for {}): {} {}",
                    output_name(output),
                    Span(waits.pending),
                    message,
                    err
                )));
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let options = LogsOptionsBuilder::default().follow(true).stdout(true).stderr(true).build();
    let mut logs = docker.service_logs(service, Some(options));
    let mut poll = tokio::time::interval(Duration::from_millis(200));
    let end = loop {
        tokio::select! {
            chunk = logs.next() => match chunk {
                Some(Ok(bollard::container::LogOutput::StdErr { message })) => output.push(true, &message),
                Some(Ok(other)) => output.push(false, &other.into_bytes()),
                Some(Err(_)) | None => {
                    // The stream ended: the task may have too.
                    match task_of(docker, service).await {
                        Some(t) if ended(t.0) => break t,
                        _ => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
            },
            _ = poll.tick() => {
                if let Some(t) = task_of(docker, service).await.filter(|t| ended(t.0)) {
                    // Drain what the log stream still holds.
                    while let Ok(Some(Ok(chunk))) = tokio::time::timeout(Duration::from_millis(300), logs.next()).await {
                        match chunk {
                            bollard::container::LogOutput::StdErr { message } => output.push(true, &message),
                            other => output.push(false, &other.into_bytes()),
                        }
                    }
                    break t;
                }
            }
        }
    };
    output.finish();
    match end {
        (TaskState::COMPLETE, code, ..) => Ok(code.unwrap_or(0) as i32),
        (TaskState::FAILED, Some(code), ..) => Ok(code as i32),
        (state, _, message, err) => Err(ContainerError::Failed(format!(
            "step `{}`: its task ended {state}: {message} {err}",
            output_name(output)
        ))),
    }
}

fn output_name(output: &StepOutput<'_>) -> String {
    output.step().to_string()
}
