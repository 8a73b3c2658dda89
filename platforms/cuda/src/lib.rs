//! The CUDA platform: builds and tests a CMake project in NVIDIA's
//! `nvidia/cuda:<release>-devel-<os>` image for the chosen CUDA version
//! (or any base image given with `base-image`), with the GPUs lent to every
//! step as `docker run --gpus` would, ccache in the platform's cache volume
//! and optionally MKL. The artifacts' variant is what the build really used,
//! as MXNet's artifact repository names it: `nvcc --version` inside the image
//! gives `cu121`, the CMake cache adds `mkl`; no nvcc means `cpu`.

use hostbuild_sdk::*;
use platform_kit::cmake::{self, BUILD_DIR, BUILD_ENV, OUT};
use platform_kit::cuda::{self as versions, Cuda};
use platform_kit::{elf, licenses, os_name};

/// The driver capabilities the steps ask for (`NVIDIA_DRIVER_CAPABILITIES`).
const DRIVER_CAPABILITIES: &[&str] = &["compute", "utility"];

/// Records what the build image has: nvcc's banner (absent without nvcc),
/// the NVIDIA/CUDA environment and the machine.
fn record() -> String {
    let dir = format!("{OUT}/{BUILD_ENV}");
    format!(
        "{} \
         && (env | grep -E '^(NVIDIA_|CUDA_VERSION=)' | sort > {dir}/nvidia.env || true) \
         && uname -m > {dir}/machine",
        versions::record_nvcc(&dir)
    )
}

struct CudaPlatform;

/// The CUDA release of the options (validated by the host against the choices).
fn cuda_of(options: &Options) -> Result<Cuda> {
    let version = options.text("cuda").unwrap_or(Cuda::newest().version);
    Cuda::find(version)
        .ok_or_else(|| Error::InvalidOption(format!("cuda={version} is not a CUDA release this plugin knows")))
}

/// `gpus=all` or a count.
fn gpu_count(options: &Options) -> Result<Option<u32>> {
    match options.text("gpus").unwrap_or("all") {
        "all" => Ok(None),
        n => n
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| Error::InvalidOption(format!("gpus={n}: give `all` or a number of GPUs, e.g. gpus=1"))),
    }
}

/// A CMake step in the build image with the GPUs and the CUDA requirement.
fn gpu_step(name: &str, script: &str, options: &Options) -> Result<Step> {
    Ok(cmake::step(name, "build", script)
        .gpus(gpu_count(options)?, DRIVER_CAPABILITIES)
        .env("NVIDIA_REQUIRE_CUDA", &cuda_of(options)?.requirement()))
}

impl Platform for CudaPlatform {
    fn describe() -> Description {
        let versions: Vec<&str> = versions::KNOWN.iter().map(|c| c.version).collect();
        let own = [
            OptionSpec::choice("cuda", "CUDA version; picks the nvidia/cuda devel image", &versions)
                .default(Cuda::newest().version),
            OptionSpec::text(
                "base-image",
                "Build image to start from instead of nvidia/cuda:<release>-devel-<os> (a site mirror, a local image)",
            ),
            OptionSpec::boolean("mkl", "Install Intel MKL and configure with USE_MKL=ON (variant gets `mkl`)")
                .default("false"),
            OptionSpec::text("gpus", "GPUs each step gets: `all` or a number").default("all"),
            OptionSpec::text("cuda-architectures", "CMAKE_CUDA_ARCHITECTURES, e.g. `80;90` (default: nvcc's)"),
        ];
        own.into_iter()
            .chain(cmake::options())
            .fold(Description::new("cuda", env!("CARGO_PKG_VERSION"), env!("CARGO_PKG_DESCRIPTION")), |d, o| {
                d.option(o)
            })
            .needs_container()
            .needs_image_network()
            .needs_gpu()
    }

    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let cuda = cuda_of(options)?;
        gpu_count(options)?;
        let base = options.text("base-image").map(String::from).unwrap_or_else(|| cuda.devel_image());
        let mut build = ImageRecipe::new("build", &base).run(
            "ENV DEBIAN_FRONTEND=noninteractive\n\
             RUN apt-get update \\\n && apt-get install -y --no-install-recommends \\\n    \
             build-essential cmake ninja-build ccache \\\n && rm -rf /var/lib/apt/lists/*",
        );
        if options.flag("mkl") {
            // Ubuntu has MKL in multiverse (on in NVIDIA's images); Debian in non-free.
            build = build.run(
                "RUN . /etc/os-release \\\n \
                 && if [ \"$ID\" = debian ]; then sed -i -E 's/^(deb .* main)$/\\1 non-free/' /etc/apt/sources.list; fi \\\n \
                 && apt-get update && apt-get install -y --no-install-recommends libmkl-dev \\\n \
                 && rm -rf /var/lib/apt/lists/*",
            );
        }
        Ok(vec![build])
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let options = &ctx.options;
        let cuda = cuda_of(options)?;
        let mut defines = vec![
            "-DCMAKE_C_COMPILER_LAUNCHER=ccache".to_string(),
            "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache".into(),
            "-DCMAKE_CUDA_COMPILER_LAUNCHER=ccache".into(),
        ];
        if let Some(arch) = options.text("cuda-architectures") {
            defines.push(format!("-DCMAKE_CUDA_ARCHITECTURES={arch}"));
        }
        if options.flag("mkl") {
            defines.extend(["-DUSE_MKL=ON".to_string(), "-DBLA_VENDOR=Intel10_64lp".into()]);
        }
        gpu_step("configure", &cmake::configure_script(options, &defines, &record()), options)?.run_checked()?;
        let compile = gpu_step("compile", cmake::COMPILE_SCRIPT, options)?.run_checked()?;
        let mut report = BuildReport::new().step("configure").step("compile");
        if let Some(note) = cmake::ccache_note(&compile) {
            report = report.note(&note);
        }
        let found = versions::recorded_release();
        report = match found {
            Some((major, minor)) if format!("{major}.{minor}") != cuda.version => {
                let line = format!("the image has CUDA {major}.{minor}, not cuda={} as asked", cuda.version);
                host::warn(&line);
                report.note(&line)
            }
            Some((major, minor)) => report.note(&format!("built with CUDA {major}.{minor}")),
            None => report.note("no nvcc in the build image: CPU-only build (variant cpu)"),
        };
        if options.flag("skip-tests") {
            return Ok(report.note("tests skipped (skip-tests=true)"));
        }
        let test = gpu_step("test", &cmake::ctest_script(options), options)?.run()?;
        let (report, machine) = cmake::record_tests(test, report)?;
        Ok(report.note(&format!("tests ran on {machine}")))
    }

    fn detect_artifacts(_ctx: &Context) -> Result<Vec<Artifact>> {
        let os = cmake::build_env("os-release").map(|r| os_name(&r)).unwrap_or_default();
        let cuda = versions::recorded_release();
        let cache = host::workspace::read(host::workspace::Tree::Output, &format!("{BUILD_DIR}/CMakeCache.txt"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let mkl = versions::mkl_enabled(&cache);
        let variant = versions::variant(cuda, mkl);
        let arch = match cmake::build_env("machine").as_deref().map(str::trim) {
            Some("aarch64") => "arm64",
            _ => "amd64",
        };
        let cuda_text = cuda.map(|(major, minor)| format!("{major}.{minor}")).unwrap_or_else(|| "none".into());
        let props = |a: Artifact| {
            a.property("platform", "cuda")
                .property("arch", arch)
                .property("variant", &variant)
                .property("os", &os)
                .property("cuda", &cuda_text)
                .property("mkl", if mkl { "true" } else { "false" })
        };
        let mut found = cmake::binaries(&[elf::EM_X86_64, elf::EM_AARCH64], props)?;
        found.extend(licenses(props)?);
        found.extend(cmake::test_report(props));
        Ok(found)
    }
}

export_platform!(CudaPlatform);
