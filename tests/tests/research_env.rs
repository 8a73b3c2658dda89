//! Research environments: runtime and dev images from an example
//! `dependencies/` tree, a command run as the invoking user with a lent data
//! directory, files in the output owned by that user, the freeze step
//! writing resolved versions back into the source, and the dev shell.

use std::path::Path;
use std::process::Command;

use hostbuild_tests::{docker, example_copy, inspect_images, plugin, Hostbuild, Run};

const PIP_ARGS: &str = "--no-index --find-links /tmp/deps/wheels";

/// A tiny pure-Python wheel, so the environment has a pip-installed package
/// without any index (containers here cannot reach PyPI).
fn tiny_wheel(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let script = r#"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1] + "/tinypkg-1.0-py3-none-any.whl", "w") as z:
    z.writestr("tinypkg/__init__.py", "VALUE = 42\n")
    z.writestr("tinypkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n")
    z.writestr("tinypkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("tinypkg-1.0.dist-info/RECORD", "tinypkg/__init__.py,,\ntinypkg-1.0.dist-info/METADATA,,\ntinypkg-1.0.dist-info/WHEEL,,\ntinypkg-1.0.dist-info/RECORD,,\n")
"#;
    let status = Command::new("python3").args(["-c", script]).arg(dir).status().unwrap();
    assert!(status.success());
}

/// What the project grants research-env: containers, apt/pip in its image
/// builds, and tagging its images under `research-env/`.
const IMAGE_GRANTS: &str = "container = true, image-network = true, publish = true, push = [\"research-env/\"]";

/// The example project with a pip requirement, owned by uid 4321.
fn project(grants: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let src = example_copy("research-env");
    tiny_wheel(&src.path().join("dependencies/wheels"));
    let reqs = src.path().join("dependencies/requirements.txt");
    std::fs::write(&reqs, std::fs::read_to_string(&reqs).unwrap() + "tinypkg\n").unwrap();
    assert!(Command::new("chown").args(["-R", "4321:4322"]).arg(src.path()).status().unwrap().success());
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("data")).unwrap();
    std::fs::write(work.path().join("data/input.txt"), "1 2 3 4 5").unwrap();
    // The template's .env values, as hostbuild.toml entries.
    let toml = format!(
        "[plugins.research-env]\nsource = \"{}\"\ngrants = {{ {grants} }}\nmounts = {{ data = \"data:ro\" }}\n\
         options = {{ command = \"python train.py\", freeze = true, pip-args = \"{PIP_ARGS}\" }}\n",
        plugin("research-env").display()
    );
    std::fs::write(work.path().join("hostbuild.toml"), toml).unwrap();
    (src, work)
}

fn as_user(hb: &Hostbuild, work: &Path, args: &[&str]) -> Run {
    let mut cmd = hb.command();
    cmd.current_dir(work).env("SUDO_UID", "4321").env("SUDO_GID", "4322").args(args);
    Run::from(cmd.output().unwrap())
}

fn owner(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).unwrap();
    (m.uid(), m.gid())
}

#[test]
fn builds_runtime_and_dev_runs_as_the_user_with_data_and_freezes() {
    let hb = Hostbuild::new();
    let (src, work) = project(&format!("{IMAGE_GRANTS}, write-source = true"));
    let source = src.path().to_str().unwrap();
    let run = as_user(&hb, work.path(), &["run", "research-env", "--source", source, "--out", "out", "--json"]);
    run.expect(0, &["wrote /work/out/result.txt: mean=3.00 numpy="]);
    let p = &run.json()["platforms"][0];
    assert!(p["notes"].to_string().contains("as 4321:4322"), "{}", p["notes"]);
    let result = work.path().join("out/build.research-env/result.txt");
    assert_eq!(owner(&result), (4321, 4322));
    assert!(std::fs::read_to_string(&result).unwrap().starts_with("mean=3.00"));
    // freeze wrote the resolved versions back into the source.
    let frozen = std::fs::read_to_string(src.path().join("dependencies/requirements.txt")).unwrap();
    assert!(frozen.contains("tinypkg==1.0"), "{frozen}");
    assert!(!frozen.contains("numpy"), "apt's packages stay in apt-runtime.txt: {frozen}");

    // Both images, tagged locally; only dev has apt-dev.txt's packages.
    let less = |image: &str| docker(&["run", "--rm", image, "sh", "-c", "command -v less || echo none"]);
    assert_eq!(less("research-env/cpu:runtime").trim(), "none");
    assert_eq!(less("research-env/cpu:dev").trim(), "/usr/bin/less");

    // The dev shell: the invoking user, the project, the data.
    let shell = as_user(
        &hb,
        work.path(),
        &[
            "shell",
            "research-env",
            "--image",
            "dev",
            "--source",
            source,
            "--out",
            "out",
            "--",
            "sh",
            "-c",
            "id -u; cat /work/data/input.txt; echo; python -c 'import tinypkg; print(tinypkg.VALUE)'",
        ],
    );
    shell.expect(0, &["source: /work/src read-write"]);
    assert_eq!(shell.stdout.lines().collect::<Vec<_>>(), ["4321", "1 2 3 4 5", "42"]);
}

#[test]
fn freeze_without_write_source_is_refused_with_the_fix() {
    let hb = Hostbuild::new();
    let (src, work) = project(IMAGE_GRANTS);
    let source = src.path().to_str().unwrap();
    as_user(&hb, work.path(), &["run", "research-env", "--source", source, "--out", "out"]).expect(
        7,
        &["step `freeze` exited with status 3", "cannot write dependencies/requirements.txt", "write-source"],
    );
    assert!(!std::fs::read_to_string(src.path().join("dependencies/requirements.txt"))
        .unwrap()
        .contains("resolved by hostbuild"));
}

#[test]
fn the_gpu_flavor_starts_every_stage_from_the_cuda_image() {
    let hb = Hostbuild::new();
    let images = inspect_images(&hb, "research-env", &["flavor=gpu", "cuda=12.4"])["images"].clone();
    assert_eq!((images[0]["name"].as_str(), images[1]["name"].as_str()), (Some("runtime"), Some("dev")));
    let dev = images[1]["dockerfile"].as_str().unwrap();
    assert!(dev.starts_with("FROM nvidia/cuda:12.4.1-devel-ubuntu22.04 AS build"), "{dev}");
    assert!(
        dev.contains("FROM nvidia/cuda:12.4.1-devel-ubuntu22.04 AS runtime") && dev.contains("FROM runtime AS dev")
    );
    assert!(!images[0]["dockerfile"].as_str().unwrap().contains("AS dev"));
}
