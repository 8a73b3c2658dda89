//! Builds the wasm workspaces: `platforms/` into `plugins/`, and the test
//! guests of `tests/guests/` into `tests/guests/wasm/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

const TARGET: &str = "wasm32-wasip2";

pub fn build_all(platforms_only: bool) -> Result<()> {
    build_workspace(Path::new("platforms/Cargo.toml"), Path::new("plugins"))?;
    if !platforms_only {
        build_workspace(Path::new("tests/guests/Cargo.toml"), Path::new("tests/guests/wasm"))?;
    }
    Ok(())
}

fn build_workspace(manifest: &Path, out: &Path) -> Result<()> {
    let status = Command::new(cargo())
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(manifest)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("building {} for {TARGET} failed; see the compiler output above", manifest.display());
    }
    let meta = metadata(manifest)?;
    let target_dir = PathBuf::from(meta["target_directory"].as_str().context("no target_directory")?);
    std::fs::create_dir_all(out)?;
    for (package, bin) in packages(&meta)? {
        let file = if bin { package.clone() } else { package.replace('-', "_") };
        let built = target_dir.join(TARGET).join("release").join(format!("{file}.wasm"));
        let dest = out.join(format!("{package}.wasm"));
        std::fs::copy(&built, &dest).with_context(|| format!("cannot copy {}", built.display()))?;
        eprintln!("[xtask] {} ({} KiB)", dest.display(), std::fs::metadata(&dest)?.len() / 1024);
    }
    Ok(())
}

/// The cargo that runs xtask (`CARGO`), else the one on PATH.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn metadata(manifest: &Path) -> Result<serde_json::Value> {
    let out = Command::new(cargo())
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(manifest)
        .output()?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Each package that makes a component, and whether it is a binary (a
/// command) or a cdylib; plain libraries (the platforms' kit) make none.
fn packages(meta: &serde_json::Value) -> Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for p in meta["packages"].as_array().context("no packages")? {
        let name = p["name"].as_str().context("package without name")?.to_string();
        let kinds: Vec<&str> = p["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| t["kind"].as_array().into_iter().flatten().filter_map(|k| k.as_str()))
            .collect();
        if kinds.contains(&"bin") {
            out.push((name, true));
        } else if kinds.contains(&"cdylib") {
            out.push((name, false));
        }
    }
    Ok(out)
}
