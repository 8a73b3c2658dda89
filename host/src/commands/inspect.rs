//! `hostbuild inspect PLUGIN`: who a plugin is, what it needs and accepts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use super::common;
use super::output::{self, Summary};
use crate::cli::InspectArgs;
use crate::console::sanitize::sanitize;
use crate::console::Console;
use crate::description::{capability_words, kind_text, OptionJson};
use crate::diagnostics::ExitStatus;
use crate::model::{ImageRecipe, OptionSpec};
use crate::options::{check_unscoped, resolve};
use crate::runtime::{CacheOutcome, HOST_WIT_VERSION};

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
    let inspected = Inspected {
        name: &info.name,
        version: info.version.to_string(),
        summary: &info.summary,
        file: &loaded.path,
        size: loaded.size,
        sha256: &loaded.sha256,
        wit_version: loaded.wit_version.to_string(),
        host_wit_version: HOST_WIT_VERSION.to_string(),
        compile_cache: loaded.cache,
        capabilities: capability_words(&info.capabilities),
        env_vars: &info.capabilities.env_vars,
        options: info.options_json(),
        project: resolved.entry.as_ref().map(|e| Project { source: &e.source, grants: e.grants.words() }),
        images: recipes.as_ref().map(|r| r.iter().map(Image::of).collect()),
        specs: &info.options,
        recipes: recipes.as_deref().unwrap_or_default(),
    };
    output::print(&inspected, args.json)?;
    Ok(ExitStatus::Success)
}

/// Who a plugin is and what it needs (`inspect`).
#[derive(Serialize)]
struct Inspected<'a> {
    name: &'a str,
    version: String,
    summary: &'a str,
    file: &'a Path,
    size: u64,
    sha256: &'a str,
    wit_version: String,
    host_wit_version: String,
    compile_cache: CacheOutcome,
    capabilities: Vec<String>,
    env_vars: &'a [String],
    options: Vec<OptionJson>,
    /// Its entry in hostbuild.toml, when it runs through a project.
    #[serde(skip_serializing_if = "Option::is_none")]
    project: Option<Project<'a>>,
    /// With `--images`: what `image` returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    images: Option<Vec<Image<'a>>>,
    #[serde(skip)]
    specs: &'a [OptionSpec],
    #[serde(skip)]
    recipes: &'a [ImageRecipe],
}

#[derive(Serialize)]
struct Project<'a> {
    source: &'a str,
    grants: Vec<String>,
}

#[derive(Serialize)]
struct Image<'a> {
    name: &'a str,
    base_image: &'a str,
    platform: &'a str,
    dockerfile: &'a str,
    build_args: BTreeMap<&'a str, &'a str>,
    context: Vec<ContextJson<'a>>,
}

#[derive(Serialize)]
struct ContextJson<'a> {
    path: &'a str,
    size: usize,
    executable: bool,
    /// The file as text, when it is UTF-8.
    text: Option<&'a str>,
}

impl<'a> Image<'a> {
    fn of(r: &'a ImageRecipe) -> Self {
        Image {
            name: &r.name,
            base_image: &r.base_image,
            platform: &r.platform,
            dockerfile: &r.dockerfile,
            build_args: r.build_args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
            context: r
                .context
                .iter()
                .map(|f| ContextJson {
                    path: &f.path,
                    size: f.contents.len(),
                    executable: f.executable,
                    text: std::str::from_utf8(&f.contents).ok(),
                })
                .collect(),
        }
    }
}

impl Summary for Inspected<'_> {
    /// Summaries, defaults and recipes come from the plugin: shown sanitised.
    fn print_text(&self) {
        println!("{} {}: {}", self.name, self.version, sanitize(self.summary));
        println!("  file          {} ({} KiB)", self.file.display(), self.size.div_ceil(1024));
        println!("  sha256        {}", self.sha256);
        println!("  wit           hostbuild:platform@{} (this host: {})", self.wit_version, self.host_wit_version);
        let caps = &self.capabilities;
        println!("  capabilities  {}", if caps.is_empty() { "none".into() } else { caps.join(", ") });
        if let Some(project) = &self.project {
            let grants = &project.grants;
            println!("  source        {} (hostbuild.toml)", project.source);
            println!("  granted       {}", if grants.is_empty() { "nothing".into() } else { grants.join(", ") });
        }
        if !self.env_vars.is_empty() {
            println!("  reads env     {}", self.env_vars.join(", "));
        }
        if self.specs.is_empty() {
            println!("  options       none");
        } else {
            println!("  options       (--opt KEY=VALUE)");
            let width = self.specs.iter().map(|o| o.name.len()).max().unwrap_or(0);
            for o in self.specs {
                let default = o.default.as_ref().map(|d| format!(" [default: {d}]")).unwrap_or_default();
                let line = format!("{}: {}{default}", kind_text(&o.kind), o.summary);
                println!("    {:width$}  {}", o.name, sanitize(&line));
            }
        }
        for r in self.recipes {
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
    }
}
