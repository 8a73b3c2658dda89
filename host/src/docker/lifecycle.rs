//! Who owns a container: every container hostbuild creates carries labels
//! naming the run, the owner process (pid, start time, pid namespace and the
//! machine's boot id) and the plugin. A run removes its own containers when
//! it ends or is interrupted; any start reaps containers whose owner is
//! provably dead: same boot, same pid namespace, and that pid gone or
//! started at another time. On an engine shared by several machines or job
//! containers (a CI daemon), another job's containers name another pid
//! namespace or boot: they are never touched.

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
pub const LABEL_OWNER_PIDNS: &str = "hostbuild.owner-pidns";
pub const LABEL_OWNER_BOOT: &str = "hostbuild.owner-boot";

/// A new run's id: unique on this machine (time and process).
pub fn new_run_id() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{:x}-{:x}", now.as_millis(), std::process::id())
}

/// The labels of a container created for `plugin` in this process's run.
pub fn labels(run_id: &str, plugin: &str) -> HashMap<String, String> {
    let pid = std::process::id();
    HashMap::from([
        (LABEL_RUN.to_string(), run_id.to_string()),
        (LABEL_OWNER_PID.to_string(), pid.to_string()),
        (LABEL_OWNER_START.to_string(), process_start(pid).unwrap_or_default()),
        (LABEL_PLUGIN.to_string(), plugin.to_string()),
        (LABEL_OWNER_PIDNS.to_string(), pid_namespace().unwrap_or_default()),
        (LABEL_OWNER_BOOT.to_string(), boot_id().unwrap_or_default()),
    ])
}

/// This process's pid namespace, e.g. `pid:[4026531836]`.
fn pid_namespace() -> Option<String> {
    std::fs::read_link("/proc/self/ns/pid").ok().map(|p| p.display().to_string())
}

/// This machine's boot id (changes at every boot).
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

/// The start time of a process (field 22 of /proc/PID/stat), if it exists.
fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields resume after ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// What reaping makes of a container's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Running (or its pid is in use by a process started at that time).
    Alive,
    /// Gone: this boot, this pid namespace, and no such process.
    Dead,
    /// Not provable from here, for this reason.
    Unknown(Unproven),
}

/// Why an owner cannot be proven gone from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unproven {
    /// Its labels name no pid namespace or boot (an older hostbuild).
    OlderLabels,
    /// Another boot of this machine, or another machine sharing the engine.
    OtherBoot,
    /// Another pid namespace: another job container on a shared engine (its
    /// pid means nothing here, and may even belong to a live process).
    OtherPidNamespace,
}

impl Unproven {
    /// A key for JSON.
    pub fn key(self) -> &'static str {
        match self {
            Unproven::OlderLabels => "older-hostbuild",
            Unproven::OtherBoot => "other-boot",
            Unproven::OtherPidNamespace => "other-pid-namespace",
        }
    }

    /// The reason in words.
    pub fn describe(self) -> &'static str {
        match self {
            Unproven::OlderLabels => "made by an older hostbuild (no pid namespace or boot id in its labels)",
            Unproven::OtherBoot => "made on another boot, or by another machine sharing this engine",
            Unproven::OtherPidNamespace => {
                "made by a hostbuild in another pid namespace (another job container sharing this engine)"
            }
        }
    }
}

/// Whether the process that created a container is provably gone.
pub fn owner(labels: &HashMap<String, String>) -> Owner {
    let theirs = |label: &str| labels.get(label).filter(|v| !v.is_empty()).cloned();
    let (pidns, boot) = (theirs(LABEL_OWNER_PIDNS), theirs(LABEL_OWNER_BOOT));
    let Some(pid) = labels.get(LABEL_OWNER_PID).and_then(|p| p.parse::<u32>().ok()) else {
        return Owner::Unknown(Unproven::OlderLabels);
    };
    if pidns.is_none() || boot.is_none() {
        return Owner::Unknown(Unproven::OlderLabels);
    }
    if boot != boot_id() {
        return Owner::Unknown(Unproven::OtherBoot);
    }
    if pidns != pid_namespace() {
        return Owner::Unknown(Unproven::OtherPidNamespace);
    }
    match process_start(pid) {
        Some(start) if labels.get(LABEL_OWNER_START).is_none_or(|s| s.is_empty() || *s == start) => Owner::Alive,
        _ => Owner::Dead,
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

/// What reaping did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reaped {
    /// Containers of provably dead owners, removed.
    pub removed: usize,
    /// Containers whose owner could not be proven dead, left alone, by reason.
    pub left_alone: std::collections::BTreeMap<Unproven, usize>,
}

impl Reaped {
    /// How many containers were left alone.
    pub fn left_alone_count(&self) -> usize {
        self.left_alone.values().sum()
    }
}

/// Removes containers whose owner is provably dead.
pub async fn reap_orphans(docker: &Docker) -> Reaped {
    let mut orphans = Vec::new();
    let mut reaped = Reaped::default();
    for (id, labels) in list(docker, LABEL_OWNER_PID).await {
        match owner(&labels) {
            Owner::Dead => orphans.push(id),
            Owner::Unknown(why) => *reaped.left_alone.entry(why).or_default() += 1,
            Owner::Alive => {}
        }
    }
    reaped.removed = stop_and_remove(docker, &orphans, Duration::ZERO).await;
    reaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_provably_dead_owner_is_reaped() {
        let mine = labels("r", "p");
        assert_eq!(owner(&mine), Owner::Alive);
        let mut reused = mine.clone();
        reused.insert(LABEL_OWNER_START.into(), "1".into());
        assert_eq!(owner(&reused), Owner::Dead);
        let mut gone = mine.clone();
        gone.insert(LABEL_OWNER_PID.into(), u32::MAX.to_string());
        assert_eq!(owner(&gone), Owner::Dead);
        // Another job container's namespace, another machine, an older hostbuild.
        for (label, value, why) in [
            (LABEL_OWNER_PIDNS, "pid:[1]", Unproven::OtherPidNamespace),
            (LABEL_OWNER_BOOT, "another-boot", Unproven::OtherBoot),
        ] {
            let mut other = gone.clone();
            other.insert(label.into(), value.into());
            assert_eq!(owner(&other), Owner::Unknown(why));
        }
        let mut old = gone;
        old.remove(LABEL_OWNER_PIDNS);
        old.remove(LABEL_OWNER_BOOT);
        assert_eq!(owner(&old), Owner::Unknown(Unproven::OlderLabels));
    }
}
