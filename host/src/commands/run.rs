//! `hostbuild run PLUGIN...`: the run pipeline (DESIGN.md, "Run pipeline").

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use futures::{StreamExt, TryStreamExt};

use super::{common, Usage};
use crate::artifact::characteristics;
use crate::artifact::layout::{Linkage, SetId};
use crate::artifact::publish::{publish, Publication};
use crate::capabilities::artifacts::open::open as open_store;
use crate::capabilities::artifacts::plugin_store::PluginStore;
use crate::capabilities::artifacts::store::ObjectStore;
use crate::capabilities::container::engine::{self, EngineInfo};
use crate::capabilities::container::images;
use crate::capabilities::container::{lifecycle, DockerBackend, EngineError, StepHost, User};
use crate::capabilities::host_info::HostInfo;
use crate::capabilities::log::{Console, Level, LogSink};
use crate::capabilities::workspace::Workspace;
use crate::cli::{LendArgs, RunArgs};
use crate::description::arch_name;
use crate::diagnostics::ExitStatus;
use crate::options::{check_unscoped, resolve as resolve_options, RawOption};
use crate::project::resolve::Resolved;
use crate::registry::publish::publish_images;
use crate::runtime::bindings::types::{Artifact, ArtifactRole, BuildContext, Capabilities, CpuArch, ImageRecipe};
use crate::runtime::CallError;

pub async fn run(args: RunArgs, cache: PathBuf, verbose: bool) -> anyhow::Result<ExitStatus> {
    let log: Arc<dyn LogSink> = Arc::new(Console::new(verbose, args.json));
    let limits = common::limits(&args.limits)?;
    let source = std::fs::canonicalize(&args.source).map_err(|e| Usage {
        message: format!("source directory {} cannot be opened: {e}", args.source.display()),
        hint: "pass the project to build with --source DIR".into(),
    })?;
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

    let store: Option<Arc<dyn ObjectStore>> = match args.publish {
        true => Some(open_store(&args.store).await?),
        false => None,
    };
    let commit = match args.publish {
        true => Some(characteristics::commit(args.git_sha.as_deref(), &source)?.value),
        false => characteristics::commit(args.git_sha.as_deref(), &source).ok().map(|f| f.value),
    };
    let engine = if opened.iter().any(|(o, _)| o.info.capabilities.container) {
        let (docker, info) = engine::connect(Duration::from_secs(10)).await.map_err(EngineError::from)?;
        let reaped = lifecycle::reap_orphans(&docker).await;
        if reaped > 0 {
            log.line("hostbuild", Level::Info, &format!("removed {reaped} container(s) left by runs that died"));
        }
        Some((docker, info))
    } else {
        None
    };
    let run = Arc::new(RunShared {
        id: run_id(),
        commit,
        store,
        force: args.force,
        source,
        out: args.out.clone(),
        options: args.options.clone(),
        explain: args.explain,
        no_gpu: args.no_gpu,
        lend: args.lend.clone(),
        ccache_size: args.ccache_size.clone(),
        engine: engine.clone(),
        log: log.clone(),
    });
    let pipeline = futures::stream::iter(opened.into_iter().map(|(o, r)| run_one(o, r, run.clone())))
        .buffer_unordered(args.jobs.max(1))
        .try_collect::<Vec<_>>();
    let outcome = tokio::select! {
        result = pipeline => Ok(result),
        signal = shutdown_signal() => Err(signal),
    };
    // The pipeline is dropped by now: no new container can be asked for.
    let removed = match &engine {
        Some((docker, _)) => lifecycle::remove_run(docker, &run.id, STOP_GRACE, outcome.is_err()).await,
        None => 0,
    };
    if let (Err(_), Some(store)) = (&outcome, &run.store) {
        store.abort_open_uploads().await;
    }
    let summaries = match outcome {
        Ok(result) => result?,
        Err(signal) => return Err(Interrupted { signal, removed }.into()),
    };
    print_summary(&summaries, args.json)?;
    Ok(ExitStatus::Success)
}

/// How long a step's container gets to stop after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What every plugin of one run shares.
struct RunShared {
    id: String,
    commit: Option<String>,
    /// Where `--publish` puts the sets.
    store: Option<Arc<dyn ObjectStore>>,
    force: bool,
    source: PathBuf,
    out: PathBuf,
    options: Vec<RawOption>,
    explain: bool,
    /// `--no-gpu`: build GPU platforms without GPU access.
    no_gpu: bool,
    /// `--mount` and `--write-source`, resolved per plugin.
    lend: LendArgs,
    ccache_size: String,
    engine: Option<(bollard::Docker, EngineInfo)>,
    log: Arc<dyn LogSink>,
}

/// One platform's pipeline: options, images, build, artifacts.
async fn run_one(mut o: common::Opened, resolved: Resolved, run: Arc<RunShared>) -> anyhow::Result<serde_json::Value> {
    let started = Instant::now();
    let name = o.info.name.clone();
    let log = &run.log;
    let options = resolve_options(&o.info, &resolved.options_with(&name, &run.options))?;
    // What the plugin may use: what it declared and the project granted.
    let caps = resolved.grants(&o.info).allow(&o.info.capabilities);
    let output = run.out.join(format!("build.{name}"));
    std::fs::create_dir_all(&output).with_context(|| format!("cannot create {}", output.display()))?;
    let output = std::fs::canonicalize(&output)?;
    hand_to_invoking_user(&output)?;
    {
        let lent = o.plugin.lent_mut();
        lent.allowed = Some(caps.clone());
        lent.host_info = HostInfo::from_env(run.commit.clone(), &caps.env_vars);
        lent.workspace =
            Workspace::open(&run.source, &output).with_context(|| format!("cannot open {}", output.display()))?;
        if let Some(store) = &run.store {
            lent.artifacts = Arc::new(PluginStore::new(store.clone(), &name, output.clone()));
        }
    }

    log.line("hostbuild", Level::Info, &format!("{name} {}: preparing images", o.info.version));
    let recipes = o.plugin.image(&options).await?;
    check_recipes(&name, &recipes, &caps)?;
    let mut built = HashMap::new();
    if let (true, Some((docker, info))) = (caps.container, &run.engine) {
        if resolved.locked.is_some() {
            for warning in resolved.check_base_images(&recipes, &images::base_image_ids(docker, &recipes).await)? {
                log.line("hostbuild", Level::Warn, &warning);
            }
        }
        let how = common::ImageBuild { explain: run.explain, gpu: !run.no_gpu, network: caps.image_network };
        let images = common::build_images(docker, info, &o.info, &recipes, log.as_ref(), how).await?;
        built = images.clone();
        let (dirs, source_writable) = common::lent_dirs(&resolved, &run.lend)?;
        let host = StepHost {
            run_id: run.id.clone(),
            plugin: name.clone(),
            images,
            source: run.source.clone(),
            output: output.clone(),
            cache_volume: format!("hostbuild-cache-{name}"),
            user: User::invoking(),
            network: caps.network_during_build,
            gpu: !run.no_gpu,
            source_writable,
            dirs,
            ccache_size: run.ccache_size.clone(),
        };
        o.plugin.lent_mut().container = Arc::new(DockerBackend::new(docker.clone(), host, log.clone()));
    }
    let ctx =
        BuildContext { run_id: run.id.clone(), options, images: recipes.iter().map(|r| r.name.clone()).collect() };
    log.line("hostbuild", Level::Info, &format!("{name}: building"));
    let report = o.plugin.build(&ctx).await?;
    let artifacts = o.plugin.detect_artifacts(&ctx).await?;
    let published = match (&run.store, &run.commit) {
        (Some(store), Some(commit)) => {
            let plugin = format!("{name}@{}", o.info.version);
            let sets = publish_sets(store.as_ref(), commit, &name, &plugin, &output, &artifacts, run.force).await?;
            for s in &sets {
                log.line("hostbuild", Level::Info, &format!("{name}: published {}/{s}", store.describe()));
            }
            sets
        }
        _ => Vec::new(),
    };
    let images = match (&run.engine, artifacts.iter().any(|a| a.role == ArtifactRole::Image)) {
        (Some((docker, _)), true) => {
            publish_images(docker, &built, &artifacts, run.store.is_some(), log.as_ref()).await?
        }
        _ => Vec::new(),
    };
    let mut artifacts = check_artifacts(&name, &output, artifacts)?;
    artifacts.extend(images);
    Ok(serde_json::json!({
        "published": published,
        "name": name,
        "version": o.info.version.to_string(),
        "output": output,
        "steps": report.steps,
        "tests": report.tests.map(|t| serde_json::json!({"passed": t.passed, "failed": t.failed, "skipped": t.skipped})),
        "notes": report.notes,
        "artifacts": artifacts,
        "duration_ms": started.elapsed().as_millis() as u64,
    }))
}

/// When root runs hostbuild for another user (sudo), steps run as that
/// user, so the output tree must be theirs too.
fn hand_to_invoking_user(output: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let user = User::invoking();
    let meta = std::fs::metadata(output)?;
    if (meta.uid(), meta.gid()) != (user.uid, user.gid) && User::current().uid == 0 {
        std::os::unix::fs::chown(output, Some(user.uid), Some(user.gid))
            .with_context(|| format!("cannot give {} to user {user}", output.display()))?;
    }
    Ok(())
}

/// The run was stopped by a signal; its containers were removed.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by {signal}; removed {removed} container(s) and aborted the open uploads of this run")]
pub struct Interrupted {
    pub signal: &'static str,
    pub removed: usize,
}

/// Waits for SIGINT or SIGTERM and names it.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    tokio::select! {
        _ = async { match int.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGINT",
        _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGTERM",
    }
}

/// Publishes a platform's artifacts: one set per (os, variant, linkage) of
/// its primary files, each with the licenses and dependencies.
async fn publish_sets(
    store: &dyn ObjectStore,
    commit: &str,
    platform: &str,
    plugin: &str,
    output: &Path,
    artifacts: &[Artifact],
    force: bool,
) -> anyhow::Result<Vec<String>> {
    let prop = |a: &Artifact, k: &str| a.properties.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let of_role = |role: ArtifactRole| -> Vec<PathBuf> {
        artifacts.iter().filter(|a| a.role == role).map(|a| output.join(&a.path)).collect()
    };
    let mut groups: std::collections::BTreeMap<(String, String, Linkage), Vec<PathBuf>> = Default::default();
    for a in artifacts.iter().filter(|a| matches!(a.role, ArtifactRole::Primary | ArtifactRole::Wheel)) {
        let os = characteristics::os(None, prop(a, "os").as_deref()).value;
        let variant = prop(a, "variant").unwrap_or_else(|| "cpu".into());
        let linkage = if prop(a, "linkage").as_deref() == Some("static") { Linkage::Static } else { Linkage::Dynamic };
        groups.entry((os, variant, linkage)).or_default().push(output.join(&a.path));
    }
    let mut published = Vec::new();
    for ((os, variant, linkage), primaries) in groups {
        let id = SetId { commit: commit.to_string(), os, variant, linkage };
        let p = Publication {
            id: id.clone(),
            primaries,
            licenses: of_role(ArtifactRole::License),
            dependencies: of_role(ArtifactRole::Dependency),
            platform: Some(platform.to_string()),
            plugin: Some(plugin.to_string()),
            force,
        };
        publish(store, &p).await?;
        published.push(id.dir());
    }
    Ok(published)
}

/// Refuses recipes a well-formed plugin cannot return, and recipes for an
/// architecture the plugin may not emulate (not declared, or not granted).
fn check_recipes(plugin: &str, recipes: &[ImageRecipe], allowed: &Capabilities) -> Result<(), CallError> {
    let malformed = |problem: String| CallError::Malformed { plugin: plugin.into(), call: "image", problem };
    if !recipes.is_empty() && !allowed.container {
        return Err(malformed(
            "it returned image recipes but may not use containers (not declared or not granted)".into(),
        ));
    }
    for (i, r) in recipes.iter().enumerate() {
        if r.name.is_empty() || recipes[..i].iter().any(|p| p.name == r.name) {
            return Err(malformed(format!("image recipe name `{}` is empty or repeated", r.name)));
        }
        let arch = emulated_arch(&r.platform);
        if let Some(arch) = arch.filter(|a| !allowed.emulation.contains(a)) {
            return Err(malformed(format!(
                "access denied: image `{}` is for {} but emulation of {} was not declared or not granted",
                r.name,
                r.platform,
                arch_name(arch)
            )));
        }
    }
    Ok(())
}

/// The architecture a recipe platform needs emulated on this (amd64) host.
fn emulated_arch(platform: &str) -> Option<CpuArch> {
    match platform {
        p if p.starts_with("linux/arm64") || p.starts_with("linux/aarch64") => Some(CpuArch::Arm64),
        p if p.starts_with("linux/arm") => Some(CpuArch::Arm),
        _ => None,
    }
}

/// Checks each artifact is a regular file inside the output tree and hashes it.
fn check_artifacts(plugin: &str, output: &Path, artifacts: Vec<Artifact>) -> Result<Vec<serde_json::Value>, CallError> {
    let malformed = |problem: String| CallError::Malformed { plugin: plugin.into(), call: "detect-artifacts", problem };
    let root = std::fs::canonicalize(output).map_err(|e| malformed(format!("output tree unreadable: {e}")))?;
    let mut out = Vec::new();
    // Images are not files: their path is a reference (see registry::publish).
    for a in artifacts.into_iter().filter(|a| a.role != ArtifactRole::Image) {
        let full = std::fs::canonicalize(root.join(&a.path))
            .map_err(|e| malformed(format!("artifact `{}` cannot be opened: {e}", a.path)))?;
        if !full.starts_with(&root) || Path::new(&a.path).is_absolute() {
            return Err(malformed(format!("artifact `{}` is outside the output tree", a.path)));
        }
        let bytes =
            std::fs::read(&full).map_err(|e| malformed(format!("artifact `{}` cannot be read: {e}", a.path)))?;
        out.push(serde_json::json!({
            "path": a.path,
            "role": role_name(a.role),
            "size": bytes.len(),
            "sha256": hex::encode(Sha256::digest(&bytes)),
            "properties": a.properties.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        }));
    }
    Ok(out)
}

fn role_name(role: ArtifactRole) -> &'static str {
    match role {
        ArtifactRole::Primary => "primary",
        ArtifactRole::License => "license",
        ArtifactRole::Dependency => "dependency",
        ArtifactRole::Wheel => "wheel",
        ArtifactRole::Image => "image",
        ArtifactRole::TestReport => "test-report",
    }
}

fn print_summary(summaries: &[serde_json::Value], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "platforms": summaries }))?);
        return Ok(());
    }
    for s in summaries {
        println!(
            "{} {}: done in {:.1}s",
            s["name"].as_str().unwrap_or("?"),
            s["version"].as_str().unwrap_or("?"),
            s["duration_ms"].as_u64().unwrap_or(0) as f64 / 1000.0
        );
        if let Some(t) = s["tests"].as_object() {
            println!("  tests: {} passed, {} failed, {} skipped", t["passed"], t["failed"], t["skipped"]);
        }
        for n in s["notes"].as_array().into_iter().flatten() {
            println!("  {}", n.as_str().unwrap_or_default());
        }
        let artifacts = s["artifacts"].as_array().cloned().unwrap_or_default();
        println!("  artifacts: {} in {}", artifacts.len(), s["output"].as_str().unwrap_or("?"));
        for a in &artifacts {
            if a["role"] == "image" {
                let digest = a["digest"].as_str().unwrap_or("not pushed (--publish pushes)");
                println!(
                    "    image       {}  {}  {digest}",
                    a["path"].as_str().unwrap_or("?"),
                    a["platform"].as_str().unwrap_or("?")
                );
                continue;
            }
            println!(
                "    {:<11} {}  {} bytes  sha256:{}",
                a["role"].as_str().unwrap_or("?"),
                a["path"].as_str().unwrap_or("?"),
                a["size"],
                &a["sha256"].as_str().unwrap_or("")[..12.min(a["sha256"].as_str().unwrap_or("").len())]
            );
        }
    }
    Ok(())
}

/// A unique id for this run: time and pid.
fn run_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{:x}-{:x}", now.as_millis(), std::process::id())
}
