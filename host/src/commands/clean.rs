//! `hostbuild clean`: remove containers left behind by hostbuild processes
//! that are gone (killed with SIGKILL, machine crash...).

use std::time::Duration;

use crate::capabilities::container::{engine, lifecycle, EngineError};
use crate::cli::CleanArgs;
use crate::diagnostics::ExitStatus;

pub async fn clean(args: CleanArgs) -> anyhow::Result<ExitStatus> {
    let (docker, _) = engine::connect(Duration::from_secs(10)).await.map_err(EngineError::from)?;
    let reaped = lifecycle::reap_orphans(&docker).await;
    if args.json {
        println!("{}", serde_json::json!({ "removed_containers": reaped.removed, "left_alone": reaped.left_alone }));
    } else {
        println!("removed {} container(s) whose hostbuild process is gone", reaped.removed);
        if reaped.left_alone > 0 {
            println!(
                "left {} container(s) alone: their owner runs in another pid namespace or on another machine \
                 sharing this engine (or was an older hostbuild), so it cannot be proven gone from here; \
                 remove them with `docker rm -f` if you know they are",
                reaped.left_alone
            );
        }
    }
    Ok(ExitStatus::Success)
}
