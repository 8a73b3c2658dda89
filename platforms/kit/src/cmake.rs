//! The CMake flow the C/C++ platforms share: options, a configure step that
//! also records the build environment, compile with ccache, ctest with a
//! JUnit report, and finding the binaries the build made.

use hostbuild_sdk::host::workspace::{self, Tree};
use hostbuild_sdk::{
    Artifact, ArtifactRole, BuildReport, Error, OptionSpec, Options, Result, Step, StepOutcome, Volume,
};

use crate::{elf, junit, quote, walk_output};

/// Where the logical volumes appear in the containers.
pub const SRC: &str = "/work/src";
pub const OUT: &str = "/work/out";
pub const CCACHE: &str = "/work/ccache";
/// The CMake build tree, inside the output tree.
pub const BUILD_DIR: &str = "build";
pub const TEST_REPORT: &str = "test-report.xml";
/// What the configure step records about the build image, in the output tree.
pub const BUILD_ENV: &str = "build-env";

/// The options every CMake platform accepts.
pub fn options() -> Vec<OptionSpec> {
    vec![
        OptionSpec::choice("build-type", "CMake build type", &["Debug", "Release", "RelWithDebInfo", "MinSizeRel"])
            .default("Release"),
        OptionSpec::text("cmake-args", "Extra arguments for the CMake configure step, space-separated"),
        OptionSpec::boolean("skip-tests", "Build only; do not run ctest").default("false"),
        OptionSpec::text("test-filter", "Run only tests whose name matches this regex (ctest -R)"),
    ]
}

/// A step in `image` with the source, output and cache volumes mounted.
pub fn step(name: &str, image: &str, script: &str) -> Step {
    Step::new(name, image, ["sh", "-c", script])
        .mount(Volume::Source, SRC)
        .mount(Volume::Output, OUT)
        .mount(Volume::Cache, CCACHE)
        .workdir(OUT)
}

/// The configure script: copies the image's os-release into `build-env/`,
/// runs `record` (more facts about the image, may be empty), then CMake with
/// Ninja, ccache launchers, the build type, `defines` and the user's
/// `cmake-args`.
pub fn configure_script(options: &Options, defines: &[String], record: &str) -> String {
    let mut argv = vec![
        "cmake".to_string(),
        "-S".into(),
        SRC.into(),
        "-B".into(),
        format!("{OUT}/{BUILD_DIR}"),
        "-G".into(),
        "Ninja".into(),
        format!("-DCMAKE_BUILD_TYPE={}", options.text("build-type").unwrap_or("Release")),
    ];
    argv.extend(defines.iter().cloned());
    argv.extend(options.text("cmake-args").unwrap_or_default().split_whitespace().map(String::from));
    let argv: Vec<String> = argv.iter().map(|w| quote(w)).collect();
    let record = if record.is_empty() { String::new() } else { format!("{record} && ") };
    format!(
        "mkdir -p {OUT}/{BUILD_ENV} && cp /etc/os-release {OUT}/{BUILD_ENV}/os-release && {record}{}",
        argv.join(" ")
    )
}

/// The compile script: builds with ccache statistics around it.
pub const COMPILE_SCRIPT: &str = "ccache -z >/dev/null && cmake --build /work/out/build && ccache -s";

/// `ccache Hits: ...` from the compile step's output, for the run summary.
pub fn ccache_note(compile: &StepOutcome) -> Option<String> {
    compile.tail.iter().find(|l| l.trim_start().starts_with("Hits:")).map(|h| format!("ccache {}", h.trim()))
}

/// The test script: prints the machine it runs on, then ctest with a JUnit report.
pub fn ctest_script(options: &Options) -> String {
    let mut ctest = format!(
        "echo \"running tests on $(uname -m)\" && ctest --test-dir {OUT}/{BUILD_DIR} --output-on-failure \
         --no-tests=error --output-junit {OUT}/{TEST_REPORT}"
    );
    if let Some(filter) = options.text("test-filter") {
        ctest.push_str(&format!(" -R {}", quote(filter)));
    }
    ctest
}

/// Adds the outcome of the test step to `report`: counts from the JUnit
/// report, or a step failure naming the failed tests.
pub fn record_tests(test: StepOutcome, report: BuildReport) -> Result<(BuildReport, String)> {
    let machine = test.tail.iter().find_map(|l| l.strip_prefix("running tests on ")).unwrap_or("?").to_string();
    let xml = workspace::read(Tree::Output, TEST_REPORT).map(|b| String::from_utf8_lossy(&b).into_owned());
    let (summary, failed) = junit::summarize(&xml.unwrap_or_default());
    if test.exit_code != 0 {
        let mut tail = test.tail;
        if !failed.is_empty() {
            tail.push(format!("failed tests: {}", failed.join(", ")));
        }
        return Err(Error::StepFailed { step: "test".into(), exit_code: test.exit_code, tail });
    }
    Ok((report.step("test").tests(summary.passed, summary.failed, summary.skipped), machine))
}

/// A file the configure step recorded in `build-env/`, if it did.
pub fn build_env(name: &str) -> Option<String> {
    workspace::read(Tree::Output, &format!("{BUILD_ENV}/{name}")).ok().map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// The shared and static libraries and executables under the build tree
/// for one of `machines`, with `kind` and `linkage` properties;
/// ELF files for other machines are skipped with a warning.
pub fn binaries(machines: &[u16], props: impl Fn(Artifact) -> Artifact) -> Result<Vec<Artifact>> {
    let mut found = Vec::new();
    walk_output(BUILD_DIR, |path, entry| {
        let bytes = workspace::read(Tree::Output, path).map_err(|e| Error::failed(format!("{path}: {e:?}")))?;
        let (kind, dynamic) = match elf::classify(&bytes) {
            elf::Binary::Elf { machine, .. } if !machines.contains(&machine) => {
                hostbuild_sdk::host::warn(&format!("{path} is an ELF file for machine {machine}; skipped"));
                return Ok(());
            }
            elf::Binary::Elf { shared_object: true, dynamic, .. } if entry.name.contains(".so") => {
                ("shared-library", dynamic)
            }
            elf::Binary::Elf { dynamic, .. } if entry.executable => ("executable", dynamic),
            elf::Binary::Archive if entry.name.ends_with(".a") => ("static-library", false),
            _ => return Ok(()),
        };
        found.push(
            props(Artifact::new(path, ArtifactRole::Primary))
                .property("kind", kind)
                .property("linkage", if dynamic { "dynamic" } else { "static" }),
        );
        Ok(())
    })?;
    found.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    Ok(found)
}

/// The test report, when the test step wrote one.
pub fn test_report(props: impl Fn(Artifact) -> Artifact) -> Option<Artifact> {
    workspace::metadata(Tree::Output, TEST_REPORT)
        .ok()
        .map(|_| props(Artifact::new(TEST_REPORT, ArtifactRole::TestReport)))
}
