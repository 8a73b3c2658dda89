//! `hostbuild clean`: remove containers left behind by hostbuild processes
//! that are gone (killed with SIGKILL, machine crash...).

use std::time::Duration;

use crate::capabilities::container::{engine, lifecycle, EngineError};
use crate::cli::CleanArgs;
use crate::diagnostics::ExitStatus;

pub async fn clean(args: CleanArgs) -> anyhow::Result<ExitStatus> {
    let (docker, _) = engine::connect(Duration::from_secs(10)).await.map_err(EngineError::from)?;
    // On a swarm manager, services of dead runs (their tasks go with them),
    // then the containers.
    let swept = crate::capabilities::container::swarm::reap_services(&docker).await;
    let reaped = lifecycle::reap_orphans(&docker).await;
    if args.json {
        let v = serde_json::json!({
            "removed_containers": reaped.removed,
            "removed_services": swept.removed_services,
            "left_alone": reaped.left_alone + swept.left_alone,
        });
        println!("{v}");
    } else {
        println!("removed {} container(s) whose hostbuild process is gone", reaped.removed);
        if swept.removed_services > 0 {
            println!("removed {} swarm service(s) whose hostbuild process is gone", swept.removed_services);
        }
        let left_alone = reaped.left_alone + swept.left_alone;
        if left_alone > 0 {
            println!(
                "left {left_alone} container(s) or service(s) alone: their owner runs in another pid namespace or \
                 on another machine sharing this engine (or was an older hostbuild), so it cannot be proven gone \
                 from here; remove them with `docker rm -f` (or `docker service rm`) if you know they are"
            );
        }
    }
    Ok(ExitStatus::Success)
}
