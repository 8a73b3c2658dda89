//! Who owns a container: every container hostbuild creates carries labels
//! naming the run, the owner process (pid and start time, so a reused pid is
//! not mistaken for the owner) and the plugin. A run removes its own
//! containers when it ends or is interrupted; any start reaps containers
//! whose owner process is gone.

use std::collections::HashMap;
use std::time::Duration;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;

pub const LABEL_RUN: &str = "hostbuild.run-id";
pub const LABEL_OWNER_PID: &str = "hostbuild.owner-pid";
pub const LABEL_OWNER_START: &str = "hostbuild.owner-start";
pub const LABEL_PLUGIN: &str = "hostbuild.plugin";

/// The labels of a container created for `plugin` in this process's run.
pub fn labels(run_id: &str, plugin: &str) -> HashMap<String, String> {
    let pid = std::process::id();
    HashMap::from([
        (LABEL_RUN.to_string(), run_id.to_string()),
        (LABEL_OWNER_PID.to_string(), pid.to_string()),
        (LABEL_OWNER_START.to_string(), process_start(pid).unwrap_or_default()),
        (LABEL_PLUGIN.to_string(), plugin.to_string()),
    ])
}

/// The start time of a process (field 22 of /proc/PID/stat), if it exists.
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields resume after ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// Whether the process that created a container is still running.
fn owner_alive(labels: &HashMap<String, String>) -> bool {
    let Some(pid) = labels.get(LABEL_OWNER_PID).and_then(|p| p.parse::<u32>().ok()) else {
        return false;
    };
    match process_start(pid) {
        Some(start) => labels.get(LABEL_OWNER_START).is_none_or(|s| s.is_empty() || *s == start),
        None => false,
    }
}

/// Stops (SIGTERM, then SIGKILL after `grace`) and removes containers.
async fn stop_and_remove(docker: &Docker, ids: &[String], grace: Duration) -> usize {
    let stop = StopContainerOptionsBuilder::default().t(grace.as_secs() as i32).build();
    let remove = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    let jobs = ids.iter().map(|id| {
        let (stop, remove) = (stop.clone(), remove.clone());
        async move {
            let _ = docker.stop_container(id, Some(stop)).await;
            docker.remove_container(id, Some(remove)).await.is_ok()
        }
    });
    futures::future::join_all(jobs).await.into_iter().filter(|ok| *ok).count()
}

async fn list(docker: &Docker, label: &str) -> Vec<(String, HashMap<String, String>)> {
    let options =
        ListContainersOptionsBuilder::default().all(true).filters(&HashMap::from([("label", vec![label])])).build();
    docker
        .list_containers(Some(options))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| Some((c.id?, c.labels.unwrap_or_default())))
        .collect()
}

/// Removes every container of `run_id`. After an interruption (`settle`)
/// it lists twice, because a create request cut off by a signal may still
/// complete in the engine.
pub async fn remove_run(docker: &Docker, run_id: &str, grace: Duration, settle: bool) -> usize {
    let mut removed = 0;
    for pass in 0..if settle { 2 } else { 1 } {
        if pass > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let ids: Vec<String> =
            list(docker, &format!("{LABEL_RUN}={run_id}")).await.into_iter().map(|(id, _)| id).collect();
        removed += stop_and_remove(docker, &ids, grace).await;
    }
    removed
}

/// Removes containers whose owner process is gone; returns how many.
pub async fn reap_orphans(docker: &Docker) -> usize {
    let orphans: Vec<String> =
        list(docker, LABEL_OWNER_PID).await.into_iter().filter(|(_, l)| !owner_alive(l)).map(|(id, _)| id).collect();
    stop_and_remove(docker, &orphans, Duration::ZERO).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not() {
        let mine = labels("r", "p");
        assert!(owner_alive(&mine));
        let mut reused = mine.clone();
        reused.insert(LABEL_OWNER_START.into(), "1".into());
        assert!(!owner_alive(&reused));
        let mut gone = mine;
        gone.insert(LABEL_OWNER_PID.into(), u32::MAX.to_string());
        assert!(!owner_alive(&gone));
    }
}
