//! `hostbuild lock` and `hostbuild plugins add|update|verify|list|publish`:
//! a project's plugins, pinned in hostbuild.lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use super::output::{self, Summary};
use super::{common, Usage};
use crate::capabilities::log::{Level, LogSink};
use crate::cli::{LockArgs, PluginsArgs, PluginsCommand};
use crate::console::Console;
use crate::diagnostics::ExitStatus;
use crate::docker::EngineError;
use crate::docker::{engine, images};
use crate::options::resolve;
use crate::project::config::{self, Located, PluginEntry, PROJECT_FILE};
use crate::project::grants::{Grant, Grants, NotAGrant};
use crate::project::lock::{LockedPlugin, Lockfile, LOCK_FILE};
use crate::project::resolve::fetch;
use crate::project::{oci, ProjectError};
use crate::runtime::Limits;

/// What locking needs besides the plugin: the cache and, lazily, the engine.
struct Locker {
    cache: PathBuf,
    log: Arc<dyn LogSink>,
    docker: Option<bollard::Docker>,
}

impl Locker {
    /// Fetches, loads and describes one plugin, checks it against its entry,
    /// and records what it is: bytes, version, WIT version, base images.
    async fn lock(&mut self, name: &str, entry: &PluginEntry, project_dir: &Path) -> anyhow::Result<LockedPlugin> {
        let fetched = fetch(name, entry, project_dir, &self.cache, None).await?;
        let mut o = common::open(&fetched.path, &self.cache, Limits::default(), self.log.clone()).await?;
        entry.check(name, &o.info)?;
        let mut base_images = BTreeMap::new();
        if o.info.capabilities.container {
            let options = resolve(&o.info, &entry.raw_options(name))?;
            o.plugin.lent_mut().gate.allow(o.info.capabilities.clone());
            let recipes = o.plugin.image(&options).await?;
            base_images = images::base_image_ids(&self.docker().await?, &recipes).await;
        }
        Ok(LockedPlugin {
            name: name.into(),
            version: o.info.version.to_string(),
            source: entry.source.clone(),
            sha256: fetched.sha256,
            wit: o.loaded.wit_version.to_string(),
            base_images,
        })
    }

    async fn docker(&mut self) -> Result<bollard::Docker, EngineError> {
        if self.docker.is_none() {
            let (docker, _) = engine::connect_default().await?;
            self.docker = Some(docker);
        }
        Ok(self.docker.clone().expect("set above"))
    }
}

fn project_here() -> anyhow::Result<Located> {
    let dir = std::env::current_dir().context("cannot read the current directory")?;
    Located::read(&dir)?.ok_or_else(|| {
        Usage {
            message: format!("there is no {PROJECT_FILE} in {}", dir.display()),
            hint: "create one with `hostbuild plugins add NAME SOURCE --grant-declared`; \
                   `hostbuild list` shows the plugins you can run without one"
                .into(),
        }
        .into()
    })
}

/// `hostbuild lock`: every plugin of the project, locked afresh.
pub async fn lock(args: LockArgs, cache: PathBuf, verbose: bool) -> anyhow::Result<ExitStatus> {
    let log: Arc<dyn LogSink> = Arc::new(Console::new(verbose, args.json));
    let project = project_here()?;
    let mut locker = Locker { cache, log: log.clone(), docker: None };
    let mut lock = Lockfile::new();
    for (name, entry) in &project.project.plugins {
        let locked = locker.lock(name, entry, &project.dir).await?;
        log.line(
            "hostbuild",
            Level::Info,
            &format!("locked {name} {} sha256:{}", locked.version, &locked.sha256[..12]),
        );
        lock.put(locked);
    }
    lock.write(&project.dir)?;
    print_lock(&lock, args.json)?;
    Ok(ExitStatus::Success)
}

fn print_lock(lock: &Lockfile, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(lock)?);
    } else {
        println!("wrote {LOCK_FILE}: {} plugin(s)", lock.plugins.len());
    }
    Ok(())
}

pub async fn plugins(args: PluginsArgs, cache: PathBuf, verbose: bool) -> anyhow::Result<ExitStatus> {
    let log: Arc<dyn LogSink> = Arc::new(Console::new(verbose, args.json));
    let mut locker = Locker { cache, log: log.clone(), docker: None };
    match args.command {
        PluginsCommand::Add { name, source, version_req, grants, grant_declared } => {
            add(&mut locker, &name, &source, version_req, &grants, grant_declared, args.json).await
        }
        PluginsCommand::Update { names } => {
            let project = project_here()?;
            let mut lock = Lockfile::read(&project.dir)?.unwrap_or_else(Lockfile::new);
            let names = if names.is_empty() { project.project.plugins.keys().cloned().collect() } else { names };
            for name in &names {
                let before = lock.get(name).map(|p| format!("{} sha256:{}", p.version, &p.sha256[..12]));
                let locked = locker.lock(name, project.entry(name)?, &project.dir).await?;
                let after = format!("{} sha256:{}", locked.version, &locked.sha256[..12]);
                let change = match before {
                    Some(b) if b == after => format!("{name}: unchanged ({after})"),
                    Some(b) => format!("{name}: {b} -> {after}"),
                    None => format!("{name}: locked {after}"),
                };
                log.line("hostbuild", Level::Info, &change);
                lock.put(locked);
            }
            lock.write(&project.dir)?;
            print_lock(&lock, args.json)?;
            Ok(ExitStatus::Success)
        }
        PluginsCommand::Verify => verify(&mut locker, args.json).await,
        PluginsCommand::List => list(args.json),
        PluginsCommand::Publish { file, target } => publish(&locker, &file, &target, args.json).await,
    }
}

async fn add(
    locker: &mut Locker,
    name: &str,
    source: &str,
    version: Option<String>,
    grant_words: &[String],
    grant_declared: bool,
    json: bool,
) -> anyhow::Result<ExitStatus> {
    if !config::is_name(name) {
        return Err(Usage {
            message: format!("`{name}` is not a plugin name"),
            hint: "use the plugin's own name (lower-case letters, digits and `-`), as `hostbuild inspect` shows it"
                .into(),
        }
        .into());
    }
    let dir = std::env::current_dir().context("cannot read the current directory")?;
    let existing = Located::read(&dir)?;
    if existing.as_ref().is_some_and(|p| p.project.plugins.contains_key(name)) {
        return Err(Usage {
            message: format!("plugin `{name}` is already in {PROJECT_FILE}"),
            hint: format!("edit its entry, then `hostbuild plugins update {name}`"),
        }
        .into());
    }
    let mut entry = PluginEntry {
        source: source.into(),
        version,
        grants: parse_grants(grant_words)?,
        options: BTreeMap::new(),
        mounts: BTreeMap::new(),
    };
    if grant_declared {
        let fetched = fetch(name, &entry, &dir, &locker.cache, None).await?;
        let o = common::open(&fetched.path, &locker.cache, Limits::default(), locker.log.clone()).await?;
        entry.grants = Grants::all_of(&o.info.capabilities);
    }
    let locked = locker.lock(name, &entry, &dir).await?;
    let text = config::entry_text(name, source, entry.version.as_deref(), &entry.grants);
    let file = dir.join(PROJECT_FILE);
    let mut contents = std::fs::read_to_string(&file).unwrap_or_default();
    contents.push_str(&text);
    std::fs::write(&file, contents).map_err(|source| ProjectError::Io { file: file.clone(), source })?;
    let mut lock = Lockfile::read(&dir)?.unwrap_or_else(Lockfile::new);
    lock.put(locked);
    lock.write(&dir)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&lock.get(name))?);
    } else {
        println!("added {name} to {PROJECT_FILE} and {LOCK_FILE} (grants: {})", entry.grants.words().join(", "));
    }
    Ok(ExitStatus::Success)
}

/// Grant words (`container`, `emulation:arm`, ...: [`Grant`]) as grants.
fn parse_grants(words: &[String]) -> Result<Grants, Usage> {
    let mut grants = Grants::default();
    for word in words {
        let grant: Grant =
            word.parse().map_err(|e: NotAGrant| Usage { message: e.to_string(), hint: NotAGrant::hint() })?;
        grants.give(grant);
    }
    Ok(grants)
}

/// Checks every locked plugin against its source and the engine.
/// One plugin's `plugins verify` result (`--json`).
#[derive(serde::Serialize)]
struct Verified<'a> {
    name: &'a str,
    ok: bool,
    problem: Option<String>,
}

async fn verify(locker: &mut Locker, json: bool) -> anyhow::Result<ExitStatus> {
    let project = project_here()?;
    let lock = Lockfile::read(&project.dir)?.unwrap_or_else(Lockfile::new);
    let mut results = Vec::new();
    let mut first_problem: Option<anyhow::Error> = None;
    for (name, entry) in &project.project.plugins {
        let outcome = match lock.get(name) {
            None => Err(ProjectError::NotLocked { name: name.clone() }.into()),
            Some(pin) if pin.source != entry.source => Err(ProjectError::LockMismatch {
                name: name.clone(),
                what: "the source".into(),
                expected: pin.source.clone(),
                actual: entry.source.clone(),
            }
            .into()),
            Some(pin) => verify_one(locker, name, entry, &project.dir, pin).await,
        };
        let problem = outcome.as_ref().err().map(|e| format!("{e:#}"));
        match &problem {
            None => locker.log.line("hostbuild", Level::Info, &format!("{name}: matches {LOCK_FILE}")),
            Some(p) => locker.log.line("hostbuild", Level::Error, p),
        }
        results.push(Verified { name, ok: problem.is_none(), problem });
        if let (Err(e), None) = (outcome, &first_problem) {
            first_problem = Some(e);
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    match first_problem {
        Some(e) => Err(e),
        None => Ok(ExitStatus::Success),
    }
}

/// Fetches the source afresh: different bytes are reported before anything
/// else is looked at; then the version and base images are compared.
async fn verify_one(
    locker: &mut Locker,
    name: &str,
    entry: &PluginEntry,
    dir: &Path,
    pin: &LockedPlugin,
) -> anyhow::Result<()> {
    let fetched = fetch(name, entry, dir, &locker.cache, None).await?;
    if fetched.sha256 != pin.sha256 {
        return Err(ProjectError::LockMismatch {
            name: name.into(),
            what: "the component (sha256)".into(),
            expected: pin.sha256.clone(),
            actual: fetched.sha256,
        }
        .into());
    }
    let now = locker.lock(name, entry, dir).await?;
    Ok(compare(pin, &now)?)
}

/// The first difference between a pin and what the source holds now.
fn compare(pin: &LockedPlugin, now: &LockedPlugin) -> Result<(), ProjectError> {
    let mismatch = |what: &str, expected: &str, actual: &str| ProjectError::LockMismatch {
        name: pin.name.clone(),
        what: what.into(),
        expected: expected.into(),
        actual: actual.into(),
    };
    if pin.sha256 != now.sha256 {
        return Err(mismatch("the component (sha256)", &pin.sha256, &now.sha256));
    }
    if pin.version != now.version {
        return Err(mismatch("the version", &pin.version, &now.version));
    }
    for (image, id) in &now.base_images {
        let expected = pin.base_images.get(image).map(String::as_str).unwrap_or("not locked");
        if expected != id {
            return Err(mismatch(&format!("base image {image}"), expected, id));
        }
    }
    Ok(())
}

/// One plugin of the project, and its pin (`plugins list`).
#[derive(serde::Serialize)]
struct Listed<'a> {
    name: &'a str,
    version: Option<&'a str>,
    requirement: Option<&'a str>,
    wit: Option<&'a str>,
    source: &'a str,
    sha256: Option<&'a str>,
    grants: Vec<String>,
    locked: bool,
}

#[derive(serde::Serialize)]
#[serde(transparent)]
struct ListedAll<'a>(Vec<Listed<'a>>);

impl Summary for ListedAll<'_> {
    fn print_text(&self) {
        println!("{:<16} {:<9} {:<6} {:<14} {:<44} source", "name", "version", "wit", "sha256", "grants");
        for r in &self.0 {
            let sha = r.sha256.map_or("(not locked)".to_string(), |s| s.chars().take(12).collect());
            let grants = if r.grants.is_empty() { "none".to_string() } else { r.grants.join(",") };
            println!(
                "{:<16} {:<9} {:<6} {:<14} {:<44} {}",
                r.name,
                r.version.unwrap_or("-"),
                r.wit.unwrap_or("-"),
                sha,
                grants,
                r.source
            );
        }
    }
}

fn list(json: bool) -> anyhow::Result<ExitStatus> {
    let project = project_here()?;
    let lock = Lockfile::read(&project.dir)?.unwrap_or_else(Lockfile::new);
    let rows = project
        .project
        .plugins
        .iter()
        .map(|(name, entry)| {
            let pin = lock.get(name);
            Listed {
                name,
                version: pin.map(|p| p.version.as_str()),
                requirement: entry.version.as_deref(),
                wit: pin.map(|p| p.wit.as_str()),
                source: &entry.source,
                sha256: pin.map(|p| p.sha256.as_str()),
                grants: entry.grants.words(),
                locked: pin.is_some(),
            }
        })
        .collect();
    output::print(&ListedAll(rows), json)?;
    Ok(ExitStatus::Success)
}

async fn publish(locker: &Locker, file: &Path, target: &str, json: bool) -> anyhow::Result<ExitStatus> {
    let Some(reference) = target.strip_prefix("oci://") else {
        return Err(Usage {
            message: format!("`{target}` is not an OCI reference"),
            hint: "publish to oci://registry/repository:tag".into(),
        }
        .into());
    };
    let o = common::open(file, &locker.cache, Limits::default(), locker.log.clone()).await?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let annotations = BTreeMap::from([
        ("org.opencontainers.image.title".to_string(), o.info.name.clone()),
        ("org.opencontainers.image.version".to_string(), o.info.version.to_string()),
        ("org.opencontainers.image.description".to_string(), o.info.summary.clone()),
        ("dev.hostbuild.wit".to_string(), o.loaded.wit_version.to_string()),
    ]);
    let url = oci::push(reference, bytes, annotations).await.map_err(|source| ProjectError::Fetch {
        name: o.info.name.clone(),
        source_text: target.into(),
        source,
    })?;
    let published = Published {
        reference: target,
        manifest: url,
        name: &o.info.name,
        version: o.info.version.to_string(),
        sha256: &o.loaded.sha256,
    };
    output::print(&published, json)?;
    Ok(ExitStatus::Success)
}

/// A plugin pushed to an OCI registry (`plugins publish`).
#[derive(serde::Serialize)]
struct Published<'a> {
    reference: &'a str,
    manifest: String,
    name: &'a str,
    version: String,
    sha256: &'a str,
}

impl Summary for Published<'_> {
    fn print_text(&self) {
        println!("published {} {} (sha256:{}) to {}", self.name, self.version, self.sha256, self.reference);
    }
}
