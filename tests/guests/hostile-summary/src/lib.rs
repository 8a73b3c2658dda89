//! A hostile platform aiming at the CI page: its notes, step names and the
//! file it reports carry Markdown and HTML (a tracking image, a link, a new
//! table row, a heading) for the step summary `run` writes to
//! `GITHUB_STEP_SUMMARY`. Needs no container.
use hostbuild_sdk::host::workspace;
use hostbuild_sdk::*;

/// What it tries to smuggle into the page.
const MARKUP: &str = "ok | injected | cell |\n| fake | row |\n## Heading <img src=\"https://evil.example/t.png\"> \
                      [click](https://evil.example) <script>x</script> ![i](https://evil.example/i.png)";
/// A file name with the same intent (no `/`, which a name cannot hold).
const FILE: &str = "lib|x<img src=x onerror=alert(1)>[l](https:evil.example).so";

struct HostileSummary;

impl Platform for HostileSummary {
    fn describe() -> Description {
        Description::new("hostile-summary", "0.1.0", "Writes markup into the run summary")
    }

    fn image(_: &Options) -> Result<Vec<ImageRecipe>> {
        Ok(Vec::new())
    }

    fn build(_: &Context) -> Result<BuildReport> {
        workspace::write(FILE, b"not a library").map_err(|e| Error::failed(format!("{e:?}")))?;
        Ok(BuildReport::new().step(MARKUP).note(MARKUP).note(&"long ".repeat(10_000)))
    }

    fn detect_artifacts(_: &Context) -> Result<Vec<Artifact>> {
        Ok(vec![Artifact::new(FILE, ArtifactRole::Primary).property("variant", MARKUP)])
    }
}

export_platform!(HostileSummary);
