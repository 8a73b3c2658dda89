//! One platform's run (DESIGN.md, "Run pipeline"), in the order that makes
//! the sandbox hold:
//!
//! 1. options, and what the plugin may use (declared ∩ granted);
//! 2. its output tree (`OUT/build.<platform>`: a real directory, never a
//!    shipped symlink), lent through [`OutputTree`] only;
//! 3. `image()`: recipes checked, images built (no network unless granted);
//! 4. `build()`: steps in containers; afterwards the output tree is scanned
//!    and anything the user must not be handed (setuid, device nodes, FIFOs,
//!    other owners) stops the run;
//! 5. `detect-artifacts()`: every file becomes a [`CheckedArtifact`] (a
//!    regular file inside the tree, opened without following links, hashed
//!    as it streams) and every image a [`CheckedImage`] (built by this
//!    plugin, under an allowed prefix, `publish` granted) — or the run stops;
//! 6. only then: sets published, images tagged and pushed.
//!
//! Publishing takes only checked types, so no path a plugin returned
//! reaches a store or a registry unchecked.

mod artifacts;
mod recipes;
mod sets;
pub mod step_summary;
pub mod summary;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::capabilities::artifacts::plugin_store::PluginStore;
use crate::capabilities::container::hardening::ContainerLimits;
use crate::capabilities::container::swarm::{Swarm, SwarmEngine};
use crate::capabilities::container::trust::Trust;
use crate::capabilities::container::{DirMount, LocalEngine, StepEngine, StepHost, StepRunner, User};
use crate::capabilities::host_info::HostInfo;
use crate::capabilities::log::{Level, LogSink};
use crate::capabilities::workspace::Workspace;
use crate::commands::common::{self, ImageBuild, Opened};
use crate::console::transfer;
use crate::docker::engine::EngineInfo;
use crate::docker::naming;
use crate::model::BuildContext;
use crate::options::{resolve as resolve_options, RawOption};
use crate::output_tree::{LentDir, OutputTree, OutputTreeError, Unsafe};
use crate::project::resolve::Resolved;
use crate::registry::checked::{check_images, ImageRefused, ImageRules};
use crate::registry::publish::publish_images;
use crate::runtime::Limits;
use crate::store::ObjectStore;

pub use artifacts::ArtifactRefused;
pub use summary::PlatformSummary;

/// What every platform of one run shares.
pub struct RunSettings {
    pub id: String,
    pub commit: Option<String>,
    /// Where `--publish` puts the sets.
    pub store: Option<Arc<dyn ObjectStore>>,
    pub force: bool,
    pub source: PathBuf,
    pub out: PathBuf,
    pub options: Vec<RawOption>,
    pub explain: bool,
    /// `--no-gpu`: build GPU platforms without GPU access.
    pub no_gpu: bool,
    /// `--mount` and `--write-source`, as given.
    pub mounts: Vec<String>,
    pub write_source: bool,
    /// `--allow-push`: prefixes image artifacts may be tagged under, besides
    /// a project's `push` grant.
    pub push_prefixes: Vec<String>,
    pub ccache_size: String,
    /// Largest artifact file checked, published or fetched.
    pub max_artifact_size: u64,
    pub limits: Limits,
    /// Memory and process limits of every container.
    pub container_limits: ContainerLimits,
    /// Longest a step may run.
    pub step_timeout: Option<std::time::Duration>,
    /// The CA bundle and proxies lent to image builds and networked steps.
    pub trust: Trust,
    pub engine: Option<(bollard::Docker, EngineInfo)>,
    /// Set when steps run on a swarm (`--engine swarm`).
    pub swarm: Option<Arc<Swarm>>,
    pub log: Arc<dyn LogSink>,
}

/// The output tree holds files the user must not be handed.
#[derive(Debug, thiserror::Error)]
#[error(
    "plugin `{plugin}` left {} unsafe file(s) in {}: {}{}",
    .files.len(),
    .tree.display(),
    .files.iter().take(10).map(|u| u.to_string()).collect::<Vec<_>>().join(", "),
    .build_error.as_ref().map(|e| format!(" (its build also failed: {e})")).unwrap_or_default()
)]
pub struct UnsafeOutput {
    pub plugin: String,
    pub tree: PathBuf,
    pub files: Vec<Unsafe>,
    /// The build's own failure, when it failed too.
    pub build_error: Option<String>,
}

/// Runs one platform: options, images, build, checks, publishing.
pub async fn run_platform(mut o: Opened, resolved: Resolved, run: Arc<RunSettings>) -> anyhow::Result<PlatformSummary> {
    let started = Instant::now();
    let name = o.info.name.clone();
    let log = &run.log;
    let options = resolve_options(&o.info, &resolved.options_with(&name, &run.options))?;
    // What the plugin may use: what it declared and the project granted.
    let grants = resolved.grants(&o.info);
    let caps = grants.allow(&o.info.capabilities);
    let key = naming::plugin_key(&name, &resolved.identity(&o.loaded.sha256));

    let tree = Arc::new(open_tree(&run.out, &name).await?);
    let user = User::invoking();
    if User::current().uid == 0 && user.uid != 0 {
        // Steps run as the user who invoked sudo: the tree must be theirs.
        tree.give_to(user.uid, user.gid)
            .map_err(|source| OutputTreeError::Io { path: tree.host_path().to_path_buf(), source })?;
    }
    {
        let source = LentDir::open_ambient(&run.source)
            .map_err(|source| OutputTreeError::Io { path: run.source.clone(), source })?;
        let lent = o.plugin.lent_mut();
        lent.gate.allow(caps.clone());
        lent.host_info = HostInfo::from_env(run.commit.clone(), &caps.env_vars);
        lent.workspace = Workspace::new(source, tree.clone(), run.limits.memory_bytes as u64);
        if let Some(store) = &run.store {
            lent.artifacts = Arc::new(PluginStore::new(store.clone(), &key, tree.clone(), run.max_artifact_size));
        }
    }

    log.line("hostbuild", Level::Info, &format!("{name} {}: preparing images", o.info.version));
    let recipes = o.plugin.image(&options).await?;
    recipes::check(&name, &recipes, &caps)?;
    let mut built = HashMap::new();
    let mut step_engine: Option<Arc<dyn StepEngine>> = None;
    if let (true, Some((docker, info))) = (caps.container, &run.engine) {
        if resolved.locked.is_some() {
            let ids = crate::docker::images::base_image_ids(docker, &recipes).await;
            for warning in resolved.check_base_images(&recipes, &ids)? {
                log.line("hostbuild", Level::Warn, &warning);
            }
        }
        let how = ImageBuild {
            explain: run.explain,
            // On a swarm, GPUs are on nodes, checked when the run starts.
            gpu: !run.no_gpu && run.swarm.is_none(),
            network: caps.image_network,
            trust: &run.trust,
            owner: &key,
        };
        built = common::build_images(docker, info, &o.info, &recipes, log.as_ref(), how).await?;
        let (dirs, source_writable): (Vec<DirMount>, bool) =
            common::lent_dirs(&resolved, &run.mounts, run.write_source)?;
        let host = StepHost {
            run_id: run.id.clone(),
            plugin: name.clone(),
            images: built.clone(),
            source: run.source.clone(),
            output: tree.host_path().to_path_buf(),
            cache_volume: naming::cache_volume(&key),
            user,
            network: caps.network_during_build,
            gpu: !run.no_gpu,
            source_writable,
            dirs,
            ccache_size: run.ccache_size.clone(),
            proxies: run.trust.proxies().to_vec(),
            limits: run.container_limits,
            step_timeout: run.step_timeout,
        };
        let engine: Arc<dyn StepEngine> = match &run.swarm {
            Some(swarm) => {
                let images: Vec<_> = built.values().cloned().collect();
                let node = swarm.place(&name, &images, caps.gpu && !run.no_gpu)?;
                // Every recipe image is in the registry before the first step.
                let mut pinned = Vec::new();
                for image in &images {
                    pinned.push(swarm.push(image, log.as_ref()).await?);
                }
                log.line(&name, Level::Info, &format!("images for the nodes: {}", pinned.join(", ")));
                let on = SwarmEngine::new(swarm.clone(), &name, node, run.source.clone(), tree.clone(), log.clone());
                Arc::new(on.await?)
            }
            None => Arc::new(LocalEngine::new(
                docker.clone(),
                &name,
                &run.id,
                run.source.clone(),
                tree.host_path().to_path_buf(),
                log.clone(),
            )),
        };
        step_engine = Some(engine.clone());
        o.plugin.lent_mut().container = Arc::new(StepRunner::new(engine, host, log.clone()));
    }
    let ctx =
        BuildContext { run_id: run.id.clone(), options, images: recipes.iter().map(|r| r.name.clone()).collect() };
    log.line("hostbuild", Level::Info, &format!("{name}: building"));
    let report = o.plugin.build(&ctx).await;
    if let Some(engine) = &step_engine {
        // What the engine held for the platform (staged volumes) goes.
        if let Err(e) = engine.finish().await {
            log.line("hostbuild", Level::Warn, &format!("{name}: cleaning up after the steps: {}", e.message()));
        }
    }
    // Whatever the build's outcome, the user is never handed unsafe files
    // without being told.
    let scan_tree = tree.clone();
    let unsafe_files = tokio::task::spawn_blocking(move || scan_tree.scan(user.uid)).await??;
    if !unsafe_files.is_empty() {
        let build_error = report.as_ref().err().map(|e| e.to_string());
        let tree = tree.host_path().to_path_buf();
        return Err(UnsafeOutput { plugin: name, tree, files: unsafe_files, build_error }.into());
    }
    let report = report?;

    let detected = o.plugin.detect_artifacts(&ctx).await?;
    let files = artifacts::check(&name, tree.clone(), &detected, run.max_artifact_size).await?;
    let images = match &run.engine {
        Some((docker, _)) => {
            let mut prefixes = grants.push.clone();
            prefixes.extend(run.push_prefixes.iter().cloned());
            let rules = ImageRules {
                publish: caps.publish,
                prefixes: &prefixes,
                plugin: &name,
                base_images: recipes.iter().map(|r| r.base_image.clone()).collect(),
            };
            check_images(docker, &name, &built, &detected, &rules).await?
        }
        None if detected.iter().any(|a| a.role == crate::model::ArtifactRole::Image) => {
            return Err(ImageRefused::NoPublish { plugin: name, reference: "(no engine)".into() }.into())
        }
        None => Vec::new(),
    };

    let published = match (&run.store, &run.commit) {
        (Some(store), Some(commit)) => {
            let plugin = format!("{name}@{}", o.info.version);
            // The upload's bytes, rate and ETA on the live display.
            let total: u64 = files.iter().map(|f| f.size).sum();
            let publishing = sets::publish(store.as_ref(), commit, &name, &plugin, &files, run.force);
            let sets = transfer::reporting(publishing, log.as_ref(), &name, "upload", Some(total), || store.uploaded())
                .await?;
            for s in &sets {
                log.line("hostbuild", Level::Info, &format!("{name}: published {}/{s}", store.describe()));
            }
            sets
        }
        _ => Vec::new(),
    };
    let images = match (&run.engine, images.is_empty()) {
        (Some((docker, _)), false) => publish_images(docker, &images, run.store.is_some(), log.as_ref()).await?,
        _ => Vec::new(),
    };
    Ok(PlatformSummary::new(
        &name,
        &o.info.version.to_string(),
        tree.host_path(),
        report,
        &files,
        images,
        published,
        started.elapsed(),
    ))
}

/// Opens (creating) `out/build.<platform>` off the async threads.
async fn open_tree(out: &std::path::Path, platform: &str) -> Result<OutputTree, OutputTreeError> {
    let (out, name) = (out.to_path_buf(), format!("build.{platform}"));
    let path = out.join(&name);
    tokio::task::spawn_blocking(move || OutputTree::open(&out, &name))
        .await
        .map_err(|e| OutputTreeError::Io { path, source: std::io::Error::other(e.to_string()) })?
}

impl crate::diagnostics::Diagnose for UnsafeOutput {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        let hint = format!(
            "nothing was published; inspect and remove them ({}), and {}",
            self.files.iter().take(3).map(|u| u.path.as_str()).collect::<Vec<_>>().join(", "),
            crate::diagnostics::UNTRUSTED
        );
        (ExitStatus::Refused, Some(hint))
    }
}
