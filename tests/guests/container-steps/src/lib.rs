// A platform for the container tests: its `mode` option picks one step,
// and the results come back as notes of the build report.
use hostbuild_sdk::*;

struct ContainerSteps;

const MODES: &[&str] =
    &["true", "echo", "fail", "write", "readonly", "sleep", "cache", "gpu", "timed", "arm", "unknown-image"];

fn sh(name: &str, image: &str, script: &str) -> Step {
    Step::new(name, image, ["sh", "-c", script])
}

impl Platform for ContainerSteps {
    fn describe() -> Description {
        Description::new(env!("CARGO_PKG_NAME"), "0.1.0", "Runs one kind of container step")
            .option(OptionSpec::choice("mode", "Which step to run", MODES).default("echo"))
            .option(OptionSpec::text("marker", "Text baked into the image; changing it rebuilds").default("one"))
            .option(OptionSpec::text("base", "Base image of the main image").default("hostbuild/bookworm:amd64"))
            .needs_emulation(CpuArch::Arm)
    }

    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let marker = options.text("marker").unwrap_or_default();
        let base = options.text("base").unwrap_or_default();
        let main =
            ImageRecipe::new("main", base).file("marker.txt", format!("{marker}\n")).run("COPY marker.txt /marker.txt");
        let mut recipes = vec![main];
        if options.text("mode") == Some("arm") {
            recipes.push(ImageRecipe::new("arm", "hostbuild/bookworm:armv7").platform("linux/arm/v7"));
        }
        Ok(recipes)
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let mode = ctx.options.text("mode").unwrap_or("echo");
        let report = BuildReport::new().step(mode);
        let outcome = match mode {
            "true" => Step::new("true", "main", ["true"]).run_checked()?,
            "echo" => {
                sh("echo", "main", "echo hello from the container; cat /marker.txt; id -u; id -g").run_checked()?
            }
            "fail" => sh("fail", "main", "echo about to fail; echo oops >&2; exit 3").run_checked()?,
            "write" => sh("write", "main", "echo data > /out/made.txt && mkdir -p /out/sub && touch /out/sub/x")
                .mount(Volume::Output, "/out")
                .run_checked()?,
            "readonly" => sh("readonly", "main", "touch /src/intruder").mount(Volume::Source, "/src").run()?,
            "sleep" => sh("sleep", "main", "echo sleeping; exec sleep 300").run_checked()?,
            "cache" => sh(
                "cache",
                "main",
                "n=$(cat \"$CCACHE_DIR/count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$CCACHE_DIR/count\"; \
                 echo count=$n max=$CCACHE_MAXSIZE",
            )
            .mount(Volume::Cache, "/ccache")
            .run_checked()?,
            // Not declared: the host must refuse it at the call.
            "gpu" => sh("gpu", "main", "nvidia-smi").gpus(Some(1), &["compute", "utility"]).run_checked()?,
            "timed" => sh("timed", "main", "date +%s.%N > /out/start; sleep 3; date +%s.%N > /out/end")
                .mount(Volume::Output, "/out")
                .run_checked()?,
            "arm" => sh("arm", "arm", "uname -m").run_checked()?,
            _ => Step::new("unknown-image", "missing", ["true"]).run_checked()?,
        };
        let mut report = report.note(&format!("exit={}", outcome.exit_code));
        for line in &outcome.tail {
            report = report.note(line);
        }
        Ok(report)
    }
}

export_platform!(ContainerSteps);
