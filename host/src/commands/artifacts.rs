//! `hostbuild artifacts push|pull|ls`: MXNet's `artifact_repository.py`,
//! on the local directory store or S3, in either layout.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context;

use super::output::{self, Summary};
use crate::artifact::characteristics::{self, NoCommit};
use crate::artifact::checked::{CheckError, CheckedArtifact, Role, UserFile};
use crate::artifact::layout::{Layout, Linkage, SetId};
use crate::artifact::publish::{publish_user_files, Publication};
use crate::artifact::pull::{pull, sets, PulledFile, SetState};
use crate::capabilities::log::LogSink;
use crate::cli::{ArtifactsArgs, ArtifactsCommand, LinkageArgs, SetArgs};
use crate::console::{transfer, Console, Progress};
use crate::diagnostics::ExitStatus;
use crate::project::config::Located;
use crate::store::open::{open_with, StoreSettings};

/// The set the flags name, each characteristic found as documented.
fn set_id(set: SetArgs, l: &LinkageArgs) -> Result<SetId, NoCommit> {
    Ok(SetId {
        commit: characteristics::commit(set.git_sha.as_deref(), &set.source)?.value,
        os: characteristics::os(set.os.as_deref(), None).value,
        variant: set.variant.unwrap_or_else(|| "cpu".into()),
        linkage: if l.r#static { Linkage::Static } else { Linkage::Dynamic },
    })
}

/// The repository the command line names (`--store`, `--layout` or their
/// environment variables), else `[store]` of ./hostbuild.toml, else the
/// defaults. `run --publish` uses it too.
pub(super) fn store_settings(url: Option<String>, layout: Option<Layout>) -> anyhow::Result<StoreSettings> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let project = Located::read(&cwd)?;
    Ok(StoreSettings::resolve(url, layout, project.as_ref().and_then(|p| p.project.store.as_ref()))?)
}

pub async fn artifacts(args: ArtifactsArgs) -> anyhow::Result<ExitStatus> {
    let settings = store_settings(args.store, args.layout)?;
    let store = open_with(&settings).await?;
    // Transfers show their bytes, rate and time left on a terminal.
    let log = Console::with_progress(false, args.json, Progress::Auto);
    match args.command {
        ArtifactsCommand::Push { set, linkage: l, files, licenses, dependencies, force } => {
            let id = set_id(set, &l)?;
            // Opened (regular files) now, hashed while their bytes move.
            let open = |paths: Vec<PathBuf>, role| -> Result<Vec<UserFile>, CheckError> {
                paths.iter().map(|p| CheckedArtifact::open_user_file(p, role)).collect()
            };
            let (primaries, licenses, dependencies) =
                (open(files, Role::Primary)?, open(licenses, Role::License)?, open(dependencies, Role::Dependency)?);
            let p = Publication {
                id,
                primaries: primaries.iter().collect(),
                licenses: licenses.iter().collect(),
                dependencies: dependencies.iter().collect(),
                platform: None,
                plugin: None,
                force,
            };
            // On SIGINT/SIGTERM: let the upload stop at its next part and
            // abort itself (a few seconds at most), abort anything left, exit.
            let total = [&primaries, &licenses, &dependencies].into_iter().flatten().map(UserFile::size).sum();
            let publishing = publish_user_files(store.as_ref(), &p);
            let publishing =
                transfer::reporting(publishing, &log, "artifacts", "upload", Some(total), || store.uploaded());
            tokio::pin!(publishing);
            let manifest = tokio::select! {
                m = &mut publishing => m?,
                signal = crate::commands::shutdown_signal() => {
                    store.cancel();
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), &mut publishing).await;
                    store.abort_open_uploads().await;
                    return Err(crate::commands::Interrupted { signal, removed: 0 }.into());
                }
            };
            log.finish();
            if args.json {
                println!("{}", serde_json::to_string_pretty(&manifest)?);
            } else {
                let dir = p.id.dir(settings.layout);
                println!("published {} file(s) to {}/{dir}", manifest.files.len(), store.describe());
            }
        }
        ArtifactsCommand::Pull { set, linkage: l, dest, allow_unverified } => {
            let id = set_id(set, &l)?;
            // On SIGINT/SIGTERM the pull is dropped, and its temporary
            // directory with it: nothing is left behind.
            let pulling = pull(store.as_ref(), &id, &dest, allow_unverified);
            let pulling = transfer::reporting(pulling, &log, "artifacts", "download", None, || store.downloaded());
            let pulled = tokio::select! {
                p = pulling => p?,
                signal = crate::commands::shutdown_signal() => {
                    return Err(crate::commands::Interrupted { signal, removed: 0 }.into());
                }
            };
            log.finish();
            match (&pulled.manifest, args.json) {
                (Some(manifest), true) => println!("{}", serde_json::to_string_pretty(manifest)?),
                (Some(manifest), false) => println!(
                    "pulled {} file(s) of {} into {} (every sha256 verified)",
                    manifest.files.len(),
                    pulled.dir,
                    dest.display()
                ),
                (None, json) => {
                    eprintln!(
                        "warning: NOTHING WAS VERIFIED: {}/{} has no manifest.json (another tool, such as MXNet CD's \
                         artifact_repository.py, pushed it); its {} file(s) were checked only against the sizes the \
                         store listed, and may not be what was built",
                        store.describe(),
                        pulled.dir,
                        pulled.files.len()
                    );
                    let unverified =
                        PulledUnverified { dir: &pulled.dir, verified: false, files: &pulled.files, dest: &dest };
                    output::print(&unverified, json)?;
                }
            }
        }
        ArtifactsCommand::Ls { git_sha, source } => {
            let commit = git_sha.or_else(|| characteristics::commit(None, &source).ok().map(|f| f.value));
            let found = sets(store.as_ref(), commit.as_deref()).await?;
            let of = |state| -> BTreeSet<&str> {
                found.iter().filter(|s| s.state == state).map(|s| s.dir.as_str()).collect()
            };
            let (verified, unverified) = (of(SetState::Verified), of(SetState::Unverified));
            let listed = Sets { store: store.describe(), layout: settings.layout, sets: verified, unverified };
            output::print(&listed, args.json)?;
        }
    }
    Ok(ExitStatus::Success)
}

/// A set pulled without a manifest (`artifacts pull --allow-unverified`).
#[derive(serde::Serialize)]
struct PulledUnverified<'a> {
    dir: &'a str,
    verified: bool,
    files: &'a [PulledFile],
    #[serde(skip)]
    dest: &'a std::path::Path,
}

impl Summary for PulledUnverified<'_> {
    fn print_text(&self) {
        println!(
            "pulled {} file(s) of {} into {} UNVERIFIED (no manifest; sizes checked against the listing only)",
            self.files.len(),
            self.dir,
            self.dest.display()
        );
    }
}

/// The sets of a commit (`artifacts ls`).
#[derive(serde::Serialize)]
struct Sets<'a> {
    store: String,
    layout: Layout,
    sets: BTreeSet<&'a str>,
    unverified: BTreeSet<&'a str>,
}

impl Summary for Sets<'_> {
    fn print_text(&self) {
        if self.sets.is_empty() && self.unverified.is_empty() {
            println!("no complete sets in {} ({} layout)", self.store, self.layout);
        }
        for s in &self.sets {
            println!("{s}");
        }
        for s in &self.unverified {
            println!("{s}  unverified (no manifest.json)");
        }
    }
}
