//! The Determined environments platform: the seed's `Dockerfile.cpu` /
//! `Dockerfile.gpu` and Makefile targets as options. One image recipe per
//! target platform (arm64 built under QEMU), a Python environment in
//! `/opt/determined/env` with the framework versions asked for, a check step
//! that runs Python in each image, and image artifacts tagged as the seed
//! tags them: `<registry>/<name>-<short git hash>` and
//! `<registry>/<name>-<version>`. The host tags them locally; with
//! `run --publish` it pushes each platform's image and an OCI index naming
//! them, with its own registry credentials.

use hostbuild_sdk::*;
use platform_kit::cuda::{self, Cuda};

struct Determined;

/// A target platform and the recipe name of its image.
struct Target {
    platform: String,
    recipe: String,
}

fn flavor(options: &Options) -> &str {
    options.text("flavor").unwrap_or("cpu")
}

fn python(options: &Options) -> &str {
    options.text("python").unwrap_or("3.11")
}

fn targets(options: &Options) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    for platform in options.text("platforms").unwrap_or("linux/amd64").split(',').map(str::trim) {
        let arch = match platform {
            "linux/amd64" => "amd64",
            "linux/arm64" => "arm64",
            other => {
                return Err(Error::InvalidOption(format!("platforms: `{other}` is not linux/amd64 or linux/arm64")))
            }
        };
        targets.push(Target { platform: platform.into(), recipe: format!("{}-{arch}", flavor(options)) });
    }
    Ok(targets)
}

/// The base image of one target: the option, else the offline Debian image
/// (cpu) or NVIDIA's CUDA image (gpu).
fn base_image(options: &Options, platform: &str) -> Result<String> {
    if let Some(base) = options.text("base-image") {
        return Ok(base.into());
    }
    let arch = platform.rsplit('/').next().unwrap_or("amd64");
    match flavor(options) {
        "gpu" => {
            let version = options.text("cuda").unwrap_or(Cuda::newest().version);
            let cuda =
                Cuda::find(version).ok_or_else(|| Error::InvalidOption(format!("cuda={version} is not known")))?;
            Ok(cuda.devel_image())
        }
        _ => Ok(format!("hostbuild/bookworm:{arch}")),
    }
}

/// `<registry>/<name>`, the references are this plus `-<tag>`.
fn repository_and_name(options: &Options) -> String {
    let name = options
        .text("name")
        .map(String::from)
        .unwrap_or_else(|| format!("environments:py-{}-base-{}", python(options), flavor(options)));
    format!("{}/{name}", options.text("registry").unwrap_or("determinedai").trim_end_matches('/'))
}

/// The references of the images: by short commit and by version.
fn references(options: &Options) -> Result<Vec<String>> {
    let base = repository_and_name(options);
    let mut refs = Vec::new();
    if let Some(commit) = host::commit() {
        refs.push(format!("{base}-{}", &commit[..commit.len().min(7)]));
    }
    if let Some(version) = options.text("version") {
        refs.push(format!("{base}-{version}"));
    }
    if refs.is_empty() {
        return Err(Error::InvalidOption(
            "nothing to tag the images with: no commit (pass --git-sha, or run in a git checkout) and no version"
                .into(),
        ));
    }
    Ok(refs)
}

const DOCKERFILE: &str = "\
ARG PYTHON_VERSION
ARG TORCH_VERSION=
ARG TENSORFLOW_VERSION=
ARG PIP_PACKAGES=
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \\
 && apt-get install -y --no-install-recommends ca-certificates python${PYTHON_VERSION} python${PYTHON_VERSION}-venv \\
 && rm -rf /var/lib/apt/lists/*
RUN python${PYTHON_VERSION} -m venv /opt/determined/env
ENV PATH=/opt/determined/env/bin:$PATH
RUN set -e; \\
    if [ -n \"$TORCH_VERSION\" ]; then pip install --no-cache-dir \"torch==$TORCH_VERSION\"; fi; \\
    if [ -n \"$TENSORFLOW_VERSION\" ]; then pip install --no-cache-dir \"tensorflow==$TENSORFLOW_VERSION\"; fi; \\
    if [ -n \"$PIP_PACKAGES\" ]; then pip install --no-cache-dir $PIP_PACKAGES; fi
";

impl Platform for Determined {
    fn describe() -> Description {
        let versions: Vec<&str> = cuda::KNOWN.iter().map(|c| c.version).collect();
        Description::new("determined", env!("CARGO_PKG_VERSION"), env!("CARGO_PKG_DESCRIPTION"))
            .option(
                OptionSpec::choice(
                    "flavor",
                    "CPU or GPU environment (Dockerfile.cpu / Dockerfile.gpu)",
                    &["cpu", "gpu"],
                )
                .default("cpu"),
            )
            .option(
                OptionSpec::text(
                    "registry",
                    "Registry and path the references start with, e.g. localhost:5000/determinedai",
                )
                .default("determinedai"),
            )
            .option(OptionSpec::text(
                "name",
                "Image name after the registry [default: environments:py-<python>-base-<flavor>]",
            ))
            .option(OptionSpec::text("version", "Environment version: also tag <registry>/<name>-<version>"))
            .option(
                OptionSpec::text("platforms", "Target platforms, comma-separated: linux/amd64, linux/arm64")
                    .default("linux/amd64"),
            )
            .option(
                OptionSpec::text("python", "Python version (BASE_IMAGE must provide python<version>)").default("3.11"),
            )
            .option(OptionSpec::text("pytorch-version", "Install torch==<version> into the environment"))
            .option(OptionSpec::text("tensorflow-version", "Install tensorflow==<version> into the environment"))
            .option(OptionSpec::text("pip-packages", "More packages for the environment, space-separated"))
            .option(OptionSpec::text(
                "base-image",
                "BASE_IMAGE [default: hostbuild/bookworm:<arch>; gpu: nvidia/cuda devel]",
            ))
            .option(
                OptionSpec::choice("cuda", "CUDA version of the gpu flavor's base image", &versions)
                    .default(Cuda::newest().version),
            )
            .needs_container()
            .needs_image_network()
            // Its images are artifacts: tagging (and pushing) them needs it.
            .needs_publish()
            .needs_emulation(CpuArch::Arm64)
    }

    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let mut recipes = Vec::new();
        for t in targets(options)? {
            let base = base_image(options, &t.platform)?;
            recipes.push(
                ImageRecipe::new(&t.recipe, &base)
                    .platform(&t.platform)
                    .build_arg("BASE_IMAGE", &base)
                    .build_arg("PYTHON_VERSION", python(options))
                    .build_arg("TORCH_VERSION", options.text("pytorch-version").unwrap_or_default())
                    .build_arg("TENSORFLOW_VERSION", options.text("tensorflow-version").unwrap_or_default())
                    .build_arg("PIP_PACKAGES", options.text("pip-packages").unwrap_or_default())
                    .run(DOCKERFILE)
                    .run(&format!("LABEL ai.determined.environment.flavor=\"{}\"", flavor(options))),
            );
        }
        Ok(recipes)
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        references(&ctx.options)?;
        let mut report = BuildReport::new();
        for t in targets(&ctx.options)? {
            let check = "python -c 'import platform, sys; print(\"python\", sys.version.split()[0], \"on\", platform.machine())'";
            let step = format!("check-{}", t.recipe);
            let outcome = Step::new(&step, &t.recipe, ["sh", "-c", check]).run_checked()?;
            let line = outcome.tail.iter().find(|l| l.starts_with("python ")).cloned().unwrap_or_default();
            report = report.step(&step).note(&format!("{}: {line}", t.platform));
        }
        Ok(report)
    }

    fn detect_artifacts(ctx: &Context) -> Result<Vec<Artifact>> {
        let options = &ctx.options;
        let mut found = Vec::new();
        for reference in references(options)? {
            for t in targets(options)? {
                found.push(
                    Artifact::new(&reference, ArtifactRole::Image)
                        .property("image", &t.recipe)
                        .property("flavor", flavor(options))
                        .property("python", python(options)),
                );
            }
        }
        Ok(found)
    }
}

export_platform!(Determined);
