//! `hostbuild new`: each template is written outside the repository with
//! hostbuild-sdk taken from this checkout by `[patch.crates-io]`
//! (`--sdk-path`), is rustfmt-clean, builds for wasm32-wasip2 without a
//! warning and is run by its own test.sh (build, inspect, run) on the real
//! engine: cmake on examples/cmake-hello, wheel on examples/hello-ext, image
//! makes a local image. The git-tag dependency form the README documents
//! builds against a tagged repository. The generated crates share one
//! CARGO_TARGET_DIR (`templates_target()`), so reruns compile little.

use std::path::{Path, PathBuf};
use std::process::Command;

use hostbuild_tests::{
    containers_with, docker, elf_machine, root, run_json, sha256sum, template_test_sh, unique, Hostbuild, Run,
};

/// `hostbuild new DIR/NAME --template TEMPLATE --sdk-path <this checkout>/sdk`.
fn generate(hb: &Hostbuild, parent: &Path, template: &str, name: &str) -> PathBuf {
    let dir = parent.join(name);
    let sdk = root().join("sdk");
    let run = hb.run([
        "new".as_ref(),
        dir.as_os_str(),
        "--template".as_ref(),
        template.as_ref(),
        "--sdk-path".as_ref(),
        sdk.as_os_str(),
    ]);
    run.expect(0, &[]);
    assert!(run.stdout.contains(&format!("created the {template} platform `{name}`")), "{}", run.stdout);
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("hostbuild-sdk = \"0.2\""), "a versioned dependency:\n{manifest}");
    let patch =
        format!("[patch.crates-io]\nhostbuild-sdk = {{ path = \"{}\" }}", sdk.canonicalize().unwrap().display());
    assert!(manifest.contains(&patch), "the [patch] points at this checkout:\n{manifest}");
    let fmt = Command::new("cargo").args(["fmt", "--check", "--manifest-path"]).arg(dir.join("Cargo.toml")).output();
    assert!(fmt.unwrap().status.success(), "the generated code is rustfmt-clean");
    dir
}

/// Runs the crate's test.sh on `source` with `--json` and `extra`; checks
/// that the plugin built, described itself and left no container.
fn test_sh(hb: &Hostbuild, dir: &Path, name: &str, source: &Path, out: &Path, extra: &[&str]) -> Run {
    let output = template_test_sh(hb, dir, out).arg(source).arg("--json").args(extra).output().expect("test.sh runs");
    let run = Run::from(output);
    assert!(containers_with(&format!("hostbuild.plugin={name}")).is_empty(), "containers left running");
    let wasm =
        hostbuild_tests::templates_target().join(format!("wasm32-wasip2/release/{}.wasm", name.replace('-', "_")));
    assert!(wasm.is_file(), "test.sh built {}:\n{}", wasm.display(), run.stderr);
    assert!(run.stdout.contains(&format!("{name} 0.1.0:")), "inspect ran first:\n{}", run.stdout);
    assert!(run.stdout.contains("hostbuild:platform@0.2.0"), "{}", run.stdout);
    run
}

#[test]
fn the_cmake_template_builds_and_tests_a_cmake_project() {
    let hb = Hostbuild::new();
    let parent = tempfile::tempdir().unwrap();
    let dir = generate(&hb, parent.path(), "cmake", "new-cmake");
    let out = parent.path().join("out");
    let run = test_sh(&hb, &dir, "new-cmake", &root().join("examples/cmake-hello"), &out, &[]);
    run.expect(0, &[]);
    let platform = &run_json(&run.stdout)["platforms"][0];
    assert_eq!(platform["name"], "new-cmake");
    assert_eq!(platform["steps"], serde_json::json!(["configure", "compile", "test"]));
    assert_eq!(platform["tests"], serde_json::json!({"passed": 3, "failed": 0, "skipped": 0}));
    let paths: Vec<&str> =
        platform["artifacts"].as_array().unwrap().iter().filter_map(|a| a["path"].as_str()).collect();
    assert_eq!(paths, ["build/libhello.so.1.0.0", "build/libhello_static.a", "test-report.xml"]);
    let lib = out.join("build.new-cmake/build/libhello.so.1.0.0");
    assert_eq!(elf_machine(&lib), 62, "an x86-64 library");
    assert_eq!(platform["artifacts"][0]["sha256"], sha256sum(&lib));
}

#[test]
fn the_wheel_template_builds_a_wheel_that_installs_and_imports() {
    let hb = Hostbuild::new();
    let parent = tempfile::tempdir().unwrap();
    let dir = generate(&hb, parent.path(), "wheel", "new-wheel");
    let out = parent.path().join("out");
    let run = test_sh(&hb, &dir, "new-wheel", &root().join("examples/hello-ext"), &out, &[]);
    run.expect(0, &[]);
    let platform = &run_json(&run.stdout)["platforms"][0];
    assert_eq!(platform["steps"], serde_json::json!(["wheel", "install-check"]));
    assert_eq!(platform["notes"], serde_json::json!(["imported: hello_ext"]));
    let wheel = &platform["artifacts"][0];
    assert_eq!(wheel["path"], "dist/hello_ext-0.1.0-cp311-cp311-linux_x86_64.whl");
    assert_eq!(wheel["role"], "wheel");
    assert_eq!(wheel["properties"]["name"], "hello_ext");
    assert_eq!(wheel["properties"]["platform-tag"], "linux_x86_64");
    let file = out.join("build.new-wheel/dist/hello_ext-0.1.0-cp311-cp311-linux_x86_64.whl");
    let bytes = std::fs::read(&file).unwrap();
    assert!(bytes.starts_with(b"PK\x03\x04"), "a zip file");
    let native = b"hello_ext/_native.cpython-311-x86_64-linux-gnu.so";
    assert!(bytes.windows(native.len()).any(|w| w == native), "the C extension is in the wheel");
    assert_eq!(wheel["sha256"], sha256sum(&file));
}

#[test]
fn the_image_template_makes_a_local_image_under_an_allowed_name() {
    let hb = Hostbuild::new();
    let parent = tempfile::tempdir().unwrap();
    let dir = generate(&hb, parent.path(), "image", "new-image");
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("apt.txt"), "# what the image needs\nfile\n").unwrap();
    let out = parent.path().join("out");
    let tag = format!("hostbuild-test-new/{}:dev", unique());
    let options = ["--opt", &format!("tag={tag}"), "--opt", "check=file --version"];

    // Tagging acts with the user's engine: refused until the name is allowed.
    let refused = test_sh(&hb, &dir, "new-image", source.path(), &out, &options);
    refused.expect(11, &["--allow-push"]);
    assert!(docker(&["images", "-q", &tag]).trim().is_empty(), "nothing was tagged");

    let mut allowed = options.to_vec();
    allowed.extend(["--allow-push", "hostbuild-test-new/"]);
    let run = test_sh(&hb, &dir, "new-image", source.path(), &out, &allowed);
    run.expect(0, &[]);
    let platform = &run_json(&run.stdout)["platforms"][0];
    assert_eq!(platform["artifacts"][0]["path"], tag.as_str());
    assert!(platform["notes"][0].as_str().unwrap().starts_with("check: "), "{platform}");
    // The image is there, with the project's package in it.
    let version = docker(&["run", "--rm", "--network", "none", &tag, "file", "--version"]);
    assert!(version.starts_with("file-5"), "{version}");
    docker(&["rmi", &tag]);
}

#[test]
fn new_refuses_what_it_cannot_write_and_says_where_the_sdk_comes_from() {
    let hb = Hostbuild::new();
    let parent = tempfile::tempdir().unwrap();
    let sdk_version = std::fs::read_to_string(root().join("sdk/Cargo.toml"))
        .unwrap()
        .lines()
        .find_map(|l| Some(l.strip_prefix("version = \"")?.trim_end_matches('"').to_string()))
        .unwrap();

    // No flag and no installed SDK: the versioned dependency alone, and how to patch it.
    let plain = parent.path().join("plain");
    let run = hb.run(["new".as_ref(), plain.as_os_str()]);
    run.expect(0, &[]);
    assert!(run.stdout.contains("--sdk-git URL or --sdk-path DIR"), "{}", run.stdout);
    let manifest = std::fs::read_to_string(plain.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("hostbuild-sdk = \"0.2\"") && !manifest.contains("\n[patch.crates-io]\n"), "{manifest}");
    assert!(std::fs::read_to_string(plain.join("README.md")).unwrap().contains("[patch.crates-io]"));

    // --sdk-git: the release tag of this SDK version.
    let git = parent.path().join("git");
    let url = "https://git.example/team/hostbuild.git";
    hb.run(["new".as_ref(), git.as_os_str(), "--sdk-git".as_ref(), url.as_ref()]).expect(0, &[]);
    let manifest = std::fs::read_to_string(git.join("Cargo.toml")).unwrap();
    let entry = format!("hostbuild-sdk = {{ git = \"{url}\", tag = \"hostbuild-sdk-v{sdk_version}\" }}");
    assert!(manifest.contains(&entry), "{manifest}");

    // Never over existing files, never a name describe() would refuse, never a non-SDK path.
    let before = std::fs::read(plain.join("Cargo.toml")).unwrap();
    hb.run(["new".as_ref(), plain.as_os_str()]).expect(2, &["already exists"]);
    assert_eq!(std::fs::read(plain.join("Cargo.toml")).unwrap(), before);
    hb.run(["new".as_ref(), parent.path().join("Bad_Name").as_os_str()]).expect(2, &["cannot name a platform"]);
    let not_sdk = parent.path().join("x");
    hb.run(["new".as_ref(), not_sdk.as_os_str(), "--sdk-path".as_ref(), parent.path().as_os_str()])
        .expect(2, &["is not a hostbuild-sdk crate"]);
    assert!(!not_sdk.exists());
}

#[test]
fn the_git_tag_form_builds_against_a_tagged_repository() {
    // A repository as a team would depend on: this commit, tagged as SDK
    // releases are (`hostbuild-sdk-v<version>`), reached by URL. Same path
    // and dates each time, so cargo's git cache gains nothing on reruns.
    let hb = Hostbuild::new();
    let parent = tempfile::tempdir().unwrap();
    let repo = hostbuild_tests::templates_target().with_file_name("git-tag-test");
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(&repo).unwrap();
    let archive = Command::new("sh")
        .arg("-c")
        .arg(format!("git -C '{}' archive HEAD | tar -x -C '{}'", root().display(), repo.display()))
        .status()
        .unwrap();
    assert!(archive.success(), "git archive of this checkout");
    let sdk = std::fs::read_to_string(repo.join("sdk/Cargo.toml")).unwrap();
    let version = sdk.lines().find_map(|l| Some(l.strip_prefix("version = \"")?.trim_end_matches('"'))).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-q", "-m", "release"]);
    git(&["tag", &format!("hostbuild-sdk-v{version}")]);

    let dir = parent.path().join("new-git");
    let url = format!("file://{}", repo.display());
    hb.run(["new".as_ref(), dir.as_os_str(), "--sdk-git".as_ref(), url.as_ref()]).expect(0, &[]);
    let build = Command::new("cargo")
        .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", hostbuild_tests::templates_target())
        .env("RUSTFLAGS", "-D warnings")
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));
    let lock = std::fs::read_to_string(dir.join("Cargo.lock")).unwrap();
    assert!(lock.contains(&format!("source = \"git+{url}?tag=hostbuild-sdk-v{version}#")), "{lock}");
    let wasm = hostbuild_tests::templates_target().join("wasm32-wasip2/release/new_git.wasm");
    let inspect = hb.run(["inspect".as_ref(), wasm.as_os_str()]);
    inspect.expect(0, &[]);
    assert!(inspect.stdout.contains("new-git 0.1.0") && inspect.stdout.contains("hostbuild:platform@0.2.0"));
}
