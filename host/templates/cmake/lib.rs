//! {{name}}: builds and tests a CMake project in a container.
//!
//! - image `build`: Debian with CMake, Ninja, a C/C++ compiler and ccache;
//! - steps `configure`, `compile` and `test` (ctest with a JUnit report),
//!   with the project read-only at /src, the output tree (`build.{{name}}/`
//!   on the host) at /out and the platform's cache volume at /cache;
//! - artifacts: the shared and static libraries the build made, and the
//!   test report.

use hostbuild_sdk::host::workspace::{self, EntryKind, Tree};
use hostbuild_sdk::*;

/// The CMake build tree, inside the output tree.
const BUILD_DIR: &str = "build";
const TEST_REPORT: &str = "test-report.xml";

/// The platform's name: `build.{{name}}/` is its output tree.
const NAME: &str = "{{name}}";

struct {{Type}};

impl Platform for {{Type}} {
    /// Who the platform is, its options, what it needs. Runs before any grant
    /// is checked, so it must not call the host.
    fn describe() -> Description {
        Description::new(NAME, env!("CARGO_PKG_VERSION"), "Builds and tests a CMake project")
            .option(
                OptionSpec::choice("build-type", "CMake build type", &["Debug", "Release", "RelWithDebInfo"])
                    .default("Release"),
            )
            .option(OptionSpec::text("cmake-args", "Extra arguments for CMake's configure step, space-separated"))
            .option(OptionSpec::boolean("skip-tests", "Build only; do not run ctest").default("false"))
            .option(OptionSpec::text("base-image", "The Debian-based image to build in").default(BASE_IMAGE))
            .needs_container()
            // Its recipe runs apt-get: image builds have no network without this.
            .needs_image_network()
    }

    /// The image the steps run in. The host builds it once, tagged by a hash
    /// of the recipe, and reuses it while the recipe is unchanged.
    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let base = options.text("base-image").unwrap_or(BASE_IMAGE);
        Ok(vec![ImageRecipe::new("build", base).run(
            "RUN apt-get update \\\n \
             && apt-get install -y --no-install-recommends cmake ninja-build gcc g++ libc6-dev ccache \\\n \
             && rm -rf /var/lib/apt/lists/*",
        )])
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let options = &ctx.options;
        let build_type = format!("-DCMAKE_BUILD_TYPE={}", options.text("build-type").unwrap_or("Release"));
        let mut configure = vec!["cmake", "-S", "/src", "-B", "/out/build", "-G", "Ninja", &build_type];
        configure.extend(["-DCMAKE_C_COMPILER_LAUNCHER=ccache", "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"]);
        configure.extend(options.text("cmake-args").unwrap_or_default().split_whitespace());
        step("configure", configure).run_checked()?;
        step("compile", ["cmake", "--build", "/out/build"]).run_checked()?;
        let report = BuildReport::new().step("configure").step("compile");
        if options.flag("skip-tests") {
            return Ok(report);
        }
        let ctest =
            ["ctest", "--test-dir", "/out/build", "--output-on-failure", "--output-junit", "/out/test-report.xml"];
        let outcome = step("test", ctest).run()?;
        let (passed, failed, skipped) = junit_counts(TEST_REPORT);
        if outcome.exit_code != 0 {
            return Err(Error::StepFailed { step: "test".into(), exit_code: outcome.exit_code, tail: outcome.tail });
        }
        Ok(report.step("test").tests(passed, failed, skipped))
    }

    /// What the build produced, as paths relative to the output tree.
    fn detect_artifacts(_ctx: &Context) -> Result<Vec<Artifact>> {
        let mut found = Vec::new();
        for entry in list(BUILD_DIR)? {
            // Regular files only: libhello.so.1.0.0, not its symlinks.
            if entry.kind != EntryKind::File {
                continue;
            }
            let path = format!("{BUILD_DIR}/{}", entry.name);
            if entry.name.contains(".so") {
                found.push(Artifact::new(&path, ArtifactRole::Primary).property("linkage", "dynamic"));
            } else if entry.name.ends_with(".a") {
                found.push(Artifact::new(&path, ArtifactRole::Primary).property("linkage", "static"));
            }
        }
        if workspace::metadata(Tree::Output, TEST_REPORT).is_ok() {
            found.push(Artifact::new(TEST_REPORT, ArtifactRole::TestReport));
        }
        Ok(found)
    }
}

const BASE_IMAGE: &str = "hostbuild/bookworm:amd64";

/// A step in the `build` image with the source, output and cache mounted.
fn step<'a>(name: &str, argv: impl IntoIterator<Item = &'a str>) -> Step {
    Step::new(name, "build", argv)
        .mount(Volume::Source, "/src")
        .mount(Volume::Output, "/out")
        .mount(Volume::Cache, "/cache")
}

fn list(dir: &str) -> Result<Vec<workspace::Entry>> {
    workspace::list(Tree::Output, dir).map_err(|e| Error::failed(format!("cannot list {dir}: {e:?}")))
}

/// Passed, failed and skipped tests from the `tests`, `failures` and
/// `skipped` attributes of ctest's JUnit report (zeros without one).
fn junit_counts(path: &str) -> (u32, u32, u32) {
    let xml = workspace::read(Tree::Output, path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    // The first ` name="N"` is the <testsuite>'s.
    let attribute = |name: &str| -> u32 {
        let key = format!("{name}=\"");
        let mut from = 0;
        while let Some(at) = xml[from..].find(&key).map(|i| from + i) {
            if xml[..at].ends_with(char::is_whitespace) {
                return xml[at + key.len()..].split('"').next().and_then(|n| n.parse().ok()).unwrap_or(0);
            }
            from = at + key.len();
        }
        0
    };
    let (tests, failures, skipped) = (attribute("tests"), attribute("failures"), attribute("skipped"));
    (tests.saturating_sub(failures + skipped), failures, skipped)
}

export_platform!({{Type}});
