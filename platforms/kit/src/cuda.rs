//! The CUDA releases hostbuild's platforms know, and MXNet-style variant
//! names (`cpu`, `mkl`, `cu121`, `cu121mkl`) from what a build really used.

/// One CUDA release and NVIDIA's devel image for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cuda {
    /// `major.minor`, as users write it in `--opt cuda=12.1`.
    pub version: &'static str,
    /// The full release of the image tag.
    pub release: &'static str,
    /// The image's OS, as in the tag.
    pub os: &'static str,
}

/// Oldest first; the last one is the default.
pub const KNOWN: &[Cuda] = &[
    Cuda { version: "11.8", release: "11.8.0", os: "ubuntu22.04" },
    Cuda { version: "12.1", release: "12.1.1", os: "ubuntu22.04" },
    Cuda { version: "12.4", release: "12.4.1", os: "ubuntu22.04" },
    Cuda { version: "12.6", release: "12.6.3", os: "ubuntu24.04" },
    Cuda { version: "12.8", release: "12.8.1", os: "ubuntu24.04" },
    Cuda { version: "13.0", release: "13.0.0", os: "ubuntu24.04" },
];

impl Cuda {
    pub fn find(version: &str) -> Option<Cuda> {
        KNOWN.iter().copied().find(|c| c.version == version)
    }

    pub fn newest() -> Cuda {
        KNOWN[KNOWN.len() - 1]
    }

    /// `nvidia/cuda:12.1.1-devel-ubuntu22.04`.
    pub fn devel_image(&self) -> String {
        format!("nvidia/cuda:{}-devel-{}", self.release, self.os)
    }

    /// The `NVIDIA_REQUIRE_CUDA` constraint: the driver must support this release.
    pub fn requirement(&self) -> String {
        format!("cuda>={}", self.version)
    }
}

/// Where build steps record `nvcc --version`, in the output tree's build-env/.
const NVCC_FILE: &str = "nvcc-version.txt";

/// Shell that records nvcc's banner in `dir` (a container path), or removes
/// a stale record when the image has no nvcc.
pub fn record_nvcc(dir: &str) -> String {
    format!("if command -v nvcc >/dev/null; then nvcc --version > {dir}/{NVCC_FILE}; else rm -f {dir}/{NVCC_FILE}; fi")
}

/// The CUDA release a build's image had, from what [`record_nvcc`] wrote.
pub fn recorded_release() -> Option<(u32, u32)> {
    crate::cmake::build_env(NVCC_FILE).as_deref().and_then(nvcc_release)
}

/// `(major, minor)` from the output of `nvcc --version`, read from its
/// `Cuda compilation tools, release 12.1, V12.1.105` line.
pub fn nvcc_release(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().find(|l| l.contains("Cuda compilation tools"))?;
    let release = line.split("release ").nth(1)?.split(',').next()?.trim();
    let (major, minor) = release.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The variant name MXNet's artifact repository uses: `cu` + major + minor
/// when built with CUDA, `cpu` otherwise, `mkl` appended (or alone) with MKL.
pub fn variant(cuda: Option<(u32, u32)>, mkl: bool) -> String {
    match (cuda, mkl) {
        (Some((major, minor)), mkl) => format!("cu{major}{minor}{}", if mkl { "mkl" } else { "" }),
        (None, true) => "mkl".into(),
        (None, false) => "cpu".into(),
    }
}

/// Whether the CMake cache says the build used MKL: `USE_MKL` on (what
/// `mkl=true` passes) or FindBLAS asked for an Intel vendor.
pub fn mkl_enabled(cmake_cache: &str) -> bool {
    cmake_cache.lines().any(|l| {
        let Some((key, value)) = l.split_once('=') else { return false };
        let name = key.split(':').next().unwrap_or_default();
        match name {
            "USE_MKL" | "USE_MKLDNN" | "MKL_FOUND" => {
                matches!(value.trim().to_ascii_uppercase().as_str(), "ON" | "TRUE" | "1" | "YES")
            }
            "BLA_VENDOR" => value.starts_with("Intel"),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real `nvcc --version` texts, as the releases print them.
    const NVCC_9_2: &str = "nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2018 NVIDIA Corporation
Built on Tue_Jun_12_23:07:04_CDT_2018
Cuda compilation tools, release 9.2, V9.2.148
";
    const NVCC_10_1: &str = "nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2019 NVIDIA Corporation
Built on Sun_Jul_28_19:07:16_PDT_2019
Cuda compilation tools, release 10.1, V10.1.243
";
    const NVCC_11_8: &str = "nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2022 NVIDIA Corporation
Built on Wed_Sep_21_10:33:58_PDT_2022
Cuda compilation tools, release 11.8, V11.8.89
Build cuda_11.8.r11.8/compiler.31833905_0
";
    const NVCC_12_1: &str = "nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2023 NVIDIA Corporation
Built on Mon_Apr__3_17:16:06_PDT_2023
Cuda compilation tools, release 12.1, V12.1.105
Build cuda_12.1.r12.1/compiler.32688072_0
";
    const NVCC_12_4: &str = "nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2024 NVIDIA Corporation
Built on Thu_Mar_28_02:18:24_PDT_2024
Cuda compilation tools, release 12.4, V12.4.131
Build cuda_12.4.r12.4/compiler.34097967_0
";
    const NVCC_12_8: &str = "nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2025 NVIDIA Corporation
Built on Fri_Feb_21_20:23:50_PST_2025
Cuda compilation tools, release 12.8, V12.8.93
Build cuda_12.8.r12.8/compiler.35583870_0
";
    const NVCC_13_0: &str = "nvcc: NVIDIA (R) Cuda compiler driver
Copyright (c) 2005-2025 NVIDIA Corporation
Built on Wed_Aug_20_01:58:59_PM_PDT_2025
Cuda compilation tools, release 13.0, V13.0.88
Build cuda_13.0.r13.0/compiler.36424714_0
";

    #[test]
    fn reads_the_release_of_every_nvcc() {
        let cases = [
            (NVCC_9_2, (9, 2), "cu92"),
            (NVCC_10_1, (10, 1), "cu101"),
            (NVCC_11_8, (11, 8), "cu118"),
            (NVCC_12_1, (12, 1), "cu121"),
            (NVCC_12_4, (12, 4), "cu124"),
            (NVCC_12_8, (12, 8), "cu128"),
            (NVCC_13_0, (13, 0), "cu130"),
        ];
        for (text, release, name) in cases {
            assert_eq!(nvcc_release(text), Some(release), "{text}");
            assert_eq!(variant(nvcc_release(text), false), name);
        }
        assert_eq!(variant(nvcc_release(NVCC_12_1), true), "cu121mkl");
    }

    #[test]
    fn no_nvcc_is_cpu_or_mkl() {
        assert_eq!(nvcc_release("sh: 1: nvcc: not found"), None);
        assert_eq!(nvcc_release(""), None);
        assert_eq!(nvcc_release("Cuda compilation tools, release twelve"), None);
        assert_eq!(variant(None, false), "cpu");
        assert_eq!(variant(None, true), "mkl");
    }

    #[test]
    fn mkl_comes_from_the_cmake_cache() {
        assert!(mkl_enabled("//Use MKL\nUSE_MKL:BOOL=ON\n"));
        assert!(mkl_enabled("BLA_VENDOR:STRING=Intel10_64lp\n"));
        assert!(!mkl_enabled("USE_MKL:BOOL=OFF\nBLA_VENDOR:STRING=OpenBLAS\n"));
        assert!(!mkl_enabled("CMAKE_BUILD_TYPE:STRING=Release\n"));
    }

    #[test]
    fn images_and_requirements() {
        let c = Cuda::find("12.1").unwrap();
        assert_eq!(c.devel_image(), "nvidia/cuda:12.1.1-devel-ubuntu22.04");
        assert_eq!(c.requirement(), "cuda>=12.1");
        assert_eq!(Cuda::newest().version, "13.0");
        assert_eq!(Cuda::find("10.0"), None);
    }
}
