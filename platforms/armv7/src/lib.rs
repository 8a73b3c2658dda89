//! The armv7 platform: builds any CMake project with Debian's
//! `arm-linux-gnueabihf` cross toolchain (ccache in the platform's cache
//! volume) on amd64, then runs its tests with ctest in a `linux/arm/v7`
//! container under QEMU user emulation, so the binaries really execute as
//! armv7. It replaces MXNet's `build.py -p armv7` + `test.armv7`.

use hostbuild_sdk::*;
use platform_kit::cmake::{self, OUT, SRC};
use platform_kit::{elf, licenses, os_name};

/// Base images made offline by `cargo xtask images`.
const BASE_AMD64: &str = "hostbuild/bookworm:amd64";
const BASE_ARMV7: &str = "hostbuild/bookworm:armv7";

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

impl Platform for Armv7 {
    fn describe() -> Description {
        cmake::options()
            .into_iter()
            .fold(Description::new("armv7", env!("CARGO_PKG_VERSION"), env!("CARGO_PKG_DESCRIPTION")), |d, o| {
                d.option(o)
            })
            .needs_container()
            .needs_image_network()
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
        let toolchain = ["-DCMAKE_TOOLCHAIN_FILE=/opt/hostbuild/armv7-toolchain.cmake".to_string()];
        cmake::step("configure", "build", &cmake::configure_script(options, &toolchain, "")).run_checked()?;
        let compile = cmake::step("compile", "build", cmake::COMPILE_SCRIPT).run_checked()?;
        let mut report = BuildReport::new().step("configure").step("compile");
        if let Some(note) = cmake::ccache_note(&compile) {
            report = report.note(&note);
        }
        if options.flag("skip-tests") {
            return Ok(report.note("tests skipped (skip-tests=true)"));
        }
        // The armv7 image has no ccache volume: only source and output.
        let test = Step::new("test", "test", ["sh", "-c", &cmake::ctest_script(options)])
            .mount(Volume::Source, SRC)
            .mount(Volume::Output, OUT)
            .workdir(OUT)
            .run()?;
        let (report, machine) = cmake::record_tests(test, report)?;
        Ok(report.note(&format!("tests ran on {machine} under QEMU user emulation")))
    }

    fn detect_artifacts(_ctx: &Context) -> Result<Vec<Artifact>> {
        let os = cmake::build_env("os-release").map(|r| os_name(&r)).unwrap_or_default();
        let props = |a: Artifact| {
            a.property("platform", "armv7").property("arch", "armv7").property("variant", "cpu").property("os", &os)
        };
        let mut found = cmake::binaries(&[elf::EM_ARM], props)?;
        found.extend(licenses(props)?);
        found.extend(cmake::test_report(props));
        Ok(found)
    }
}

export_platform!(Armv7);
