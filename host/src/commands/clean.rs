//! `hostbuild clean`: remove containers left behind by hostbuild processes
//! that are gone (killed with SIGKILL, machine crash...).

use std::time::Duration;

use crate::capabilities::container::{engine, lifecycle, EngineError};
use crate::cli::CleanArgs;
use crate::diagnostics::ExitStatus;

pub async fn clean(args: CleanArgs) -> anyhow::Result<ExitStatus> {
    let (docker, _) = engine::connect(Duration::from_secs(10)).await.map_err(EngineError::from)?;
    let removed = lifecycle::reap_orphans(&docker).await;
    if args.json {
        println!("{}", serde_json::json!({ "removed_containers": removed }));
    } else {
        println!("removed {removed} container(s) whose hostbuild process is gone");
    }
    Ok(ExitStatus::Success)
}
