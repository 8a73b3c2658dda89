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

use super::output::{self, Summary};

/// What `clean` did and left alone.
#[derive(serde::Serialize)]
struct Cleaned {
    removed_containers: usize,
    removed_services: usize,
    left_alone: usize,
    /// Counts by reason (`other-pid-namespace`, `other-boot`, ...).
    left_alone_because: BTreeMap<&'static str, usize>,
    #[serde(skip)]
    reasons: Vec<(usize, &'static str)>,
}

impl Summary for Cleaned {
    const ONE_LINE: bool = true;

    fn print_text(&self) {
        println!("removed {} container(s) whose hostbuild process is gone", self.removed_containers);
        if self.removed_services > 0 {
            println!("removed {} swarm service(s) whose hostbuild process is gone", self.removed_services);
        }
        if self.left_alone > 0 {
            println!(
                "left {} container(s) or service(s) alone: their hostbuild process cannot be proven gone from here",
                self.left_alone
            );
            for (n, why) in &self.reasons {
                println!("  {n} {why}");
            }
            println!(
                "  a hostbuild that can see their owner (same machine, boot and pid namespace) removes them; remove \
                 them yourself (`docker rm -f`, `docker service rm`) only if you know they are not in use \
                 (`docker ps --filter label={}`)",
                lifecycle::LABEL_OWNER_PID
            );
        }
    }
}

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
    let summary = Cleaned {
        removed_containers: reaped.removed,
        removed_services: swept.removed_services,
        left_alone: left_alone.values().sum(),
        left_alone_because: left_alone.iter().map(|(why, n)| (why.key(), *n)).collect(),
        reasons: left_alone.iter().map(|(why, n)| (*n, why.describe())).collect(),
    };
    output::print(&summary, args.json)?;
    Ok(ExitStatus::Success)
}
