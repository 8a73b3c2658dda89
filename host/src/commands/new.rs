//! `hostbuild new PATH [--template cmake|wheel|image]`: writes a platform
//! plugin crate from the templates in `host/templates/` (compiled into the
//! binary): Cargo.toml with hostbuild-sdk as a versioned dependency (and a
//! `[patch.crates-io]` entry saying where to take it from until it is
//! published), src/lib.rs, README.md, test.sh, .gitignore and rustfmt.toml.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::Usage;
use crate::cli::{NewArgs, Template};
use crate::diagnostics::ExitStatus;
use crate::project::bundled;

/// The SDK's manifest, read for its version: the one the templates ask for.
const SDK_MANIFEST: &str = include_str!("../../../sdk/Cargo.toml");

const CARGO_TOML: &str = include_str!("../../templates/common/Cargo.toml");
const README: &str = include_str!("../../templates/common/README.md");
const TEST_SH: &str = include_str!("../../templates/common/test.sh");
const GITIGNORE: &str = include_str!("../../templates/common/gitignore");
const RUSTFMT: &str = include_str!("../../templates/common/rustfmt.toml");

/// What differs between templates.
struct Kind {
    lib: &'static str,
    about: &'static str,
    summary: &'static str,
    /// The SOURCE shown in examples.
    example: &'static str,
    /// Flags `run` needs for it beyond the source.
    run_flags: &'static str,
    /// How `plugins add` grants it what it needs.
    grants: &'static str,
}

fn kind(template: Template) -> Kind {
    match template {
        Template::Cmake => Kind {
            lib: include_str!("../../templates/cmake/lib.rs"),
            about: include_str!("../../templates/cmake/about.md"),
            summary: "Builds and tests a CMake project (a hostbuild platform)",
            example: "path/to/cmake/project",
            run_flags: "",
            grants: "--grant-declared",
        },
        Template::Wheel => Kind {
            lib: include_str!("../../templates/wheel/lib.rs"),
            about: include_str!("../../templates/wheel/about.md"),
            summary: "Builds a Python wheel and checks it imports (a hostbuild platform)",
            example: "path/to/python/project",
            run_flags: "",
            grants: "--grant-declared",
        },
        Template::Image => Kind {
            lib: include_str!("../../templates/image/lib.rs"),
            about: include_str!("../../templates/image/about.md"),
            summary: "Makes a container image for a project (a hostbuild platform)",
            example: ".",
            run_flags: "--allow-push {{name}} ",
            grants: "--grant container --grant image-network --grant publish --grant push:{{name}}",
        },
    }
}

pub fn new(args: NewArgs) -> anyhow::Result<ExitStatus> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
    };
    if !is_platform_name(&name) {
        return Err(Usage {
            message: format!("`{name}` cannot name a platform"),
            hint: "use lowercase letters, digits and `-`, starting with a letter (or pass --name NAME)".into(),
        }
        .into());
    }
    let sdk = sdk_version();
    let (patch, from) = sdk_patch(&args, &sdk)?;
    let files = render(args.template, &name, &sdk, &patch);
    create_dir(&args.path)?;
    for (relative, text, executable) in &files {
        write_new(&args.path.join(relative), text, *executable)?;
    }
    let dir = args.path.display();
    let (template, kind) = (template_name(args.template), kind(args.template));
    println!("created the {template} platform `{name}` in {dir}/");
    match from {
        Some(from) => println!("  hostbuild-sdk {sdk} from {from} ([patch.crates-io] in Cargo.toml)"),
        None => println!(
            "  hostbuild-sdk {sdk} from crates.io; until it is published there, add the [patch.crates-io] \
             entry README.md shows (or run `hostbuild new` with --sdk-git URL or --sdk-path DIR)"
        ),
    }
    println!("next:\n  cd {dir}\n  ./test.sh {}    # builds, inspects and runs it", kind.example);
    Ok(ExitStatus::Success)
}

/// The files of a new crate: path, text, whether executable.
fn render(template: Template, name: &str, sdk: &str, patch: &str) -> Vec<(&'static str, String, bool)> {
    let kind = kind(template);
    let fill = |text: &str| {
        text.replace("{{about}}", kind.about.trim_end())
            .replace("{{run-flags}}", kind.run_flags)
            .replace("{{grants}}", kind.grants)
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{Type}}", &type_name(name))
            .replace("{{summary}}", kind.summary)
            .replace("{{example}}", kind.example)
            .replace("{{template}}", template_name(template))
            .replace("{{sdk-minor}}", sdk.rsplit_once('.').map_or(sdk, |(minor, _)| minor))
            .replace("{{sdk-version}}", sdk)
            .replace("{{hostbuild-version}}", env!("CARGO_PKG_VERSION"))
            .replace("{{patch}}", patch)
            .trim_end()
            .to_string()
            + "\n"
    };
    vec![
        ("Cargo.toml", fill(CARGO_TOML), false),
        ("src/lib.rs", fill(kind.lib), false),
        ("README.md", fill(README), false),
        ("test.sh", fill(TEST_SH), true),
        (".gitignore", fill(GITIGNORE), false),
        ("rustfmt.toml", fill(RUSTFMT), false),
    ]
}

fn template_name(template: Template) -> &'static str {
    match template {
        Template::Cmake => "cmake",
        Template::Wheel => "wheel",
        Template::Image => "image",
    }
}

/// The SDK version the templates ask for: this repository's hostbuild-sdk.
fn sdk_version() -> String {
    let version = SDK_MANIFEST.lines().find_map(|l| l.strip_prefix("version = \"")?.strip_suffix('"'));
    version.expect("sdk/Cargo.toml has a version line").to_string()
}

/// The `[patch.crates-io]` text and where it points, from --sdk-git,
/// --sdk-path, or the SDK installed beside this binary; none otherwise.
fn sdk_patch(args: &NewArgs, sdk: &str) -> anyhow::Result<(String, Option<String>)> {
    let quote = |s: &str| toml::Value::String(s.into()).to_string();
    let entry = |spec: String| format!("\n[patch.crates-io]\nhostbuild-sdk = {{ {spec} }}\n");
    if let Some(url) = &args.sdk_git {
        let tag = format!("hostbuild-sdk-v{sdk}");
        let spec = format!("git = {}, tag = {}", quote(url), quote(&tag));
        return Ok((entry(spec), Some(format!("{url} (tag {tag})"))));
    }
    let dir = match &args.sdk_path {
        Some(dir) => Some(checked_sdk_dir(dir)?),
        None => bundled::sdk(),
    };
    Ok(match dir {
        Some(dir) => {
            let text = dir.display().to_string();
            (entry(format!("path = {}", quote(&text))), Some(text))
        }
        None => (String::new(), None),
    })
}

/// An SDK crate directory given by the user, made absolute.
fn checked_sdk_dir(dir: &Path) -> Result<PathBuf, Usage> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    match dir.canonicalize() {
        Ok(absolute) if manifest.contains("name = \"hostbuild-sdk\"") => Ok(absolute),
        _ => Err(Usage {
            message: format!("{} is not a hostbuild-sdk crate", dir.display()),
            hint: "pass the sdk/ directory of a hostbuild checkout".into(),
        }),
    }
}

/// Creates `dir`, which must not exist (or be empty).
fn create_dir(dir: &Path) -> anyhow::Result<()> {
    let empty = std::fs::read_dir(dir).map(|mut d| d.next().is_none());
    if matches!(empty, Ok(false)) || dir.is_file() {
        return Err(Usage {
            message: format!("{} already exists", dir.display()),
            hint: "choose a new directory; `hostbuild new` never writes over files".into(),
        }
        .into());
    }
    std::fs::create_dir_all(dir.join("src")).with_context(|| format!("cannot create {}", dir.display()))
}

fn write_new(path: &Path, text: &str, executable: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mode = if executable { 0o755 } else { 0o644 };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

/// The rule `describe()` names are checked against, and no trailing `-`
/// (the name is the crate's too).
fn is_platform_name(name: &str) -> bool {
    crate::description::is_platform_name(name) && !name.ends_with('-')
}

/// `my-cmake` -> `MyCmakePlatform`: never one of the SDK's names.
fn type_name(name: &str) -> String {
    let mut out = String::new();
    for part in name.split('-').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        out.push_str(chars.as_str());
    }
    out + "Platform"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types() {
        assert!(is_platform_name("mine") && is_platform_name("my-cmake2"));
        for bad in ["", "Mine", "2x", "a_b", "x-", "../x", "a b"] {
            assert!(!is_platform_name(bad), "{bad}");
        }
        assert_eq!(type_name("my-cmake2"), "MyCmake2Platform");
        assert_eq!(type_name("step"), "StepPlatform");
    }

    #[test]
    fn every_placeholder_is_filled() {
        for template in [Template::Cmake, Template::Wheel, Template::Image] {
            for (path, text, _) in render(template, "my-plat", &sdk_version(), "") {
                assert!(!text.contains("{{"), "{path} of {template:?} keeps a placeholder:\n{text}");
            }
        }
    }

    #[test]
    fn the_sdk_version_is_the_wit_track() {
        let sdk = semver::Version::parse(&sdk_version()).unwrap();
        let wit = crate::runtime::HOST_WIT_VERSION;
        assert_eq!((sdk.major, sdk.minor), (wit.major, wit.minor));
    }
}
