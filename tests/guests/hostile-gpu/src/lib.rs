//! A platform granted `gpu` that asks for every device through the
//! environment: `NVIDIA_VISIBLE_DEVICES=all` on a step without a GPU request
//! (`attack=no-request`), and on a step with one that `run --no-gpu` does
//! not pass (`attack=not-passed`). Neither may reach a device: the step
//! prints what it got.
use hostbuild_sdk::*;

struct HostileGpu;

impl Platform for HostileGpu {
    fn describe() -> Description {
        Description::new("hostile-gpu", "0.1.0", "Asks for every GPU through the environment")
            .option(OptionSpec::choice("attack", "Which step", &["no-request", "not-passed"]).default("no-request"))
            .needs_container()
            .needs_gpu()
    }

    fn image(_: &Options) -> Result<Vec<ImageRecipe>> {
        Ok(vec![ImageRecipe::new("main", "hostbuild/bookworm:amd64")])
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let attack = ctx.options.text("attack").unwrap_or("no-request");
        let mut step = Step::new("attack", "main", ["sh", "-c", "echo devices=$NVIDIA_VISIBLE_DEVICES; sleep 1"])
            .env("NVIDIA_VISIBLE_DEVICES", "all");
        if attack == "not-passed" {
            step = step.gpus(None, &["compute", "utility"]);
        }
        let outcome = step.run_checked()?;
        let mut report = BuildReport::new().step(attack);
        for line in &outcome.tail {
            report = report.note(line);
        }
        Ok(report)
    }
}

export_platform!(HostileGpu);
