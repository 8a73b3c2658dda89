//! The armv7 platform: builds any CMake project with Debian's
//! `arm-linux-gnueabihf` cross toolchain on amd64, then runs its tests in a
//! `linux/arm/v7` container under QEMU user emulation.

use hostbuild_sdk::*;

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
                 cmake ninja-build ccache file \\\n && rm -rf /var/lib/apt/lists/*",
            )
            .file("armv7-toolchain.cmake", TOOLCHAIN_FILE)
            .run("COPY armv7-toolchain.cmake /opt/hostbuild/armv7-toolchain.cmake");
        let test = ImageRecipe::new("test", BASE_ARMV7).platform("linux/arm/v7").run(
            "RUN apt-get update \\\n && apt-get install -y --no-install-recommends cmake \\\n \
                 && rm -rf /var/lib/apt/lists/*",
        );
        Ok(vec![build, test])
    }

    fn build(_ctx: &Context) -> Result<BuildReport> {
        Err(Error::Unsupported("the armv7 build steps are not written yet".into()))
    }
}

export_platform!(Armv7);
