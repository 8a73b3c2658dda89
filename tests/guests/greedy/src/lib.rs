//! A guest for the grant tests: it declares every capability there is, so a
//! project must grant each one (checked at load); with `image=arm64` it
//! returns a linux/arm64 recipe although it declared only arm emulation,
//! which the host refuses at the call.
use hostbuild_sdk::*;

struct Greedy;

impl Platform for Greedy {
    fn describe() -> Description {
        Description::new("greedy", env!("CARGO_PKG_VERSION"), "Asks for everything")
            .option(OptionSpec::choice("image", "Which image to ask for", &["none", "arm64"]).default("none"))
            .needs_container()
            .needs_emulation(CpuArch::Arm)
            .needs_gpu()
            .needs_network()
            .needs_image_network()
            .needs_publish()
            .reads_env("GREEDY_TOKEN")
    }

    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        match options.text("image") {
            Some("arm64") => Ok(vec![ImageRecipe::new("main", "hostbuild/bookworm:arm64").platform("linux/arm64")]),
            _ => Ok(Vec::new()),
        }
    }

    fn build(_: &Context) -> Result<BuildReport> {
        host::info(&format!("token={:?}", host::env_var("GREEDY_TOKEN")));
        Ok(BuildReport::new().note("asked for nothing at run time"))
    }

    fn detect_artifacts(_: &Context) -> Result<Vec<Artifact>> {
        Ok(Vec::new())
    }
}

export_platform!(Greedy);
