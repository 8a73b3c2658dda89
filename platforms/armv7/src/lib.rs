//! The armv7 platform: builds any CMake project with Debian's
//! `arm-linux-gnueabihf` cross toolchain (ccache in the platform's cache
//! volume) on amd64, then runs its tests with ctest in a `linux/arm/v7`
//! container under QEMU user emulation, so the binaries really execute as
//! armv7. It replaces MXNet's `build.py -p armv7` + `test.armv7`.

mod elf;
mod junit;

use hostbuild_sdk::host::workspace::{self, EntryKind, Tree};
use hostbuild_sdk::*;

/// Base images made offline by `cargo xtask images`.
const BASE_AMD64: &str = "hostbuild/bookworm:amd64";
const BASE_ARMV7: &str = "hostbuild/bookworm:armv7";

/// Where the logical volumes appear in the containers.
const SRC: &str = "/work/src";
const OUT: &str = "/work/out";
const CCACHE: &str = "/work/ccache";
/// The CMake build tree, inside the output tree.
const BUILD_DIR: &str = "build";
const TEST_REPORT: &str = "test-report.xml";
/// A copy of the build image's os-release, for the `os` property.
const OS_RELEASE: &str = "build-env/os-release";

const TOOLCHAIN_FILE: &str = "\
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_C_COMPILER_LAUNCHER ccache)
set(CMAKE_CXX_COMPILER_LAUNCHER ccache)
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
";

struct Armv7;

fn in_build_image(name: &str, script: &str) -> Step {
    Step::new(name, "build", ["sh", "-c", script])
        .mount(Volume::Source, SRC)
        .mount(Volume::Output, OUT)
        .mount(Volume::Cache, CCACHE)
        .workdir(OUT)
}

/// Quotes one word for `sh`.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

impl Platform for Armv7 {
    fn describe() -> Description {
        Description::new("armv7", env!("CARGO_PKG_VERSION"), env!("CARGO_PKG_DESCRIPTION"))
            .option(
                OptionSpec::choice(
                    "build-type",
                    "CMake build type",
                    &["Debug", "Release", "RelWithDebInfo", "MinSizeRel"],
                )
                .default("Release"),
            )
            .option(OptionSpec::text("cmake-args", "Extra arguments for the CMake configure step, space-separated"))
            .option(OptionSpec::boolean("skip-tests", "Build only; do not run ctest under emulation").default("false"))
            .option(OptionSpec::text("test-filter", "Run only tests whose name matches this regex (ctest -R)"))
            .needs_container()
            .needs_emulation(CpuArch::Arm)
    }

    fn image(_options: &Options) -> Result<Vec<ImageRecipe>> {
        let build = ImageRecipe::new("build", BASE_AMD64)
            .run(
                "RUN apt-get update \\\n && apt-get install -y --no-install-recommends \\\n    \
                 gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf libc6-dev-armhf-cross \\\n    \
                 cmake ninja-build ccache \\\n && rm -rf /var/lib/apt/lists/*",
            )
            .file("armv7-toolchain.cmake", TOOLCHAIN_FILE)
            .run("COPY armv7-toolchain.cmake /opt/hostbuild/armv7-toolchain.cmake");
        let test = ImageRecipe::new("test", BASE_ARMV7).platform("linux/arm/v7").run(
            "RUN apt-get update \\\n && apt-get install -y --no-install-recommends cmake \\\n \
             && rm -rf /var/lib/apt/lists/*",
        );
        Ok(vec![build, test])
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let options = &ctx.options;
        let mut configure = vec![
            "cmake".to_string(),
            "-S".into(),
            SRC.into(),
            "-B".into(),
            format!("{OUT}/{BUILD_DIR}"),
            "-G".into(),
            "Ninja".into(),
            "-DCMAKE_TOOLCHAIN_FILE=/opt/hostbuild/armv7-toolchain.cmake".into(),
            format!("-DCMAKE_BUILD_TYPE={}", options.text("build-type").unwrap_or("Release")),
        ];
        configure.extend(options.text("cmake-args").unwrap_or_default().split_whitespace().map(String::from));
        let configure: Vec<String> = configure.iter().map(|w| quote(w)).collect();
        let script =
            format!("mkdir -p {OUT}/build-env && cp /etc/os-release {OUT}/{OS_RELEASE} && {}", configure.join(" "));
        in_build_image("configure", &script).run_checked()?;

        let compile =
            in_build_image("compile", &format!("ccache -z >/dev/null && cmake --build {OUT}/{BUILD_DIR} && ccache -s"))
                .run_checked()?;
        let mut report = BuildReport::new().step("configure").step("compile");
        if let Some(hits) = compile.tail.iter().find(|l| l.trim_start().starts_with("Hits:")) {
            report = report.note(&format!("ccache {}", hits.trim()));
        }
        if options.flag("skip-tests") {
            return Ok(report.note("tests skipped (skip-tests=true)"));
        }

        let mut ctest = format!(
            "echo \"running tests on $(uname -m)\" && ctest --test-dir {OUT}/{BUILD_DIR} --output-on-failure \
             --no-tests=error --output-junit {OUT}/{TEST_REPORT}"
        );
        if let Some(filter) = options.text("test-filter") {
            ctest.push_str(&format!(" -R {}", quote(filter)));
        }
        let test = Step::new("test", "test", ["sh", "-c", &ctest])
            .mount(Volume::Source, SRC)
            .mount(Volume::Output, OUT)
            .workdir(OUT)
            .run()?;
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
        Ok(report
            .step("test")
            .tests(summary.passed, summary.failed, summary.skipped)
            .note(&format!("tests ran on {machine} under QEMU user emulation")))
    }

    fn detect_artifacts(_ctx: &Context) -> Result<Vec<Artifact>> {
        let os = workspace::read(Tree::Output, OS_RELEASE)
            .map(|b| os_name(&String::from_utf8_lossy(&b)))
            .unwrap_or_default();
        let props = |a: Artifact| {
            a.property("platform", "armv7").property("arch", "armv7").property("variant", "cpu").property("os", &os)
        };
        let mut found = Vec::new();
        let mut pending = vec![BUILD_DIR.to_string()];
        while let Some(dir) = pending.pop() {
            let entries =
                workspace::list(Tree::Output, &dir).map_err(|e| Error::failed(format!("listing {dir}: {e:?}")))?;
            for entry in entries {
                let path = format!("{dir}/{}", entry.name);
                match entry.kind {
                    EntryKind::Directory if entry.name != "CMakeFiles" && !entry.name.starts_with('.') => {
                        pending.push(path)
                    }
                    EntryKind::File => {
                        let bytes = workspace::read(Tree::Output, &path)
                            .map_err(|e| Error::failed(format!("{path}: {e:?}")))?;
                        let (kind, linkage) = match elf::classify(&bytes) {
                            elf::Binary::Arm { shared_object: true, dynamic } if entry.name.contains(".so") => {
                                ("shared-library", dynamic)
                            }
                            elf::Binary::Arm { dynamic, .. } if entry.executable => ("executable", dynamic),
                            elf::Binary::Archive if entry.name.ends_with(".a") => ("static-library", false),
                            elf::Binary::OtherElf(machine) => {
                                host::warn(&format!("{path} is an ELF file for machine {machine}, not ARM; skipped"));
                                continue;
                            }
                            _ => continue,
                        };
                        let linkage = if linkage { "dynamic" } else { "static" };
                        found.push(
                            props(Artifact::new(&path, ArtifactRole::Primary))
                                .property("kind", kind)
                                .property("linkage", linkage),
                        );
                    }
                    _ => {}
                }
            }
        }
        found.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        for entry in workspace::list(Tree::Source, "").unwrap_or_default() {
            let upper = entry.name.to_ascii_uppercase();
            if entry.kind == EntryKind::File
                && ["LICENSE", "LICENCE", "COPYING", "NOTICE"].iter().any(|p| upper.starts_with(p))
            {
                let text = workspace::read(Tree::Source, &entry.name).map_err(|e| Error::failed(format!("{e:?}")))?;
                let dest = format!("licenses/{}", entry.name);
                workspace::write(&dest, &text).map_err(|e| Error::failed(format!("{e:?}")))?;
                found.push(props(Artifact::new(&dest, ArtifactRole::License)));
            }
        }
        if workspace::metadata(Tree::Output, TEST_REPORT).is_ok() {
            found.push(props(Artifact::new(TEST_REPORT, ArtifactRole::TestReport)));
        }
        Ok(found)
    }
}

/// `debian12` from an os-release file (`ID` + `VERSION_ID`).
fn os_name(os_release: &str) -> String {
    let field = |k: &str| {
        os_release.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix('=')).map(|v| v.trim_matches('"').to_string())
    };
    format!("{}{}", field("ID").unwrap_or_default(), field("VERSION_ID").unwrap_or_default())
}

export_platform!(Armv7);

#[cfg(test)]
mod tests {
    #[test]
    fn os_name_and_quoting() {
        assert_eq!(super::os_name("PRETTY_NAME=\"Debian\"\nID=debian\nVERSION_ID=\"12\"\n"), "debian12");
        assert_eq!(super::quote("it's"), r"'it'\''s'");
    }
}
