//! {{name}}: makes a container image for the project and tags it.
//!
//! - image `env`: the base image plus the Debian packages of the
//!   `apt-packages` option and of the project's `apt.txt` (one per line,
//!   `#` comments), read when the recipe is made;
//! - step `check`: runs the `check` command in the new image, with the
//!   project read-only at /src;
//! - artifact: the image, tagged as the `tag` option says. Tagging (and
//!   pushing, with `run --publish`) acts with your engine and registry, so
//!   the plugin declares `publish` and you allow the name:
//!   `hostbuild run {{crate}}.wasm --allow-push {{name}}`.

use hostbuild_sdk::host::workspace::{self, Tree};
use hostbuild_sdk::*;

const BASE_IMAGE: &str = "hostbuild/bookworm:amd64";
/// The project's package list, in the source tree.
const APT_FILE: &str = "apt.txt";

/// The platform's name: `build.{{name}}/` is its output tree.
const NAME: &str = "{{name}}";

struct {{Type}};

impl Platform for {{Type}} {
    /// Who the platform is, its options, what it needs. Runs before any grant
    /// is checked, so it must not call the host.
    fn describe() -> Description {
        Description::new(NAME, env!("CARGO_PKG_VERSION"), "Makes a container image for the project")
            .option(OptionSpec::text("tag", "The image's reference").default(&format!("{NAME}:latest")))
            .option(OptionSpec::text("apt-packages", "Debian packages to install, space-separated").default("python3"))
            .option(OptionSpec::text("check", "A command run in the image to check it").default("python3 --version"))
            .option(OptionSpec::text("base-image", "The Debian-based image to start from").default(BASE_IMAGE))
            .needs_container()
            // Its recipe runs apt-get: image builds have no network without this.
            .needs_image_network()
            // Its artifact is an image: tagging and pushing it needs this.
            .needs_publish()
    }

    /// The image. The host builds it once, tagged by a hash of the recipe
    /// (this `apt.txt` included), and reuses it while the recipe is unchanged.
    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        let base = options.text("base-image").unwrap_or(BASE_IMAGE);
        let listed = workspace::read(Tree::Source, APT_FILE).map(|b| String::from_utf8_lossy(&b).into_owned());
        let mut packages: Vec<String> =
            options.text("apt-packages").unwrap_or_default().split_whitespace().map(String::from).collect();
        for line in listed.unwrap_or_default().lines() {
            packages.extend(line.split('#').next().unwrap_or_default().split_whitespace().map(String::from));
        }
        if let Some(bad) =
            packages.iter().find(|p| !p.chars().all(|c| c.is_ascii_alphanumeric() || "+-.:=~".contains(c)))
        {
            return Err(Error::InvalidOption(format!("`{bad}` is not a Debian package name")));
        }
        let mut recipe = ImageRecipe::new("env", base);
        if !packages.is_empty() {
            recipe = recipe.run(&format!(
                "RUN apt-get update \\\n \
                 && apt-get install -y --no-install-recommends {} \\\n \
                 && rm -rf /var/lib/apt/lists/*",
                packages.join(" ")
            ));
        }
        Ok(vec![recipe])
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        let check = ctx.options.text("check").unwrap_or("true");
        let outcome = Step::new("check", "env", ["sh", "-c", check])
            .mount(Volume::Source, "/src")
            .workdir("/src")
            .run_checked()?;
        let mut report = BuildReport::new().step("check");
        if let Some(line) = outcome.tail.last() {
            report = report.note(&format!("check: {line}"));
        }
        Ok(report)
    }

    /// The image, by the reference to tag it with; `image` names the recipe.
    fn detect_artifacts(ctx: &Context) -> Result<Vec<Artifact>> {
        let tag = ctx.options.text("tag").map_or_else(|| format!("{NAME}:latest"), String::from);
        Ok(vec![Artifact::new(&tag, ArtifactRole::Image).property("image", "env")])
    }
}

export_platform!({{Type}});
