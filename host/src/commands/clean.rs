//! `hostbuild clean`: remove containers (and, on a swarm manager, services)
//! left behind by hostbuild processes that are provably gone (killed with
//! SIGKILL, crashed), and say how many it left alone because their owner
//! cannot be proven gone from here, and why.

use std::collections::BTreeMap;

use crate::capabilities::container::swarm;
use crate::cli::CleanArgs;
use crate::diagnostics::ExitStatus;
use crate::docker::engine;
use crate::docker::lifecycle::{self, Unproven};

pub async fn clean(args: CleanArgs) -> anyhow::Result<ExitStatus> {
    let (docker, _) = engine::connect_default().await?;
    // On a swarm manager, services of dead runs (their tasks go with them),
    // then the containers.
    let swept = swarm::reap_services(&docker).await;
    let reaped = lifecycle::reap_orphans(&docker).await;
    let mut left_alone: BTreeMap<Unproven, usize> = reaped.left_alone.clone();
    for (why, n) in &swept.left_alone {
        *left_alone.entry(*why).or_default() += n;
    }
    let total: usize = left_alone.values().sum();
    if args.json {
        let why: serde_json::Map<String, serde_json::Value> =
            left_alone.iter().map(|(why, n)| (why.key().to_string(), (*n).into())).collect();
        let v = serde_json::json!({
            "removed_containers": reaped.removed,
            "removed_services": swept.removed_services,
            "left_alone": total,
            "left_alone_because": why,
        });
        println!("{v}");
        return Ok(ExitStatus::Success);
    }
    println!("removed {} container(s) whose hostbuild process is gone", reaped.removed);
    if swept.removed_services > 0 {
        println!("removed {} swarm service(s) whose hostbuild process is gone", swept.removed_services);
    }
    if total > 0 {
        println!(
            "left {total} container(s) or service(s) alone: their hostbuild process cannot be proven gone from here"
        );
        for (why, n) in &left_alone {
            println!("  {n} {}", why.describe());
        }
        println!(
            "  a hostbuild that can see their owner (same machine, boot and pid namespace) removes them; remove \
             them yourself (`docker rm -f`, `docker service rm`) only if you know they are not in use \
             (`docker ps --filter label={}`)",
            lifecycle::LABEL_OWNER_PID
        );
    }
    Ok(ExitStatus::Success)
}
