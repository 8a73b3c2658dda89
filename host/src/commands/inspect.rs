//! `hostbuild inspect PLUGIN`: who a plugin is, what it needs and accepts.

use std::path::PathBuf;
use std::sync::Arc;

use super::common;
use crate::cli::InspectArgs;
use crate::console::sanitize::sanitize;
use crate::console::Console;
use crate::description::{capability_words, kind_text};
use crate::diagnostics::ExitStatus;
use crate::options::{check_unscoped, resolve};
use crate::runtime::bindings::types::ImageRecipe;
use crate::runtime::HOST_WIT_VERSION;

pub async fn inspect(args: InspectArgs, cache: PathBuf, verbose: bool) -> anyhow::Result<ExitStatus> {
    let log = Arc::new(Console::new(verbose, args.json));
    let project = common::project_for([&args.plugin], false)?;
    let limits = common::limits(&args.limits)?;
    let (mut opened, resolved) = common::open_arg(&args.plugin, project.as_ref(), &cache, limits, log, false).await?;
    let recipes = match args.images {
        true => {
            check_unscoped(&[&opened.info], &args.options)?;
            let options = resolve(&opened.info, &resolved.options_with(&opened.info.name, &args.options))?;
            opened.plugin.lent_mut().gate.allow(resolved.grants(&opened.info).allow(&opened.info.capabilities));
            Some(opened.plugin.image(&options).await?)
        }
        false => None,
    };
    let (info, loaded) = (&opened.info, &opened.loaded);
    if args.json {
        let mut v = serde_json::json!({
            "name": info.name,
            "version": info.version.to_string(),
            "summary": info.summary,
            "file": loaded.path,
            "size": loaded.size,
            "sha256": loaded.sha256,
            "wit_version": loaded.wit_version.to_string(),
            "host_wit_version": HOST_WIT_VERSION.to_string(),
            "compile_cache": loaded.cache,
            "capabilities": capability_words(&info.capabilities),
            "env_vars": info.capabilities.env_vars,
            "options": info.options_json(),
        });
        if let Some(entry) = &resolved.entry {
            v["project"] = serde_json::json!({"source": entry.source, "grants": entry.grants.words()});
        }
        if let Some(recipes) = &recipes {
            v["images"] = recipes.iter().map(recipe_json).collect();
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitStatus::Success);
    }
    // Summaries, defaults and recipes come from the plugin: shown sanitised.
    println!("{} {}: {}", info.name, info.version, sanitize(&info.summary));
    println!("  file          {} ({} KiB)", loaded.path.display(), loaded.size.div_ceil(1024));
    println!("  sha256        {}", loaded.sha256);
    println!("  wit           hostbuild:platform@{} (this host: {})", loaded.wit_version, HOST_WIT_VERSION);
    let caps = capability_words(&info.capabilities);
    println!("  capabilities  {}", if caps.is_empty() { "none".into() } else { caps.join(", ") });
    if let Some(entry) = &resolved.entry {
        let grants = entry.grants.words();
        println!("  source        {} (hostbuild.toml)", entry.source);
        println!("  granted       {}", if grants.is_empty() { "nothing".into() } else { grants.join(", ") });
    }
    if !info.capabilities.env_vars.is_empty() {
        println!("  reads env     {}", info.capabilities.env_vars.join(", "));
    }
    if info.options.is_empty() {
        println!("  options       none");
    } else {
        println!("  options       (--opt KEY=VALUE)");
        let width = info.options.iter().map(|o| o.name.len()).max().unwrap_or(0);
        for o in &info.options {
            let default = o.default.as_ref().map(|d| format!(" [default: {d}]")).unwrap_or_default();
            let line = format!("{}: {}{default}", kind_text(&o.kind), o.summary);
            println!("    {:width$}  {}", o.name, sanitize(&line));
        }
    }
    for r in recipes.iter().flatten() {
        let head = format!("image `{}`  (from {}, {})", r.name, r.base_image, r.platform);
        println!("\n{}", sanitize(&head));
        for (k, v) in &r.build_args {
            println!("  build arg  {}", sanitize(&format!("{k}={v}")));
        }
        for f in &r.context {
            println!(
                "  context    {} ({} bytes{})",
                sanitize(&f.path),
                f.contents.len(),
                if f.executable { ", executable" } else { "" }
            );
        }
        for line in r.dockerfile.lines() {
            println!("  | {}", sanitize(line));
        }
    }
    Ok(ExitStatus::Success)
}

fn recipe_json(r: &ImageRecipe) -> serde_json::Value {
    serde_json::json!({
        "name": r.name,
        "base_image": r.base_image,
        "platform": r.platform,
        "dockerfile": r.dockerfile,
        "build_args": r.build_args.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "context": r.context.iter().map(|f| serde_json::json!({
            "path": f.path,
            "size": f.contents.len(),
            "executable": f.executable,
            "text": std::str::from_utf8(&f.contents).ok(),
        })).collect::<Vec<_>>(),
    })
}
