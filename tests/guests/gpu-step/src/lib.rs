//! Runs `nvidia-smi` with GPUs requested; on a host without an NVIDIA
//! runtime the run must stop before any image is built.
use hostbuild_sdk::*;

struct GpuStep;

impl Platform for GpuStep {
    fn describe() -> Description {
        Description::new("gpu-step", "0.1.0", "Runs nvidia-smi on all GPUs").needs_gpu()
    }

    fn image(_: &Options) -> Result<Vec<ImageRecipe>> {
        Ok(vec![ImageRecipe::new("main", "hostbuild/bookworm:amd64")])
    }

    fn build(_: &Context) -> Result<BuildReport> {
        Step::new("smi", "main", ["nvidia-smi"]).gpus(None, &["compute", "utility"]).run_checked()?;
        Ok(BuildReport::new().step("smi"))
    }
}

export_platform!(GpuStep);
