//! The artifact repository on the local directory store, through the CLI:
//! MXNet's layout, verified and atomic pulls, create-only publishing.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use hostbuild_tests::{host_os, one_winner, plugin, root, sha256sum, write_file, Hostbuild, Run};

struct Repo {
    hb: Hostbuild,
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Self {
        Self { hb: Hostbuild::new(), dir: tempfile::tempdir().unwrap() }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// `hostbuild artifacts --store <store> ARGS` with a clean commit environment.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.hb.command();
        cmd.current_dir(self.dir.path()).env_remove("HOSTBUILD_SHA").env_remove("MXNET_SHA").env_remove("GIT_COMMIT");
        cmd.args([OsStr::new("artifacts"), OsStr::new("--store"), self.store().as_os_str()]).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().unwrap())
    }

    fn file(&self, name: &str, contents: &[u8]) -> String {
        write_file(self.dir.path(), name, contents)
    }
}

#[test]
fn round_trip_with_licenses_and_dependencies() {
    let r = Repo::new();
    let lib = r.file("in/libmxnet.so", b"\x7fELF pretend library");
    let lic = r.file("in/LICENSE", b"Apache-2.0");
    let dep = r.file("in/libgfortran.so.5", b"dependency");
    r.run(&[
        "push",
        "--git-sha",
        "c0ffee",
        "--variant",
        "mkl",
        "--dynamic",
        &lib,
        "--licenses",
        &lic,
        "--dependencies",
        &dep,
    ])
    .expect(0, &[]);
    let set = r.store().join(format!("c0ffee/{}/mkl/dynamic", host_os()));
    for f in ["libmxnet.so", "libmxnet.so.meta", "licenses/LICENSE", "dependencies/libgfortran.so.5", "manifest.json"] {
        assert!(set.join(f).is_file(), "{f} missing in the store");
    }
    let listed = r.run(&["ls", "--git-sha", "c0ffee", "--json"]);
    assert_eq!(listed.json()["sets"], serde_json::json!([format!("c0ffee/{}/mkl/dynamic", host_os())]));

    let dest = r.dir.path().join("pulled");
    r.run(&["pull", "--git-sha", "c0ffee", "--variant", "mkl", "--dynamic", dest.to_str().unwrap()]).expect(0, &[]);
    assert_eq!(sha256sum(&dest.join("libmxnet.so")), sha256sum(Path::new(&lib)));
    assert_eq!(std::fs::read(dest.join("licenses/LICENSE")).unwrap(), b"Apache-2.0");
    assert_eq!(std::fs::read(dest.join("dependencies/libgfortran.so.5")).unwrap(), b"dependency");
    let meta = std::fs::read_to_string(dest.join("libmxnet.so.meta")).unwrap();
    for line in ["commit=c0ffee", &format!("os={}", host_os()), "variant=mkl", "linkage=dynamic"] {
        assert!(meta.lines().any(|l| l == line), "meta lacks {line}:\n{meta}");
    }
    assert!(meta.contains(&format!("sha256.libmxnet.so={}", sha256sum(Path::new(&lib)))));
    assert!(meta.lines().any(|l| l.starts_with("build_time=")));
}

#[test]
fn a_set_is_never_overwritten_without_force() {
    let r = Repo::new();
    let lib = r.file("libx.a", b"one");
    r.run(&["push", "--git-sha", "s1", "--static", &lib]).expect(0, &[]);
    let again = r.file("libx.a", b"two");
    r.run(&["push", "--git-sha", "s1", "--static", &again]).expect(9, &["a set already exists", "--force"]);
    let dest = r.dir.path().join("p1");
    r.run(&["pull", "--git-sha", "s1", "--static", dest.to_str().unwrap()]).expect(0, &[]);
    assert_eq!(std::fs::read(dest.join("libx.a")).unwrap(), b"one");
    r.run(&["push", "--git-sha", "s1", "--static", "--force", &again]).expect(0, &[]);
    let dest = r.dir.path().join("p2");
    r.run(&["pull", "--git-sha", "s1", "--static", dest.to_str().unwrap()]).expect(0, &[]);
    assert_eq!(std::fs::read(dest.join("libx.a")).unwrap(), b"two");
}

#[test]
fn sixteen_concurrent_publishers_have_exactly_one_winner() {
    let r = Repo::new();
    let files: Vec<String> =
        (0..16).map(|i| r.file(&format!("p{i}/libx.so"), format!("build {i}").as_bytes())).collect();
    let winner = one_winner(files.iter().map(|f| r.cmd(&["push", "--git-sha", "race", "--dynamic", f])));
    let dest = r.dir.path().join("pulled");
    r.run(&["pull", "--git-sha", "race", "--dynamic", dest.to_str().unwrap()]).expect(0, &[]);
    assert_eq!(std::fs::read_to_string(dest.join("libx.so")).unwrap(), format!("build {winner}"));
}

#[test]
fn a_tampered_object_fails_the_pull_and_writes_nothing() {
    let r = Repo::new();
    let lib = r.file("libx.so", b"genuine");
    let lic = r.file("LICENSE", b"MIT");
    r.run(&["push", "--git-sha", "t1", "--dynamic", &lib, "--licenses", &lic]).expect(0, &[]);
    let stored = r.store().join(format!("t1/{}/cpu/dynamic/licenses/LICENSE", host_os()));
    std::fs::write(&stored, b"EVIL").unwrap();
    let parent = r.dir.path().join("downloads");
    std::fs::create_dir_all(&parent).unwrap();
    let dest = parent.join("set");
    r.run(&["pull", "--git-sha", "t1", "--dynamic", dest.to_str().unwrap()])
        .expect(10, &["`licenses/LICENSE` of the set does not match its manifest", "nothing was written"]);
    assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 0, "no destination and no temporary directory left");
}

#[test]
fn no_set_for_that_variant_lists_the_ones_that_exist() {
    let r = Repo::new();
    let lib = r.file("libx.so", b"x");
    r.run(&["push", "--git-sha", "v1", "--variant", "cu121", "--dynamic", &lib]).expect(0, &[]);
    r.run(&["push", "--git-sha", "v1", "--variant", "cpu", "--static", &lib]).expect(0, &[]);
    let dest = r.dir.path().join("d");
    r.run(&["pull", "--git-sha", "v1", "--variant", "mkl", "--dynamic", dest.to_str().unwrap()]).expect(
        10,
        &["no set for commit v1", &format!("{}/cpu/static", host_os()), &format!("{}/cu121/dynamic", host_os())],
    );
    assert!(!dest.exists());
}

#[test]
fn the_commit_is_found_by_flag_environment_then_git() {
    let r = Repo::new();
    let lib = r.file("libx.so", b"x");
    let pushed_under = |cmd: &mut Command| -> String {
        let out = Run::from(cmd.output().unwrap());
        out.expect(0, &[]);
        out.json()["commit"].as_str().unwrap().to_string()
    };
    let mut c = r.cmd(&["--json", "push", "--dynamic", "--force", &lib]);
    assert_eq!(pushed_under(c.env("GIT_COMMIT", "from-git-commit")), "from-git-commit");
    let mut c = r.cmd(&["--json", "push", "--dynamic", "--force", &lib]);
    assert_eq!(pushed_under(c.env("GIT_COMMIT", "g").env("MXNET_SHA", "from-mxnet")), "from-mxnet");
    let mut c = r.cmd(&["--json", "push", "--dynamic", "--force", &lib]);
    assert_eq!(pushed_under(c.env("MXNET_SHA", "m").env("HOSTBUILD_SHA", "from-hostbuild")), "from-hostbuild");
    let mut c = r.cmd(&["--json", "push", "--dynamic", "--force", "--git-sha", "from-flag", &lib]);
    assert_eq!(pushed_under(c.env("HOSTBUILD_SHA", "h")), "from-flag");

    let repo = r.dir.path().join("checkout");
    std::fs::create_dir_all(&repo).unwrap();
    let git =
        |args: &[&str]| assert!(Command::new("git").arg("-C").arg(&repo).args(args).output().unwrap().status.success());
    git(&["init", "-q"]);
    git(&["-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x"]);
    let head = String::from_utf8(
        Command::new("git").arg("-C").arg(&repo).args(["rev-parse", "HEAD"]).output().unwrap().stdout,
    )
    .unwrap();
    let mut c = r.cmd(&["--json", "push", "--dynamic", "--force", "--source", repo.to_str().unwrap(), &lib]);
    assert_eq!(pushed_under(&mut c), head.trim());

    let not_git = r.dir.path().join("plain");
    std::fs::create_dir_all(&not_git).unwrap();
    r.run(&["push", "--dynamic", "--source", not_git.to_str().unwrap(), &lib])
        .expect(2, &["cannot tell which commit", "--git-sha", "HOSTBUILD_SHA"]);
    r.run(&["--json", "push", "--dynamic", "--force", "--git-sha", "o", "--os", "ubuntu22.04", &lib]).expect(0, &[]);
    assert!(r.store().join("o/ubuntu22.04/cpu/dynamic/manifest.json").is_file());
}

#[test]
fn a_publish_killed_midway_leaves_no_manifest() {
    let r = Repo::new();
    let big = r.dir.path().join("big.so");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(1 << 30).unwrap();
    let mut child = r.cmd(&["push", "--git-sha", "k1", "--dynamic", big.to_str().unwrap()]).spawn().unwrap();
    let set = r.store().join(format!("k1/{}/cpu/dynamic", host_os()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !set.join(".publishing").exists() {
        assert!(std::time::Instant::now() < deadline, "the publish never started");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!set.join("manifest.json").exists(), "a killed publish must not leave a manifest");
    r.run(&["ls", "--git-sha", "k1"]).expect(0, &[]);
    assert!(r.run(&["ls", "--git-sha", "k1"]).stdout.contains("no complete sets"));
    let small = r.file("small.so", b"retry");
    r.run(&["push", "--git-sha", "k1", "--dynamic", &small]).expect(9, &["died midway", "--force"]);
    r.run(&["push", "--git-sha", "k1", "--dynamic", "--force", &small]).expect(0, &[]);
}

#[test]
fn run_publish_puts_each_linkage_in_its_own_set() {
    let r = Repo::new();
    let out = r.dir.path().join("out");
    let mut cmd = r.hb.command();
    cmd.args([OsStr::new("run"), plugin("armv7").as_os_str(), OsStr::new("--source")])
        .arg(root().join("examples/cmake-hello"))
        .args([OsStr::new("--out"), out.as_os_str(), OsStr::new("--publish"), OsStr::new("--store")])
        .arg(r.store())
        .args(["--git-sha", "e2e", "--opt", "skip-tests=true", "--json"]);
    let run = Run::from(cmd.output().unwrap());
    run.expect(0, &[]);
    assert_eq!(
        run.json()["platforms"][0]["published"],
        serde_json::json!(["e2e/debian12/cpu/static/", "e2e/debian12/cpu/dynamic/"])
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.store().join("e2e/debian12/cpu/dynamic/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["plugin"], "armv7@0.1.0");
    let paths: Vec<&str> = manifest["files"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    for p in ["libhello.so.1.0.0", "libhello.so.1.0.0.meta", "hello-cli", "licenses/LICENSE"] {
        assert!(paths.contains(&p), "{p} not in {paths:?}");
    }
    let dest = r.dir.path().join("pulled");
    r.run(&["pull", "--git-sha", "e2e", "--os", "debian12", "--static", dest.to_str().unwrap()]).expect(0, &[]);
    assert!(dest.join("libhello_static.a").is_file());
}
