//! `hostbuild shell PLUGIN`: an interactive shell in one of the platform's
//! images, with the source, output tree and cache volume mounted as the
//! steps see them (MXNet's `build.py -i`). The terminal is handed to the
//! docker CLI, which owns TTY handling; the container carries the run's
//! labels, so cleanup and reaping apply to it too.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::{common, Usage};
use crate::capabilities::container::{local, ContainerError, ContainerSpec, Mount, Step, StepHost, User, Volume};
use crate::capabilities::workspace::Workspace;
use crate::cli::ShellArgs;
use crate::console::Console;
use crate::diagnostics::ExitStatus;
use crate::docker::{engine, lifecycle, naming, EngineError};
use crate::options::{check_unscoped, resolve};
use crate::output_tree::{LentDir, OutputTree};

/// `CCACHE_MAXSIZE` in the shell: `run --ccache-size`'s default.
const DEFAULT_CCACHE_SIZE: &str = "10G";

pub async fn shell(args: ShellArgs, cache: PathBuf, verbose: bool) -> anyhow::Result<ExitStatus> {
    let log = Arc::new(Console::new(verbose, false));
    let project = common::project_for([&args.plugin], false)?;
    let limits = common::limits(&args.limits)?;
    let (mut o, resolved) =
        common::open_arg(&args.plugin, project.as_ref(), &cache, limits, log.clone(), false).await?;
    check_unscoped(&[&o.info], &args.options)?;
    let options = resolve(&o.info, &resolved.options_with(&o.info.name, &args.options))?;
    let (docker, info) = engine::connect_default().await?;
    lifecycle::reap_orphans(&docker).await;
    let source = std::fs::canonicalize(&args.source).context("cannot open the source directory")?;
    let tree = Arc::new(OutputTree::open(&args.out, &format!("build.{}", o.info.name))?);
    let output = tree.host_path().to_path_buf();
    let allowed = resolved.grants(&o.info).allow(&o.info.capabilities);
    {
        // As in `run`: recipes may read the source (e.g. dependency lists).
        let lent = o.plugin.lent_mut();
        lent.gate.allow(allowed.clone());
        let source = LentDir::open_ambient(&source).context("cannot open the source directory")?;
        lent.workspace = Workspace::new(source, tree.clone(), limits.memory_bytes as u64);
    }
    let recipes = o.plugin.image(&options).await?;
    let recipe = match &args.image {
        Some(name) => recipes.iter().find(|r| &r.name == name),
        None => recipes.first(),
    }
    .ok_or_else(|| Usage {
        message: format!("plugin `{}` has no image {}", o.info.name, args.image.as_deref().unwrap_or("at all")),
        hint: format!("its images: {}", recipes.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")),
    })?;
    let settings = common::engine_settings(&args.engine, None, None)?;
    let key = naming::plugin_key(&o.info.name, &resolved.identity(&o.loaded.sha256));
    let how = common::ImageBuild {
        explain: false,
        gpu: false,
        network: allowed.image_network,
        trust: &settings.trust,
        owner: &key,
    };
    let images = common::build_images(&docker, &info, &o.info, std::slice::from_ref(recipe), log.as_ref(), how).await?;
    let run_id = format!("shell-{}", std::process::id());
    let user = User::invoking();
    let (dirs, writable) = common::lent_dirs(&resolved, &args.lend.mounts, args.lend.write_source)?;
    // Made and handed to the user as `run` does (a sudo user's shell could
    // not write a volume docker made for root).
    let volume = naming::cache_volume(&key);
    let sink: Arc<dyn crate::capabilities::log::LogSink> = log.clone();
    local::prepare_volume(&docker, &o.info.name, &run_id, &volume, user, &settings.limits, &sink).await.map_err(
        |e| match e {
            ContainerError::Unavailable(_) => EngineError::MissingBaseImage { image: naming::HELPER_IMAGE.into() },
            ContainerError::Failed(m) | ContainerError::Denied(m) => EngineError::Api(m),
            ContainerError::UnknownImage(m) | ContainerError::InvalidStep(m) => EngineError::Api(m),
        },
    )?;
    // The container a step of this image would get (mounts, user, labels,
    // the sandbox, no NVIDIA devices), with the shell's command and the
    // network of `docker run`, from the same spec steps are made from.
    let mount = |volume, target: &str| Mount { volume, target: target.into() };
    let step = Step {
        name: "shell".into(),
        image: recipe.name.clone(),
        argv: if args.command.is_empty() { vec!["bash".to_string()] } else { args.command.clone() },
        env: vec![],
        workdir: Some("/work/out".into()),
        mounts: vec![
            mount(Volume::Source, "/work/src"),
            mount(Volume::Output, "/work/out"),
            mount(Volume::Cache, "/work/cache"),
        ],
        gpu: None,
    };
    let host = StepHost {
        run_id: run_id.clone(),
        plugin: o.info.name.clone(),
        images,
        source: source.clone(),
        output: output.clone(),
        cache_volume: volume,
        user,
        network: true,
        gpu: false,
        source_writable: writable,
        dirs,
        ccache_size: DEFAULT_CCACHE_SIZE.into(),
        proxies: Vec::new(),
        limits: settings.limits,
        step_timeout: None,
    };
    let spec = ContainerSpec::for_step(&step, &host).map_err(|e| EngineError::Api(e.message().into()))?;
    let mut cmd = std::process::Command::new("docker");
    cmd.args(["run", "--rm"]);
    cmd.arg(if std::io::IsTerminal::is_terminal(&std::io::stdin()) { "-it" } else { "-i" });
    cmd.args(local::docker_run_args(&spec, &source, &output)).arg(&spec.image.tag).args(&spec.argv);
    let image = &spec.image;
    let mode = if writable { "read-write" } else { "read-only" };
    log_line(&log, &format!("shell in {} (source: /work/src {mode}, output: /work/out)", image.tag));
    let status = cmd.status().context("cannot run the docker CLI")?;
    lifecycle::remove_run(&docker, &run_id, Duration::from_secs(1), false).await;
    Ok(match status.code() {
        Some(0) => ExitStatus::Success,
        _ => ExitStatus::StepFailed,
    })
}

fn log_line(log: &Console, message: &str) {
    use crate::capabilities::log::{Level, LogSink};
    log.line("hostbuild", Level::Info, message);
}
