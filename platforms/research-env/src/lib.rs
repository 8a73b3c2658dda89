//! The research environment platform: the Cresset/EPFL template's workflow.
//! The project's `dependencies/` files drive a multi-stage recipe:
//!
//! - `build` stage: `apt-build.txt`, then the Python environment in
//!   `/opt/venv` from `requirements.txt` (or `environment.yml` with conda);
//! - `runtime` stage: `apt-runtime.txt` and the environment from `build`;
//! - `dev` stage: the runtime plus `apt-dev.txt`.
//!
//! Images `runtime` and `dev`, for `cpu` (Debian) or `gpu` (NVIDIA's CUDA
//! image). Steps and `hostbuild shell` run as the invoking user with the
//! project at /work/src, the output at /work/out and directories lent with
//! `--mount`/`mounts` (e.g. data at /work/data). `command` runs a command in
//! the runtime image; `freeze=true` writes the resolved versions back into
//! `dependencies/requirements.txt` (the source must be granted
//! `write-source`).

use hostbuild_sdk::host::workspace::{self, Tree};
use hostbuild_sdk::*;
use platform_kit::cuda::{self, Cuda};

const SRC: &str = "/work/src";
const OUT: &str = "/work/out";
const DEPS: &str = "dependencies";
/// The files of `dependencies/` the recipe reads; absent ones count as empty.
const DEP_FILES: &[&str] = &["requirements.txt", "environment.yml", "apt-build.txt", "apt-runtime.txt", "apt-dev.txt"];

struct ResearchEnv;

fn flavor(options: &Options) -> &str {
    options.text("flavor").unwrap_or("cpu")
}

fn base_image(options: &Options) -> Result<String> {
    if let Some(base) = options.text("base-image") {
        return Ok(base.into());
    }
    match flavor(options) {
        "gpu" => {
            let version = options.text("cuda").unwrap_or(Cuda::newest().version);
            Ok(Cuda::find(version)
                .ok_or_else(|| Error::InvalidOption(format!("cuda={version} is not known")))?
                .devel_image())
        }
        _ => Ok("hostbuild/bookworm:amd64".into()),
    }
}

/// The dependency files of the project (missing ones as empty), and the
/// wheels of `dependencies/wheels/` (for `pip-args` such as `--no-index
/// --find-links /tmp/deps/wheels`).
fn dependency_files() -> Vec<(String, Vec<u8>)> {
    let read = |path: &str| workspace::read(Tree::Source, &format!("{DEPS}/{path}")).unwrap_or_default();
    let mut files: Vec<(String, Vec<u8>)> = DEP_FILES.iter().map(|f| (f.to_string(), read(f))).collect();
    for entry in workspace::list(Tree::Source, &format!("{DEPS}/wheels")).unwrap_or_default() {
        if entry.name.ends_with(".whl") {
            let path = format!("wheels/{}", entry.name);
            files.push((path.clone(), read(&path)));
        }
    }
    files
}

/// Whether the project asks for a conda environment (a non-empty environment.yml).
fn uses_conda() -> bool {
    workspace::read(Tree::Source, &format!("{DEPS}/environment.yml")).is_ok_and(|b| !b.is_empty())
}

/// `apt-get install` of the packages listed in a file copied to /tmp/deps.
fn apt(file: &str, always: &str) -> String {
    format!(
        "RUN apt-get update \\\n \
         && apt-get install -y --no-install-recommends {always} $(grep -v '^\\s*#' /tmp/deps/{file} | tr '\\n' ' ') \\\n \
         && rm -rf /var/lib/apt/lists/*"
    )
}

/// The multi-stage Dockerfile up to `last` (`runtime` or `dev`).
fn dockerfile(base: &str, conda: bool, last: &str) -> String {
    let env = if conda {
        "ARG CONDA_INSTALLER\n\
         RUN curl -fsSL -o /tmp/conda.sh \"$(eval echo $CONDA_INSTALLER)\" && bash /tmp/conda.sh -b -p /opt/conda \\\n \
         && /opt/conda/bin/conda env create -p /opt/venv -f /tmp/deps/environment.yml && /opt/conda/bin/conda clean -afy"
            .to_string()
    } else {
        "ARG PIP_ARGS=\n\
         RUN python3 -m venv --system-site-packages /opt/venv \\\n \
         && if grep -qv '^\\s*\\(#\\|$\\)' /tmp/deps/requirements.txt; then \
         /opt/venv/bin/pip install --no-cache-dir $PIP_ARGS -r /tmp/deps/requirements.txt; fi"
            .to_string()
    };
    let build_tools = if conda { "curl ca-certificates bzip2" } else { "python3 python3-venv" };
    // conda itself comes along, for `conda env export` in the freeze step.
    let conda_copy = if conda { "COPY --from=build /opt/conda /opt/conda\n" } else { "" };
    let mut text = format!(
        "FROM {base} AS build\nENV DEBIAN_FRONTEND=noninteractive\nCOPY deps/ /tmp/deps/\n{}\n{env}\n\n\
         FROM {base} AS runtime\nENV DEBIAN_FRONTEND=noninteractive\nCOPY deps/ /tmp/deps/\n{}\n\
         COPY --from=build /opt/venv /opt/venv\n{conda_copy}ENV PATH=/opt/venv/bin:$PATH\nWORKDIR {SRC}\n",
        apt("apt-build.txt", build_tools),
        apt("apt-runtime.txt", if conda { "ca-certificates" } else { "python3" }),
    );
    if last == "dev" {
        text.push_str(&format!("\nFROM runtime AS dev\n{}\n", apt("apt-dev.txt", "")));
    }
    text
}

impl Platform for ResearchEnv {
    fn describe() -> Description {
        let versions: Vec<&str> = cuda::KNOWN.iter().map(|c| c.version).collect();
        Description::new("research-env", env!("CARGO_PKG_VERSION"), env!("CARGO_PKG_DESCRIPTION"))
            .option(
                OptionSpec::choice("flavor", "cpu (Debian) or gpu (NVIDIA's CUDA image)", &["cpu", "gpu"])
                    .default("cpu"),
            )
            .option(OptionSpec::text("base-image", "Base image of every stage instead of the flavor's"))
            .option(
                OptionSpec::choice("cuda", "CUDA version of the gpu flavor", &versions).default(Cuda::newest().version),
            )
            .option(OptionSpec::text("conda-installer", "Miniforge installer URL, for dependencies/environment.yml"))
            .option(OptionSpec::text(
                "pip-args",
                "Extra pip arguments for requirements.txt, e.g. `--no-index --find-links /tmp/deps/wheels` (dependencies/wheels/)",
            ))
            .option(OptionSpec::text("command", "A command to run in the runtime image, e.g. `python train.py`"))
            .option(
                OptionSpec::boolean("freeze", "Write the resolved versions back to dependencies/ (needs write-source)")
                    .default("false"),
            )
            .option(OptionSpec::text(
                "tag",
                "Tag the images as TAG:runtime and TAG:dev [default: research-env/<flavor>]",
            ))
            .needs_container()
            .needs_image_network()
            // Its images are artifacts: tagging (and pushing) them needs it.
            .needs_publish()
    }

    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let base = base_image(options)?;
        if workspace::list(Tree::Source, DEPS).is_err() {
            host::warn(&format!("the source has no {DEPS}/ directory: the environment gets Python and nothing else"));
        }
        let files = dependency_files();
        let conda = uses_conda();
        let installer = options.text("conda-installer").unwrap_or(
            "https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-$(uname -m).sh",
        );
        let mut recipes = Vec::new();
        for name in ["runtime", "dev"] {
            let mut recipe = ImageRecipe::new(name, &base);
            recipe = files.iter().fold(recipe, |r, (f, bytes)| r.file(&format!("deps/{f}"), bytes.clone()));
            recipe = match conda {
                true => recipe.build_arg("CONDA_INSTALLER", installer),
                false => recipe.build_arg("PIP_ARGS", options.text("pip-args").unwrap_or_default()),
            };
            recipes.push(recipe.replace_dockerfile(&dockerfile(&base, conda, name)));
        }
        Ok(recipes)
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let options = &ctx.options;
        let mut report = BuildReport::new();
        let env = |name: &str, image: &str, script: &str| {
            Step::new(name, image, ["sh", "-c", script])
                .mount(Volume::Source, SRC)
                .mount(Volume::Output, OUT)
                .workdir(SRC)
        };
        let check =
            env("check", "runtime", "echo \"python $(python3 --version | cut -d' ' -f2) as $(id -u):$(id -g)\"")
                .run_checked()?;
        report = report.step("check");
        if let Some(line) = check.tail.iter().find(|l| l.starts_with("python ")) {
            report = report.note(&format!("runtime: {line}"));
        }
        if let Some(command) = options.text("command") {
            env("command", "runtime", command).run_checked()?;
            report = report.step("command");
        }
        if options.flag("freeze") {
            let conda = uses_conda();
            let (file, freeze) = if conda {
                ("environment.yml", "/opt/conda/bin/conda env export -p /opt/venv --no-builds")
            } else {
                ("requirements.txt", "pip freeze --local")
            };
            let script = format!(
                "set -e\nnew=$({freeze})\nif ! err=$(touch {SRC}/{DEPS}/{file} 2>&1); then echo \"$err\"; \
                 echo 'cannot write {DEPS}/{file}: the source is mounted read-only unless write-source is granted \
                 (hostbuild.toml) or --write-source is passed, and must be writable by the invoking user'; exit 3; fi\n\
                 printf '%s\\n' \"# resolved by hostbuild research-env freeze\" \"$new\" > {SRC}/{DEPS}/{file}\n\
                 echo \"froze $(printf '%s\\n' \"$new\" | grep -c .) packages into {DEPS}/{file}\""
            );
            let outcome = env("freeze", "dev", &script).run_checked()?;
            report = report.step("freeze");
            if let Some(line) = outcome.tail.iter().find(|l| l.starts_with("froze ")) {
                report = report.note(line);
            }
        }
        Ok(report)
    }

    fn detect_artifacts(ctx: &Context) -> Result<Vec<Artifact>> {
        let options = &ctx.options;
        let tag = options.text("tag").map(String::from).unwrap_or_else(|| format!("research-env/{}", flavor(options)));
        Ok(["runtime", "dev"]
            .iter()
            .map(|name| {
                Artifact::new(&format!("{tag}:{name}"), ArtifactRole::Image)
                    .property("image", name)
                    .property("flavor", flavor(options))
            })
            .collect())
    }
}

export_platform!(ResearchEnv);
