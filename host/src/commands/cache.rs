//! `hostbuild cache`: show and clear the per-platform cache volumes
//! (ccache) and the compile cache of plugins. With `--engine swarm`, the
//! volumes of every ready node: the manager's through this engine, each
//! other node's through its own engine, by hostbuild's helper image run
//! there as a one-off service (`Swarm::on_node`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bollard::query_parameters::{ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder};
use bollard::Docker;

use super::common;
use super::output::{self, Summary};
use crate::capabilities::container::swarm::nodes::NodeInfo;
use crate::capabilities::container::swarm::{staging, Swarm, SwarmError};
use crate::capabilities::log::LogSink;
use crate::cli::{CacheArgs, CacheCommand, EngineArgs, SwarmArgs};
use crate::console::Console;
use crate::diagnostics::ExitStatus;
use crate::docker::naming::LABEL_CACHE as LABEL;
use crate::docker::{engine, lifecycle, EngineError};

/// One cache volume, on one node.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Volume {
    /// The swarm node's hostname and id (`None` on a local engine).
    #[serde(default)]
    node: Option<String>,
    #[serde(default)]
    node_id: Option<String>,
    #[serde(rename = "volume", alias = "name")]
    name: String,
    platform: String,
    /// -1 when the engine does not say.
    bytes: i64,
}

pub async fn cache(args: CacheArgs, compile_cache: Option<&Path>) -> anyhow::Result<ExitStatus> {
    let compile_cache = compile_cache.map(|c| c.join("components"));
    let (docker, info) = engine::connect_default().await?;
    let swarm_args = SwarmArgs { kind: args.kind, registry: args.registry.clone(), ..Default::default() };
    let settings = common::engine_settings(&EngineArgs::default(), None, Some(&swarm_args))?;
    let Some(options) = settings.swarm else {
        let volumes = local_volumes(&docker, None).await?;
        return local(&docker, args, volumes, compile_cache.as_deref()).await;
    };
    let run_id = lifecycle::new_run_id();
    let swarm = Swarm::connect(docker.clone(), &info.endpoint, &run_id, options, None).await?;
    let log: Arc<dyn LogSink> = Arc::new(Console::new(false, args.json));
    let result = on_swarm(&swarm, &settings.trust, log.as_ref(), args, compile_cache.as_deref()).await;
    swarm.remove_run(false).await;
    result
}

/// A local engine: its volumes through its API.
async fn local(
    docker: &Docker,
    args: CacheArgs,
    volumes: Vec<Volume>,
    compile_cache: Option<&Path>,
) -> anyhow::Result<ExitStatus> {
    match args.command {
        Some(CacheCommand::Clear { platform }) => {
            let mut removed = Vec::new();
            for v in volumes.into_iter().filter(|v| platform.as_ref().is_none_or(|want| *want == v.platform)) {
                remove_local(docker, &v).await?;
                removed.push(v);
            }
            print_removed(&removed, args.json)?;
        }
        None => print_list(&volumes, compile_cache, args.json)?,
    }
    Ok(ExitStatus::Success)
}

/// A swarm: the manager's volumes through its API, the other ready nodes'
/// through the helper image on each.
async fn on_swarm(
    swarm: &Swarm,
    trust: &crate::capabilities::container::trust::Trust,
    log: &dyn LogSink,
    args: CacheArgs,
    compile_cache: Option<&Path>,
) -> anyhow::Result<ExitStatus> {
    let manager = swarm.nodes.iter().find(|n| n.id == swarm.manager);
    let others: Vec<&NodeInfo> = swarm.nodes.iter().filter(|n| n.ready && n.id != swarm.manager).collect();
    let helper = match others.is_empty() {
        true => None,
        false => Some(staging::helper_image(swarm.docker(), trust, log).await?),
    };
    let mut volumes = local_volumes(swarm.docker(), manager).await?;
    for node in &others {
        if let Some(helper) = &helper {
            volumes.extend(node_volumes(swarm, node, helper, log).await?);
        }
    }
    let Some(CacheCommand::Clear { platform }) = args.command else {
        print_list(&volumes, compile_cache, args.json)?;
        return Ok(ExitStatus::Success);
    };
    let chosen: Vec<Volume> =
        volumes.into_iter().filter(|v| platform.as_ref().is_none_or(|want| *want == v.platform)).collect();
    let mut removed = Vec::new();
    for node in std::iter::once(None).chain(others.iter().map(|n| Some(*n))) {
        let id = node.map_or(&swarm.manager, |n| &n.id);
        let here: Vec<Volume> = chosen.iter().filter(|v| v.node_id.as_ref() == Some(id)).cloned().collect();
        if here.is_empty() {
            continue;
        }
        match (node, &helper) {
            (Some(node), Some(helper)) => {
                let script = remove_script(&here);
                swarm.on_node(node, helper, &script, log).await?;
            }
            _ => {
                for v in &here {
                    remove_local(swarm.docker(), v).await?;
                }
            }
        }
        removed.extend(here);
    }
    print_removed(&removed, args.json)?;
    Ok(ExitStatus::Success)
}

/// The cache volumes of the engine `docker` talks to.
async fn local_volumes(docker: &Docker, node: Option<&NodeInfo>) -> Result<Vec<Volume>, EngineError> {
    let options = ListVolumesOptionsBuilder::default().filters(&HashMap::from([("label", vec![LABEL])])).build();
    let listed = docker.list_volumes(Some(options)).await.map_err(|e| EngineError::Api(e.to_string()))?;
    let mut volumes = Vec::new();
    for v in listed.volumes.unwrap_or_default() {
        // The engine's volume sizes (/system/df) changed shape across API
        // versions; on a local engine the volume's directory is readable.
        let bytes = match docker.inspect_volume(&v.name).await {
            Ok(i) if Path::new(&i.mountpoint).is_dir() => tree_size(Path::new(&i.mountpoint)) as i64,
            _ => -1,
        };
        let platform = v.labels.get(LABEL).cloned().unwrap_or_default();
        let (node, node_id) = (node.map(|n| n.hostname.clone()), node.map(|n| n.id.clone()));
        volumes.push(Volume { node, node_id, name: v.name, platform, bytes });
    }
    Ok(volumes)
}

async fn remove_local(docker: &Docker, v: &Volume) -> Result<(), EngineError> {
    let options = RemoveVolumeOptionsBuilder::default().force(true).build();
    docker.remove_volume(&v.name, Some(options)).await.map_err(|e| {
        EngineError::Api(format!("cannot remove volume {} of {} (is a run using it?): {e}", v.name, v.platform))
    })
}

/// What marks the helper's lines that carry a volume.
const VOLUME_LINE: &str = "hostbuild-volume ";

/// The cache volumes of `node`, read by the helper through the node's
/// engine (`/system/df` computes their sizes).
async fn node_volumes(
    swarm: &Swarm,
    node: &NodeInfo,
    helper: &crate::docker::images::BuiltImage,
    log: &dyn LogSink,
) -> Result<Vec<Volume>, SwarmError> {
    let script = format!(
        "set -e; curl -fsS --unix-socket /var/run/docker.sock http://engine/system/df \
         | jq -c '.Volumes[]? | select((.Labels // {{}})[\"{LABEL}\"] != null) \
         | {{name: .Name, platform: .Labels[\"{LABEL}\"], bytes: (.UsageData.Size // -1)}}' \
         | sed 's/^/{VOLUME_LINE}/'"
    );
    let lines = swarm.on_node(node, helper, &script, log).await?;
    let mut volumes = Vec::new();
    for line in lines.iter().filter_map(|l| l.strip_prefix(VOLUME_LINE)) {
        // The node's engine is not this process: what it says is checked
        // before it is printed or put into a script.
        let mut v: Volume = serde_json::from_str(line).map_err(|e| SwarmError::OnNode {
            node: node.describe(),
            message: format!("cannot read the helper's volume line `{line}`: {e}"),
        })?;
        if !plain_name(&v.name) {
            continue;
        }
        (v.node, v.node_id) = (Some(node.hostname.clone()), Some(node.id.clone()));
        volumes.push(v);
    }
    Ok(volumes)
}

/// A script that removes `volumes` through the node's engine (force: the
/// same as `docker volume rm -f`; a volume in use is refused, 409).
fn remove_script(volumes: &[Volume]) -> String {
    let mut script = String::from("set -e");
    for v in volumes.iter().filter(|v| plain_name(&v.name)) {
        script.push_str(&format!(
            "; curl -fsS -X DELETE --unix-socket /var/run/docker.sock 'http://engine/volumes/{}?force=true' \
             || {{ echo 'cannot remove volume {} (is a run using it?)'; exit 1; }}",
            v.name, v.name
        ));
    }
    script
}

/// Volume names as Docker makes them: nothing a shell or URL would read.
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// `cache`: the volumes and the compile cache.
#[derive(serde::Serialize)]
struct Listed<'a> {
    volumes: &'a [Volume],
    compile_cache: CompileCache<'a>,
}

#[derive(serde::Serialize)]
struct CompileCache<'a> {
    dir: Option<&'a Path>,
    bytes: Option<u64>,
}

impl Summary for Listed<'_> {
    fn print_text(&self) {
        println!("cache volumes (ccache and other build caches):");
        if self.volumes.is_empty() {
            println!("  none yet");
        }
        for v in self.volumes {
            let node = match (&v.node, &v.node_id) {
                (Some(n), Some(id)) => format!("{:<30} ", format!("{n} ({})", &id[..id.len().min(12)])),
                _ => String::new(),
            };
            println!("  {node}{:<20} {:<36} {}", v.platform, v.name, human(v.bytes));
        }
        if let CompileCache { dir: Some(dir), bytes: Some(bytes) } = &self.compile_cache {
            println!("compiled plugins: {} in {}", human(*bytes as i64), dir.display());
        }
        println!("clear with `hostbuild cache clear [PLATFORM]`");
    }
}

fn print_list(volumes: &[Volume], compile_cache: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let compile_cache = CompileCache { dir: compile_cache, bytes: compile_cache.map(tree_size) };
    output::print(&Listed { volumes, compile_cache }, json)
}

/// `cache clear`: what was removed, where.
#[derive(serde::Serialize)]
struct Removed<'a> {
    removed_volumes: Vec<&'a str>,
    removed: Vec<RemovedVolume<'a>>,
}

#[derive(serde::Serialize)]
struct RemovedVolume<'a> {
    node: Option<&'a str>,
    node_id: Option<&'a str>,
    volume: &'a str,
}

impl Summary for Removed<'_> {
    const ONE_LINE: bool = true;

    fn print_text(&self) {
        let n = self.removed.len();
        println!("removed {n} cache volume(s){}", if n == 0 { "" } else { ":" });
        for v in &self.removed {
            match (v.node, v.node_id) {
                (Some(node), Some(id)) => println!("  {} on {node} ({})", v.volume, &id[..id.len().min(12)]),
                _ => println!("  {}", v.volume),
            }
        }
    }
}

fn print_removed(removed: &[Volume], json: bool) -> anyhow::Result<()> {
    let summary = Removed {
        removed_volumes: removed.iter().map(|v| v.name.as_str()).collect(),
        removed: removed
            .iter()
            .map(|v| RemovedVolume { node: v.node.as_deref(), node_id: v.node_id.as_deref(), volume: &v.name })
            .collect(),
    };
    output::print(&summary, json)
}

/// Bytes of all files under `dir`, not following symlinks.
fn tree_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => tree_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

/// A volume's size; under 1 KiB still in KiB, as this listing always was.
fn human(bytes: i64) -> String {
    match u64::try_from(bytes) {
        Err(_) => "size unknown".into(),
        Ok(b) if b < 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        Ok(b) => crate::units::readable(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_a_node_are_plain_or_skipped() {
        assert!(plain_name("hostbuild-cache-armv7-1a2b"));
        for bad in ["", "a b", "a'b", "a;rm -rf /", "../x", "a/b", "x$(id)"] {
            assert!(!plain_name(bad), "{bad}");
        }
        let v = |name: &str| Volume { node: None, node_id: None, name: name.into(), platform: "p".into(), bytes: 0 };
        let script = remove_script(&[v("ok-1"), v("'; reboot; '")]);
        assert!(script.contains("volumes/ok-1?force=true"));
        assert!(!script.contains("reboot"));
    }
}
