//! Shows where the host's proxy variables arrive: its image build (a RUN
//! line prints HTTPS_PROXY), a step with network (it prints the variables),
//! and the plugin itself (it did not declare them: they must read as unset).
use hostbuild_sdk::*;

struct ProxyProbe;

impl Platform for ProxyProbe {
    fn describe() -> Description {
        Description::new("proxy-probe", "0.1.0", "Prints the proxy variables it is given")
            .option(OptionSpec::text("marker", "Text baked into the image; changing it rebuilds").default("one"))
            .needs_container()
            .needs_image_network()
            .needs_network()
    }

    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let marker = options.text("marker").unwrap_or_default();
        Ok(vec![ImageRecipe::new("main", "hostbuild/bookworm:amd64")
            .run(&format!("RUN echo \"{marker} build-proxy=$HTTPS_PROXY build-no-proxy=$no_proxy\""))])
    }

    fn build(_: &Context) -> Result<BuildReport> {
        let outcome = Step::new("env", "main", ["sh", "-c", "echo step-proxy=$HTTPS_PROXY step-no-proxy=$no_proxy"])
            .run_checked()?;
        let mut report = BuildReport::new().step("env");
        for line in outcome.tail {
            report = report.note(&line);
        }
        Ok(report.note(&format!("plugin-proxy={:?}", host::env_var("HTTPS_PROXY"))))
    }

    fn detect_artifacts(_: &Context) -> Result<Vec<Artifact>> {
        Ok(Vec::new())
    }
}

export_platform!(ProxyProbe);
