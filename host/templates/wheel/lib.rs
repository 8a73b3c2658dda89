//! {{name}}: builds a Python package's wheel (C extensions included) and
//! checks that it installs and imports.
//!
//! - image `build`: Debian's Python with pip, setuptools, wheel and a C
//!   compiler (Debian packages only: no PyPI, so no proxy or CA to set up);
//! - step `wheel`: the read-only source (/src) is copied to /tmp and built
//!   with `pip wheel --no-build-isolation` into the output tree's `dist/`;
//! - step `install-check`: a fresh venv installs the wheels (no index, no
//!   network) and imports the package;
//! - artifacts: each wheel, with its name, version and tags as properties.

use hostbuild_sdk::host::workspace::{self, EntryKind, Tree};
use hostbuild_sdk::*;

const DIST: &str = "dist";
const BASE_IMAGE: &str = "hostbuild/bookworm:amd64";

/// The platform's name: `build.{{name}}/` is its output tree.
const NAME: &str = "{{name}}";

struct {{Type}};

impl Platform for {{Type}} {
    /// Who the platform is, its options, what it needs. Runs before any grant
    /// is checked, so it must not call the host.
    fn describe() -> Description {
        Description::new(NAME, env!("CARGO_PKG_VERSION"), "Builds a Python wheel and checks it imports")
            .option(OptionSpec::text(
                "import",
                "Modules to import after installing, space-separated [default: the wheel's name]",
            ))
            .option(OptionSpec::text("apt-packages", "More Debian packages for the build (libraries it links)"))
            .option(OptionSpec::text("base-image", "The Debian-based image to build in").default(BASE_IMAGE))
            .needs_container()
            // Its recipe runs apt-get: image builds have no network without this.
            .needs_image_network()
    }

    /// The image the steps run in. The host builds it once, tagged by a hash
    /// of the recipe, and reuses it while the recipe is unchanged.
    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let base = options.text("base-image").unwrap_or(BASE_IMAGE);
        let extra = options.text("apt-packages").unwrap_or_default();
        Ok(vec![ImageRecipe::new("build", base).run(&format!(
            "RUN apt-get update \\\n \
             && apt-get install -y --no-install-recommends python3 python3-dev python3-pip python3-setuptools \
             python3-wheel python3-venv gcc libc6-dev {extra} \\\n \
             && rm -rf /var/lib/apt/lists/*"
        ))])
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        // pip builds in the source tree, which is read-only: build a copy.
        let wheel = "rm -rf /tmp/src /out/dist && cp -r /src /tmp/src \
                     && pip wheel --no-deps --no-build-isolation --no-index --wheel-dir /out/dist /tmp/src";
        step("wheel", wheel).run_checked()?;
        let wheels = wheels()?;
        if wheels.is_empty() {
            return Err(Error::failed("pip made no wheel in dist/"));
        }
        let modules = match ctx.options.text("import") {
            Some(list) => list.to_string(),
            None => wheels.iter().map(|w| w.split('-').next().unwrap_or_default()).collect::<Vec<_>>().join(" "),
        };
        if let Some(bad) =
            modules.split_whitespace().find(|m| !m.chars().all(|c| c.is_ascii_alphanumeric() || "_.".contains(c)))
        {
            return Err(Error::InvalidOption(format!("`{bad}` is not a module name")));
        }
        let imports: String = modules.split_whitespace().map(|m| format!(" && python -c 'import {m}'")).collect();
        let check = format!(
            "python3 -m venv /tmp/venv && . /tmp/venv/bin/activate \
             && pip install --no-index --no-deps /out/dist/*.whl{imports} && echo imported: {modules}"
        );
        step("install-check", &check).run_checked()?;
        Ok(BuildReport::new().step("wheel").step("install-check").note(&format!("imported: {modules}")))
    }

    /// Each wheel in dist/, with the parts of its file name as properties.
    fn detect_artifacts(_ctx: &Context) -> Result<Vec<Artifact>> {
        Ok(wheels()?
            .iter()
            .map(|file| {
                let mut artifact = Artifact::new(&format!("{DIST}/{file}"), ArtifactRole::Wheel);
                // name-version(-build)-python-abi-platform.whl
                let parts: Vec<&str> = file.trim_end_matches(".whl").split('-').collect();
                if parts.len() >= 5 {
                    let n = parts.len();
                    for (key, value) in [
                        ("name", parts[0]),
                        ("version", parts[1]),
                        ("python-tag", parts[n - 3]),
                        ("abi-tag", parts[n - 2]),
                        ("platform-tag", parts[n - 1]),
                    ] {
                        artifact = artifact.property(key, value);
                    }
                }
                artifact
            })
            .collect())
    }
}

/// A shell script run in the `build` image with the source and output mounted.
fn step(name: &str, script: &str) -> Step {
    Step::new(name, "build", ["sh", "-c", script]).mount(Volume::Source, "/src").mount(Volume::Output, "/out")
}

/// The wheel files in dist/ (none before the build).
fn wheels() -> Result<Vec<String>> {
    match workspace::list(Tree::Output, DIST) {
        Ok(entries) => Ok(entries
            .into_iter()
            .filter(|e| e.kind == EntryKind::File && e.name.ends_with(".whl"))
            .map(|e| e.name)
            .collect()),
        Err(workspace::FsError::NotFound(_)) => Ok(Vec::new()),
        Err(e) => Err(Error::failed(format!("cannot list {DIST}: {e:?}"))),
    }
}

export_platform!({{Type}});
