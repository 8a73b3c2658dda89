//! `hostbuild doctor`: each prerequisite, ok or missing, with its fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::output::{self, Summary};
use crate::arch::binfmt_enabled;
use crate::cli::DoctorArgs;
use crate::diagnostics::ExitStatus;
use crate::docker::{engine, naming};
use crate::runtime::{private_dir, CacheError};

#[derive(Serialize)]
struct Check {
    name: String,
    ok: bool,
    /// A missing optional item does not fail `doctor`.
    required: bool,
    detail: String,
    fix: Option<String>,
}

const PREREQS: &str = "run `bash scripts/prereqs.sh` as root (installs and starts everything below)";

pub async fn doctor(args: DoctorArgs, cache: Option<PathBuf>) -> anyhow::Result<ExitStatus> {
    let mut checks = Vec::new();
    let engine = engine::connect(Duration::from_secs(5)).await;
    checks.push(match &engine {
        Ok((_, info)) => Check {
            name: "docker engine".into(),
            ok: true,
            required: true,
            detail: format!("Docker {} at {} (API {})", info.version, info.endpoint, info.api_version),
            fix: None,
        },
        Err(e) => Check {
            name: "docker engine".into(),
            ok: false,
            required: true,
            detail: e.to_string(),
            fix: Some(format!("start dockerd (Debian: apt-get install docker.io), or set DOCKER_HOST; {PREREQS}")),
        },
    });
    if let Ok((docker, _)) = &engine {
        // The image hostbuild runs its own containers in (the cache volume's
        // preparation): never a plugin's.
        let present = docker.inspect_image(naming::HELPER_IMAGE).await.is_ok();
        checks.push(Check {
            name: "hostbuild image".into(),
            ok: present,
            required: true,
            detail: if present {
                format!("{} is there (hostbuild prepares cache volumes in it)", naming::HELPER_IMAGE)
            } else {
                format!("{} is missing: hostbuild prepares cache volumes in it", naming::HELPER_IMAGE)
            },
            fix: (!present).then(|| format!("cargo xtask images (makes the offline base images); {PREREQS}")),
        });
    }
    for (handler, arch) in crate::arch::all().iter().filter_map(|a| Some((a.binfmt?, a.short))) {
        let enabled = binfmt_enabled(handler);
        checks.push(Check {
            name: format!("qemu {arch} emulation"),
            ok: enabled,
            required: true,
            detail: if enabled {
                format!("binfmt_misc handler {handler} is enabled")
            } else {
                format!(
                    "no enabled binfmt_misc handler {handler}: {arch} containers would fail with `exec format error`"
                )
            },
            fix: (!enabled).then(|| {
                format!(
                    "apt-get install qemu-user-static binfmt-support && update-binfmts --enable {handler}; {PREREQS}"
                )
            }),
        });
    }
    if args.engine == Some(crate::cli::EngineKind::Swarm) {
        checks.extend(swarm_checks(engine.as_ref().ok().map(|(d, _)| d)).await);
    }
    let nvidia = engine.as_ref().is_ok_and(|(_, i)| i.runtimes.iter().any(|r| r == "nvidia"));
    checks.push(Check {
        name: "nvidia runtime".into(),
        ok: nvidia,
        required: false,
        detail: if nvidia {
            "the engine has the `nvidia` runtime".into()
        } else {
            "no `nvidia` runtime in the engine: GPU platforms cannot run here (others can)".into()
        },
        fix: (!nvidia).then(|| "on a GPU machine, install nvidia-container-toolkit and restart dockerd".into()),
    });
    let wasm_target = wasm_target_installed();
    checks.push(Check {
        name: "wasm32-wasip2 target".into(),
        ok: wasm_target,
        required: false,
        detail: if wasm_target {
            "installed: plugins can be built here".into()
        } else {
            "not installed: only needed to build plugins from source".into()
        },
        fix: (!wasm_target).then(|| "rustup target add wasm32-wasip2".into()),
    });
    let private = match &cache {
        Some(dir) => private_dir(&dir.join("components"), true)
            .and_then(|()| writable(dir).map_err(|source| CacheError::Unwritable { dir: dir.clone(), source })),
        None => Err(CacheError::NoDirectory),
    };
    checks.push(Check {
        name: "cache directory".into(),
        ok: private.is_ok(),
        required: true,
        detail: match (&private, &cache) {
            (Ok(()), Some(dir)) => format!("{} is private (mode 0700, yours) and writable", dir.display()),
            (Err(e), _) => e.to_string(),
            (Ok(()), None) => String::new(),
        },
        fix: private.is_err().then(|| {
            "set HOSTBUILD_CACHE_DIR (or --cache-dir) to a directory of yours that only you can write (chmod 700)"
                .into()
        }),
    });

    let healthy = checks.iter().all(|c| c.ok || !c.required);
    output::print(&Health { healthy, checks }, args.json)?;
    Ok(if healthy { ExitStatus::Success } else { ExitStatus::Unavailable })
}

/// Every check, and whether all required ones passed.
#[derive(Serialize)]
struct Health {
    healthy: bool,
    checks: Vec<Check>,
}

impl Summary for Health {
    fn print_text(&self) {
        for c in &self.checks {
            let mark = if c.ok {
                "ok     "
            } else if c.required {
                "MISSING"
            } else {
                "absent "
            };
            println!("{mark} {:<22} {}", c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("        {:<22} fix: {fix}", "");
            }
        }
    }
}

/// The swarm behind the engine: a manager, its nodes, their architectures
/// and GPUs.
async fn swarm_checks(docker: Option<&bollard::Docker>) -> Vec<Check> {
    use crate::capabilities::container::swarm::nodes::{NodeInfo, GPU_RESOURCE};
    let Some(docker) = docker else { return Vec::new() };
    let info = docker.info().await.ok().and_then(|i| i.swarm).unwrap_or_default();
    let manager = info.control_available == Some(true);
    let mut checks = vec![Check {
        name: "swarm manager".into(),
        ok: manager,
        required: true,
        detail: if manager {
            format!("this engine manages a swarm of {} node(s)", info.nodes.unwrap_or(0))
        } else {
            format!(
                "this engine is not a swarm manager ({})",
                info.local_node_state.map(|s| s.to_string()).unwrap_or_default()
            )
        },
        fix: (!manager).then(|| "`docker swarm init` here (and `docker swarm join` on the other hosts)".into()),
    }];
    if manager {
        let nodes: Vec<NodeInfo> = docker
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await
            .unwrap_or_default()
            .iter()
            .map(NodeInfo::from_node)
            .collect();
        let mut archs: Vec<&str> = nodes.iter().map(|n| n.arch.as_str()).collect();
        archs.sort();
        archs.dedup();
        let ready = nodes.iter().filter(|n| n.ready).count();
        checks.push(Check {
            name: "swarm nodes".into(),
            ok: ready > 0,
            required: true,
            detail: format!(
                "{ready} of {} ready; architectures {}: {}",
                nodes.len(),
                archs.join(", "),
                nodes.iter().map(NodeInfo::describe).collect::<Vec<_>>().join("; ")
            ),
            fix: (ready == 0).then(|| "check `docker node ls`".into()),
        });
        let gpus: i64 = nodes.iter().filter(|n| n.ready).map(|n| n.gpus).sum();
        checks.push(Check {
            name: "swarm GPUs".into(),
            ok: gpus > 0,
            required: false,
            detail: format!("{gpus} {GPU_RESOURCE} generic resource(s) on ready nodes"),
            fix: (gpus == 0).then(|| {
                format!(
                    "on GPU nodes: dockerd --node-generic-resource {GPU_RESOURCE}=<uuid> and \
                     `docker node update --label-add hostbuild.gpu=true NODE`"
                )
            }),
        });
    }
    checks
}

fn wasm_target_installed() -> bool {
    std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == "wasm32-wasip2"))
}

fn writable(dir: &Path) -> std::io::Result<()> {
    tempfile::NamedTempFile::new_in(dir).map(drop)
}
