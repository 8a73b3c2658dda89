//! `hostbuild run PLUGIN...`: opens the plugins, connects what they need,
//! runs each platform's pipeline (`crate::pipeline`), `--jobs` at a time,
//! and removes the run's containers on SIGINT/SIGTERM. The summary goes to
//! stdout, and to the CI's step summary file when there is one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};

use super::output::{self, Summary};
use super::{common, Usage};
use crate::artifact::characteristics;
use crate::capabilities::container::swarm::{self, staging, Swarm, SwarmOptions};
use crate::capabilities::container::trust::Trust;
use crate::capabilities::log::{Level, LogSink};
use crate::cli::RunArgs;
use crate::console::Console;
use crate::diagnostics::ExitStatus;
use crate::docker::{engine, lifecycle, EngineError};
use crate::interrupt::{shutdown_signal, Interrupted};
use crate::options::check_unscoped;
use crate::pipeline::{run_platform, step_summary, PlatformSummary, RunSettings};
use crate::project::resolve::Resolved;
use crate::store::open::{open_with as open_store, OpenError, StoreSettings};
use crate::store::s3::S3Store;
use crate::store::ObjectStore;

pub async fn run(args: RunArgs, cache: PathBuf, verbose: bool) -> anyhow::Result<ExitStatus> {
    let log: Arc<dyn LogSink> = Arc::new(Console::with_progress(verbose, args.json, args.progress));
    let limits = common::limits(&args.limits)?;
    let source = std::fs::canonicalize(&args.source).map_err(|e| Usage {
        message: format!("source directory {} cannot be opened: {e}", args.source.display()),
        hint: "pass the project to build with --source DIR".into(),
    })?;
    let settings = common::engine_settings(&args.engine, args.step_timeout, Some(&args.swarm))?;
    let project = common::project_for(&args.plugins, args.locked)?;
    let mut opened: Vec<(common::Opened, Resolved)> = Vec::new();
    for arg in &args.plugins {
        let (o, resolved) = common::open_arg(arg, project.as_ref(), &cache, limits, log.clone(), args.locked).await?;
        if opened.iter().any(|(p, _)| p.info.name == o.info.name) {
            return Err(Usage {
                message: format!("plugin `{}` is given twice", o.info.name),
                hint: "each platform gets one output tree, build.<platform>/; pass it once".into(),
            }
            .into());
        }
        opened.push((o, resolved));
    }
    check_unscoped(&opened.iter().map(|(o, _)| &o.info).collect::<Vec<_>>(), &args.options)?;

    let store_settings = super::artifacts::store_settings(args.store.clone(), args.layout)?;
    let store: Option<Arc<dyn ObjectStore>> = match args.publish {
        true => Some(open_store(&store_settings).await?),
        false => None,
    };
    let commit = match args.publish {
        true => Some(characteristics::commit(args.git_sha.as_deref(), &source)?.value),
        false => characteristics::commit(args.git_sha.as_deref(), &source).ok().map(|f| f.value),
    };
    let id = lifecycle::new_run_id();
    let engine = if opened.iter().any(|(o, _)| o.info.capabilities.container) {
        let (docker, info) = engine::connect_default().await?;
        let reaped = lifecycle::reap_orphans(&docker).await.removed;
        if reaped > 0 {
            log.line("hostbuild", Level::Info, &format!("removed {reaped} container(s) left by runs that died"));
        }
        Some((docker, info))
    } else {
        None
    };
    let swarm = match (settings.swarm, &engine) {
        (Some(options), Some((docker, info))) => {
            let gpus = !args.no_gpu && opened.iter().any(|(o, _)| o.info.capabilities.gpu);
            let swarm = connect_swarm(docker, info, &id, options, &store_settings, &settings.trust, gpus, &log).await?;
            Some(swarm)
        }
        _ => None,
    };
    let run = Arc::new(RunSettings {
        id,
        commit,
        store,
        force: args.force,
        source,
        out: args.out.clone(),
        options: args.options.clone(),
        explain: args.explain,
        no_gpu: args.no_gpu,
        mounts: args.lend.mounts.clone(),
        write_source: args.lend.write_source,
        push_prefixes: args.allow_push.clone(),
        ccache_size: args.ccache_size.clone(),
        max_artifact_size: args.max_artifact_size.bytes(),
        limits,
        container_limits: settings.limits,
        step_timeout: settings.step_timeout,
        trust: settings.trust,
        engine: engine.clone(),
        swarm: swarm.clone(),
        log: log.clone(),
    });
    let pipeline = futures::stream::iter(opened.into_iter().map(|(o, r)| run_platform(o, r, run.clone())))
        .buffer_unordered(args.jobs.max(1))
        .try_collect::<Vec<_>>();
    let outcome = tokio::select! {
        result = pipeline => Ok(result),
        signal = shutdown_signal() => Err(signal),
    };
    // The pipeline is dropped by now: no new container can be asked for.
    let mut removed = match &swarm {
        Some(swarm) => swarm.remove_run(outcome.is_err()).await,
        None => 0,
    };
    removed += match &engine {
        Some((docker, _)) => lifecycle::remove_run(docker, &run.id, STOP_GRACE, outcome.is_err()).await,
        None => 0,
    };
    if let (Err(_), Some(store)) = (&outcome, &run.store) {
        store.abort_open_uploads().await;
    }
    log.finish();
    let summaries = match outcome {
        Ok(result) => result?,
        Err(signal) => return Err(Interrupted { signal, removed }.into()),
    };
    print_summary(&summaries, args.json)?;
    if let Some(file) = step_summary::file_from_env() {
        if let Err(e) = step_summary::append(&file, &summaries) {
            let problem = format!("cannot append the summary to {} ({}): {e}", file.display(), step_summary::ENV);
            log.line("hostbuild", Level::Warn, &problem);
        }
    }
    Ok(ExitStatus::Success)
}

/// The swarm of the engine, for this run: services of dead owners swept,
/// GPUs there when a platform needs them, and staging through an S3 store
/// (with hostbuild's helper image built) when platforms may leave the
/// manager.
#[allow(clippy::too_many_arguments)]
async fn connect_swarm(
    docker: &bollard::Docker,
    info: &engine::EngineInfo,
    run_id: &str,
    options: SwarmOptions,
    store: &StoreSettings,
    trust: &Trust,
    gpus: bool,
    log: &Arc<dyn LogSink>,
) -> anyhow::Result<Arc<Swarm>> {
    let mut swarm = Swarm::connect(docker.clone(), &info.endpoint, run_id, options.clone(), None).await?;
    let swept = swarm::reap_services(docker).await;
    if swept.removed_services > 0 {
        let message = format!("removed {} service(s) left by runs that died", swept.removed_services);
        log.line("hostbuild", Level::Info, &message);
    }
    if gpus && !swarm.has_gpus() {
        return Err(EngineError::NoGpuRuntime {
            plugin: "the swarm".into(),
            runtimes: format!(
                "no node advertises {} resources: {}",
                swarm::nodes::GPU_RESOURCE,
                swarm.describe_nodes()
            ),
        }
        .into());
    }
    let may_leave = options.always_stage || swarm.nodes.iter().filter(|n| n.ready).count() > 1;
    if let (true, Some(rest)) = (may_leave, store.url.strip_prefix("s3://")) {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let s3 = S3Store::connect(bucket, prefix, store.transfer, store.layout)
            .await
            .map_err(|source| OpenError::Connect { url: store.url.clone(), source })?;
        let helper = staging::helper_image(docker, trust, log.as_ref()).await?;
        swarm.set_staging(Arc::new(staging::Staging::new(Arc::new(s3), helper)));
    }
    Ok(Arc::new(swarm))
}

/// How long a step's container gets to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Every platform's summary (`run`).
#[derive(serde::Serialize)]
struct Ran<'a> {
    platforms: &'a [PlatformSummary],
}

impl Summary for Ran<'_> {
    fn print_text(&self) {
        self.platforms.iter().for_each(PlatformSummary::print_text);
    }
}

fn print_summary(platforms: &[PlatformSummary], json: bool) -> anyhow::Result<()> {
    output::print(&Ran { platforms }, json)
}
