//! `hostbuild artifacts push|pull|ls`: MXNet's `artifact_repository.py`,
//! on the local directory store or S3.

use std::path::PathBuf;

use crate::artifact::characteristics::{self, NoCommit};
use crate::artifact::checked::{CheckError, CheckedArtifact, Role};
use crate::artifact::layout::{Linkage, SetId};
use crate::artifact::publish::{publish, Publication};
use crate::artifact::pull::{available, pull};
use crate::capabilities::artifacts::open::open;
use crate::cli::{ArtifactsArgs, ArtifactsCommand, LinkageArgs, SetArgs};
use crate::diagnostics::ExitStatus;
use std::collections::BTreeSet;

/// The set the flags name, each characteristic found as documented.
fn set_id(set: SetArgs, l: &LinkageArgs) -> Result<SetId, NoCommit> {
    Ok(SetId {
        commit: characteristics::commit(set.git_sha.as_deref(), &set.source)?.value,
        os: characteristics::os(set.os.as_deref(), None).value,
        variant: set.variant.unwrap_or_else(|| "cpu".into()),
        linkage: if l.r#static { Linkage::Static } else { Linkage::Dynamic },
    })
}

pub async fn artifacts(args: ArtifactsArgs) -> anyhow::Result<ExitStatus> {
    let store = open(&args.store).await?;
    match args.command {
        ArtifactsCommand::Push { set, linkage: l, files, licenses, dependencies, force } => {
            let id = set_id(set, &l)?;
            let checked = tokio::task::spawn_blocking(move || -> Result<_, CheckError> {
                let check = |paths: Vec<PathBuf>, role| -> Result<Vec<CheckedArtifact>, CheckError> {
                    paths.iter().map(|p| CheckedArtifact::user_file(p, role, crate::interrupt::flag())).collect()
                };
                Ok((
                    check(files, Role::Primary)?,
                    check(licenses, Role::License)?,
                    check(dependencies, Role::Dependency)?,
                ))
            })
            .await??;
            let (primaries, licenses, dependencies) = checked;
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
            let publishing = publish(store.as_ref(), &p);
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
            if args.json {
                println!("{}", serde_json::to_string_pretty(&manifest)?);
            } else {
                println!("published {} file(s) to {}/{}", manifest.files.len(), store.describe(), p.id.dir());
            }
        }
        ArtifactsCommand::Pull { set, linkage: l, dest } => {
            let id = set_id(set, &l)?;
            let manifest = pull(store.as_ref(), &id, &dest).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&manifest)?);
            } else {
                println!(
                    "pulled {} file(s) of {} into {} (every sha256 verified)",
                    manifest.files.len(),
                    id.dir(),
                    dest.display()
                );
            }
        }
        ArtifactsCommand::Ls { git_sha, source } => {
            let commits: BTreeSet<String> = match git_sha
                .or_else(|| characteristics::commit(None, &source).ok().map(|f| f.value))
            {
                Some(c) => BTreeSet::from([c]),
                None => store.list("").await?.iter().filter_map(|k| k.split('/').next().map(str::to_string)).collect(),
            };
            let mut sets = Vec::new();
            for c in commits {
                for s in available(store.as_ref(), &c).await? {
                    sets.push(format!("{c}/{s}"));
                }
            }
            if args.json {
                println!("{}", serde_json::json!({ "store": store.describe(), "sets": sets }));
            } else if sets.is_empty() {
                println!("no complete sets in {}", store.describe());
            } else {
                for s in sets {
                    println!("{s}");
                }
            }
        }
    }
    Ok(ExitStatus::Success)
}
