//! The README's CI recipes, run the way their CI would: each job's commands
//! in order with bash, with the job's variables and its secrets (here the
//! credentials of a loopback S3 server), in a committed checkout of
//! examples/cmake-hello whose hostbuild.toml and hostbuild.lock pin armv7.
//! Only the install step is replaced, by this build on PATH (install.sh has
//! its own test). Checked: the set published to S3, GitHub's step summary,
//! and that a plugin whose bytes no longer match the lock stops the job.

use std::path::{Path, PathBuf};
use std::process::Command;

use hostbuild_tests::{binary, plugin, root, s3_env, s3s_fs, Hostbuild, Run, S3_KEY, S3_SECRET};

/// A CI job: its variables, its install commands and its other commands.
#[derive(Debug, Default)]
struct Job {
    env: Vec<(String, String)>,
    install: Vec<String>,
    commands: Vec<String>,
}

/// The ```yaml block under the README heading `heading`.
fn readme_yaml(heading: &str) -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let at = readme.find(&format!("\n{heading}\n")).unwrap_or_else(|| panic!("no `{heading}` in README.md"));
    let start = at + readme[at..].find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    readme[start..start + readme[start..].find("```").expect("the block ends")].to_string()
}

/// A YAML scalar as the CI would hand it to the job, secrets filled in.
fn value(raw: &str) -> String {
    let raw = raw.trim().trim_matches('"');
    match raw {
        "${{ secrets.AWS_ACCESS_KEY_ID }}" => S3_KEY.into(),
        "${{ secrets.AWS_SECRET_ACCESS_KEY }}" => S3_SECRET.into(),
        other => {
            assert!(!other.contains("${{"), "a secret the test does not provide: {other}");
            other.into()
        }
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The job of a GitHub Actions workflow: `env:`, and each step's one-line
/// `run:` (the step named `Install hostbuild` is the install).
fn github_job(yaml: &str) -> Job {
    let mut job = Job::default();
    let (mut env_indent, mut step) = (None, String::new());
    for line in yaml.lines().filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#')) {
        let text = line.trim();
        if env_indent.is_some_and(|i| indent(line) > i) {
            let (key, v) = text.split_once(": ").expect("KEY: value under env:");
            job.env.push((key.into(), value(v)));
            continue;
        }
        env_indent = (text == "env:").then(|| indent(line));
        let item = text.strip_prefix("- ");
        if item.is_some() {
            step.clear();
        }
        let text = item.unwrap_or(text);
        if let Some(name) = text.strip_prefix("name: ") {
            step = name.into();
        }
        if let Some(command) = text.strip_prefix("run: ") {
            assert!(!command.starts_with('|') && !command.starts_with('>'), "the test runs one-line `run:` only");
            match step.as_str() {
                "Install hostbuild" => job.install.push(command.into()),
                _ => job.commands.push(command.into()),
            }
        }
    }
    job
}

/// A GitLab CI job: `variables:`, `before_script:` (the install) and `script:`.
fn gitlab_job(yaml: &str) -> Job {
    let mut job = Job::default();
    let mut section: Option<(String, usize)> = None;
    for line in yaml.lines().filter(|l| !l.trim().is_empty() && !l.trim().starts_with('#')) {
        let text = line.trim();
        if let Some((name, _)) = section.clone().filter(|(_, i)| indent(line) > *i) {
            match (name.as_str(), text.strip_prefix("- ")) {
                ("variables", None) => {
                    let (key, v) = text.split_once(": ").expect("KEY: value under variables:");
                    job.env.push((key.into(), value(v)));
                }
                ("before_script", Some(command)) => job.install.push(command.into()),
                ("script", Some(command)) => job.commands.push(command.into()),
                _ => panic!("the test does not read `{text}` under {name}:"),
            }
            continue;
        }
        let known = |name: &&str| ["variables", "before_script", "script"].contains(name);
        section = text.strip_suffix(':').filter(known).map(|name| (name.to_string(), indent(line)));
    }
    job
}

/// A checkout of examples/cmake-hello with armv7 pinned (hostbuild.toml,
/// hostbuild.lock made by `hostbuild lock`), committed.
fn pinned_checkout(hb: &Hostbuild) -> (tempfile::TempDir, PathBuf) {
    let checkout = hostbuild_tests::example_copy("cmake-hello");
    let dir = checkout.path().to_path_buf();
    std::fs::create_dir(dir.join("platforms")).unwrap();
    std::fs::copy(plugin("armv7"), dir.join("platforms/armv7.wasm")).unwrap();
    std::fs::write(
        dir.join("hostbuild.toml"),
        "[plugins.armv7]\nsource = \"platforms/armv7.wasm\"\nversion = \"^0.1\"\n\
         grants = { container = true, image-network = true, emulation = [\"arm\"] }\n",
    )
    .unwrap();
    std::fs::write(dir.join(".gitignore"), "build.*/\n").unwrap();
    Run::from(hb.command().arg("lock").current_dir(&dir).output().unwrap()).expect(0, &[]);
    let git = |args: &[&str]| {
        let out = Command::new("git").arg("-C").arg(&dir).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["-c", "user.email=ci@example.invalid", "-c", "user.name=ci", "commit", "-q", "-m", "pin armv7"]);
    (checkout, dir)
}

/// Runs one command of `job` in `dir` as the CI would, with this build's
/// hostbuild on PATH in place of the install step.
fn ci_command(hb: &Hostbuild, job: &Job, s3_port: u16, dir: &Path, command: &str) -> Command {
    let bin = binary().parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("bash");
    cmd.args(["-eo", "pipefail", "-c", command]).current_dir(dir).env("PATH", path);
    cmd.env("HOSTBUILD_CACHE_DIR", hb.cache.path()).env_remove("GITHUB_STEP_SUMMARY");
    for var in
        ["HOSTBUILD_SHA", "MXNET_SHA", "GIT_COMMIT", "HOSTBUILD_PLUGIN_TIME_LIMIT", "HOSTBUILD_PLUGIN_MEMORY_LIMIT"]
    {
        cmd.env_remove(var);
    }
    // The runner's environment points the AWS SDK at the loopback server;
    // the job's variables (with the secrets) come on top.
    s3_env(&mut cmd, s3_port);
    cmd.envs(job.env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// Runs `job` and checks what every recipe promises; returns the checkout.
fn run_job(job: &Job, summary: Option<&Path>) -> (tempfile::TempDir, PathBuf, tempfile::TempDir) {
    assert!(job.install.iter().any(|c| c.contains("scripts/install.sh")), "the job installs hostbuild: {job:?}");
    let env = |key: &str| job.env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    assert_eq!(env("HOSTBUILD_LOCKED"), Some("1"), "{job:?}");
    let store = env("HOSTBUILD_STORE").expect("the job names its store").to_string();
    let (bucket, prefix) = store.strip_prefix("s3://").and_then(|s| s.split_once('/')).expect("s3://bucket/prefix");

    let hb = Hostbuild::new();
    let (checkout, dir) = pinned_checkout(&hb);
    let s3_root = tempfile::tempdir().unwrap();
    std::fs::create_dir(s3_root.path().join(bucket)).unwrap();
    let s3 = s3s_fs(s3_root.path());
    for command in &job.commands {
        let mut cmd = ci_command(&hb, job, s3.port, &dir, command);
        if let Some(file) = summary {
            cmd.env("GITHUB_STEP_SUMMARY", file);
        }
        let run = Run::from(cmd.output().unwrap());
        assert_eq!(run.code, 0, "`{command}` failed:\n{}\n{}", run.stdout, run.stderr);
    }

    // The set is in S3 under <prefix>/<commit>/<os>/<variant>/<linkage>/.
    let head = Command::new("git").arg("-C").arg(&dir).args(["rev-parse", "HEAD"]).output().unwrap();
    let commit = String::from_utf8_lossy(&head.stdout).trim().to_string();
    let set = s3_root.path().join(bucket).join(prefix).join(&commit).join("debian12/cpu/dynamic");
    assert!(set.join("manifest.json").is_file(), "no set published at {}", set.display());
    assert!(set.join("libhello.so.1.0.0").is_file());

    // HOSTBUILD_LOCKED=1 of the job: other bytes behind the pinned source stop it.
    std::fs::copy(plugin("cuda"), dir.join("platforms/armv7.wasm")).unwrap();
    let run_command = job.commands.iter().find(|c| c.starts_with("hostbuild run")).expect("the job runs hostbuild");
    let drifted = Run::from(ci_command(&hb, job, s3.port, &dir, run_command).output().unwrap());
    drifted.expect(12, &["armv7", "hostbuild.lock"]);
    (checkout, dir, s3_root)
}

#[test]
fn the_github_actions_recipe_builds_publishes_and_writes_the_step_summary() {
    let job = github_job(&readme_yaml("#### GitHub Actions"));
    assert_eq!(job.commands.len(), 2, "{job:?}");
    let pages = tempfile::tempdir().unwrap();
    let summary = pages.path().join("step_summary.md");
    let _kept = run_job(&job, Some(&summary));
    let text = std::fs::read_to_string(&summary).expect("the step summary was written");
    for snippet in [
        "### hostbuild run",
        "| armv7 | 0\\.1\\.0 | 3 | 3 passed, 0 failed, 0 skipped | 6 |",
        "| primary | build\\/libhello\\.so\\.1\\.0\\.0 |",
        "| test-report | test\\-report\\.xml |",
        "published: ",
    ] {
        assert!(text.contains(snippet), "the summary lacks {snippet:?}:\n{text}");
    }
}

#[test]
fn the_gitlab_ci_recipe_builds_and_publishes() {
    let job = gitlab_job(&readme_yaml("#### GitLab CI"));
    assert_eq!(job.commands.len(), 2, "{job:?}");
    run_job(&job, None);
}
