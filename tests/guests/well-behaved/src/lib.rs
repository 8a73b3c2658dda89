//! Declares one option of every kind and echoes what it receives, so tests
//! can check option parsing, defaults and the host imports end to end.
use hostbuild_sdk::host::workspace::{self, Tree};
use hostbuild_sdk::*;

struct WellBehaved;

impl Platform for WellBehaved {
    fn describe() -> Description {
        Description::new("well-behaved", "1.2.3", "Echoes its options; needs nothing")
            .option(OptionSpec::text("greeting", "Text to log").default("hello"))
            .option(OptionSpec::boolean("loud", "Shout"))
            .option(OptionSpec::integer("times", "How often").default("1"))
            .option(OptionSpec::choice("flavour", "One of a few", &["plain", "fancy"]).default("plain"))
            .reads_env("WELL_BEHAVED_VISIBLE")
    }

    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let greeting = options.text("greeting").unwrap_or_default().to_string();
        let greeting = if options.flag("loud") { greeting.to_uppercase() } else { greeting };
        for _ in 0..options.integer("times").unwrap_or(1) {
            host::info(&format!("{greeting} ({})", options.text("flavour").unwrap_or("?")));
        }
        host::info(&format!("visible={:?}", host::env_var("WELL_BEHAVED_VISIBLE")));
        host::info(&format!("hidden={:?}", host::env_var("HOME")));
        // WASI is closed: no ambient environment, no preopened directories.
        host::info(&format!("wasi-env={:?}", std::env::var("HOME").ok()));
        host::info(&format!("wasi-fs={}", std::fs::read_dir("/").is_ok()));
        Ok(Vec::new())
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let source = workspace::list(Tree::Source, "").map_err(|e| Error::failed(format!("{e:?}")))?;
        host::info(&format!("source has {} entries", source.len()));
        let escape = workspace::read(Tree::Source, "../etc/passwd");
        host::info(&format!("escape attempt: {escape:?}"));
        // Not declared: the host refuses the artifact repository at the call.
        host::info(&format!("artifacts: {:?}", host::artifacts::exists("anything")));
        let write_source = workspace::write("../outside.txt", b"x");
        host::info(&format!("write outside: {write_source:?}"));
        workspace::write("report/hello.txt", ctx.run_id.as_bytes()).map_err(|e| Error::failed(format!("{e:?}")))?;
        Ok(BuildReport::new().note("wrote report/hello.txt"))
    }

    fn detect_artifacts(_ctx: &Context) -> Result<Vec<Artifact>> {
        Ok(vec![Artifact::new("report/hello.txt", ArtifactRole::TestReport).property("variant", "cpu")])
    }
}

export_platform!(WellBehaved);
