//! `hostbuild cache`: show and clear the per-platform cache volumes
//! (ccache) and the compile cache of plugins.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use bollard::query_parameters::{ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder};

use crate::capabilities::container::{engine, EngineError};
use crate::cli::{CacheArgs, CacheCommand};
use crate::diagnostics::ExitStatus;

use crate::capabilities::container::naming::LABEL_CACHE as LABEL;

pub async fn cache(args: CacheArgs, compile_cache: Option<&Path>) -> anyhow::Result<ExitStatus> {
    let compile_cache = compile_cache.map(|c| c.join("components"));
    let (docker, _) = engine::connect(Duration::from_secs(10)).await.map_err(EngineError::from)?;
    let options = ListVolumesOptionsBuilder::default().filters(&HashMap::from([("label", vec![LABEL])])).build();
    let volumes = docker.list_volumes(Some(options)).await.map_err(|e| EngineError::Api(e.to_string()))?;
    let volumes: Vec<(String, String)> = volumes
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| (v.name, v.labels.get(LABEL).cloned().unwrap_or_default()))
        .collect();
    match args.command {
        Some(CacheCommand::Clear { platform }) => {
            let mut removed = Vec::new();
            for (name, owner) in volumes.iter().filter(|(_, p)| platform.as_ref().is_none_or(|want| want == p)) {
                let options = RemoveVolumeOptionsBuilder::default().force(true).build();
                docker.remove_volume(name, Some(options)).await.map_err(|e| {
                    EngineError::Api(format!("cannot remove volume {name} of {owner} (is a run using it?): {e}"))
                })?;
                removed.push(name.clone());
            }
            if args.json {
                println!("{}", serde_json::json!({ "removed_volumes": removed }));
            } else {
                println!("removed {} cache volume(s){}", removed.len(), if removed.is_empty() { "" } else { ":" });
                for name in removed {
                    println!("  {name}");
                }
            }
        }
        None => {
            // The engine's volume sizes (/system/df) changed shape across API
            // versions; on a local engine the volume's directory is readable.
            let mut sizes: HashMap<String, i64> = HashMap::new();
            for (name, _) in &volumes {
                let bytes = match docker.inspect_volume(name).await {
                    Ok(v) if Path::new(&v.mountpoint).is_dir() => tree_size(Path::new(&v.mountpoint)) as i64,
                    _ => -1,
                };
                sizes.insert(name.clone(), bytes);
            }
            let compile = compile_cache.as_deref().map(tree_size);
            if args.json {
                let list: Vec<_> = volumes
                    .iter()
                    .map(|(name, p)| serde_json::json!({"volume": name, "platform": p, "bytes": sizes.get(name)}))
                    .collect();
                let v = serde_json::json!({"volumes": list, "compile_cache": {"dir": compile_cache, "bytes": compile}});
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("cache volumes (ccache and other build caches):");
                if volumes.is_empty() {
                    println!("  none yet");
                }
                for (name, p) in &volumes {
                    println!("  {p:<20} {name:<36} {}", human(sizes.get(name).copied().unwrap_or(-1)));
                }
                if let (Some(bytes), Some(dir)) = (compile, &compile_cache) {
                    println!("compiled plugins: {} in {}", human(bytes as i64), dir.display());
                }
                println!("clear with `hostbuild cache clear [PLATFORM]`");
            }
        }
    }
    Ok(ExitStatus::Success)
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

fn human(bytes: i64) -> String {
    match bytes {
        b if b < 0 => "size unknown".into(),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b if b < 1 << 30 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b => format!("{:.2} GiB", b as f64 / f64::from(1 << 30)),
    }
}
