//! The artifact repository on a real S3 HTTP server on loopback: s3s-fs
//! (installed by scripts/prereqs.sh), one server per test, with credentials.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hostbuild_tests::{
    host_os, one_winner, s3_env, s3s_fs, wait_for, write_file, Daemon, Hostbuild, Run, S3_KEY as KEY,
    S3_SECRET as SECRET,
};

/// A running s3s-fs with bucket `builds`, stopped when dropped.
struct Server {
    daemon: Daemon,
    root: tempfile::TempDir,
    hb: Hostbuild,
    work: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("builds")).unwrap();
        let daemon = s3s_fs(root.path());
        Self { daemon, root, hb: Hostbuild::new(), work: tempfile::tempdir().unwrap() }
    }

    /// `hostbuild artifacts --store s3://builds/ci ARGS` with this server's
    /// endpoint and credentials, and nothing from the machine's AWS config.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.hb.command();
        s3_env(&mut cmd, self.daemon.port);
        cmd.current_dir(self.work.path())
            .env_remove("HOSTBUILD_SHA")
            .env_remove("MXNET_SHA")
            .env_remove("GIT_COMMIT")
            .args(["artifacts", "--store", "s3://builds/ci"])
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().unwrap())
    }

    fn file(&self, name: &str, contents: &[u8]) -> String {
        write_file(self.work.path(), name, contents)
    }

    /// Where s3s-fs keeps an object of the bucket.
    fn object(&self, key: &str) -> PathBuf {
        self.root.path().join("builds/ci").join(key)
    }

    fn open_uploads(&self) -> usize {
        std::fs::read_dir(self.root.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".upload-"))
            .count()
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    std::fs::read(a).unwrap() == std::fs::read(b).unwrap()
}

#[test]
fn round_trip_with_multipart_licenses_and_dependencies() {
    let s = Server::start();
    // 40 MiB goes up in 8 MiB parts, in parallel.
    let big: Vec<u8> = (0..40u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let lib = s.file("in/libmxnet.so", &big);
    let lic = s.file("in/LICENSE", b"Apache-2.0");
    let dep = s.file("in/libopenblas.so.0", b"dep");
    s.run(&[
        "push",
        "--git-sha",
        "c1",
        "--variant",
        "cu121mkl",
        "--dynamic",
        &lib,
        "--licenses",
        &lic,
        "--dependencies",
        &dep,
    ])
    .expect(0, &[]);
    assert_eq!(s.open_uploads(), 0);
    assert!(s.object(&format!("c1/{}/cu121mkl/dynamic/manifest.json", host_os())).is_file());
    let ls = s.run(&["ls", "--git-sha", "c1", "--json"]);
    assert_eq!(ls.json()["sets"], serde_json::json!([format!("c1/{}/cu121mkl/dynamic", host_os())]));
    let dest = s.work.path().join("pulled");
    s.run(&["pull", "--git-sha", "c1", "--variant", "cu121mkl", "--dynamic", dest.to_str().unwrap()]).expect(0, &[]);
    assert!(same_file(&dest.join("libmxnet.so"), Path::new(&lib)));
    assert!(same_file(&dest.join("licenses/LICENSE"), Path::new(&lic)));
    assert!(same_file(&dest.join("dependencies/libopenblas.so.0"), Path::new(&dep)));
    assert!(std::fs::read_to_string(dest.join("libmxnet.so.meta")).unwrap().contains("variant=cu121mkl"));
}

#[test]
fn refuses_to_overwrite_and_has_one_winner_among_sixteen() {
    let s = Server::start();
    let files: Vec<String> =
        (0..16).map(|i| s.file(&format!("p{i}/libx.so"), format!("build {i}").as_bytes())).collect();
    let winner = one_winner(files.iter().map(|f| s.cmd(&["push", "--git-sha", "race", "--dynamic", f])));
    let dest = s.work.path().join("pulled");
    s.run(&["pull", "--git-sha", "race", "--dynamic", dest.to_str().unwrap()]).expect(0, &[]);
    assert_eq!(std::fs::read_to_string(dest.join("libx.so")).unwrap(), format!("build {winner}"));
    s.run(&["push", "--git-sha", "race", "--dynamic", &files[0]]).expect(9, &["a set already exists", "--force"]);
}

#[test]
fn a_tampered_object_fails_the_pull_and_writes_nothing() {
    let s = Server::start();
    let lib = s.file("libx.so", b"genuine library");
    s.run(&["push", "--git-sha", "t", "--dynamic", &lib]).expect(0, &[]);
    std::fs::write(s.object(&format!("t/{}/cpu/dynamic/libx.so", host_os())), b"tampered library").unwrap();
    let parent = s.work.path().join("downloads");
    std::fs::create_dir(&parent).unwrap();
    s.run(&["pull", "--git-sha", "t", "--dynamic", parent.join("set").to_str().unwrap()])
        .expect(10, &["`libx.so` of the set does not match its manifest"]);
    assert_eq!(std::fs::read_dir(&parent).unwrap().count(), 0);
}

#[test]
fn an_upload_interrupted_midway_leaves_no_manifest_and_no_open_multipart_upload() {
    let s = Server::start();
    let big = s.work.path().join("big.so");
    std::fs::write(&big, vec![7u8; 200 << 20]).unwrap();
    let mut child =
        s.cmd(&["push", "--git-sha", "k", "--dynamic", big.to_str().unwrap()]).stderr(Stdio::null()).spawn().unwrap();
    wait_for(Duration::from_secs(60), Duration::from_millis(10), "the multipart upload never started", || {
        s.open_uploads() > 0
    });
    hostbuild_tests::signal(&child, "TERM");
    assert_eq!(child.wait().unwrap().code(), Some(143));
    assert!(!s.object(&format!("k/{}/cpu/dynamic/manifest.json", host_os())).exists());
    assert_eq!(s.open_uploads(), 0, "the multipart upload was not aborted");
}

#[test]
fn a_file_cut_short_while_it_is_pushed_leaves_nothing_and_a_retry_needs_no_force() {
    // Files are hashed while their parts already move: a file that changes
    // meanwhile fails its hash (or its upload), and nothing is published.
    let s = Server::start();
    let big = s.work.path().join("libx.so");
    std::fs::write(&big, vec![7u8; 200 << 20]).unwrap();
    let child = s
        .cmd(&["push", "--git-sha", "cut", "--dynamic", big.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(Duration::from_secs(60), Duration::from_millis(5), "the multipart upload never started", || {
        s.open_uploads() > 0
    });
    std::fs::OpenOptions::new().write(true).open(&big).unwrap().set_len(1 << 20).unwrap();
    let run = Run::from(child.wait_with_output().unwrap());
    assert_ne!(run.code, 0, "a push of a file cut short succeeded: {}", run.stdout);
    assert!(run.stderr.contains("error:"), "{}", run.stderr);
    let set = s.object(&format!("cut/{}/cpu/dynamic", host_os()));
    let left: Vec<_> = std::fs::read_dir(&set).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "the failed push left {left:?} (stderr: {})", run.stderr);
    assert_eq!(s.open_uploads(), 0, "a staged upload was not aborted");

    std::fs::write(&big, vec![8u8; 20 << 20]).unwrap();
    s.run(&["push", "--git-sha", "cut", "--dynamic", big.to_str().unwrap()]).expect(0, &[]);
    let dest = s.work.path().join("pulled");
    s.run(&["pull", "--git-sha", "cut", "--dynamic", dest.to_str().unwrap()]).expect(0, &[]);
    assert!(same_file(&big, &dest.join("libx.so")));
}

#[test]
fn store_errors_are_clear() {
    let s = Server::start();
    let lib = s.file("libx.so", b"x");
    let wrong = Run::from(
        s.cmd(&["push", "--git-sha", "e", "--dynamic", &lib])
            .env("AWS_SECRET_ACCESS_KEY", "WRONG-SECRET-7f3a")
            .output()
            .unwrap(),
    );
    wrong.expect(8, &["the store refused", "credentials", "hint:"]);
    assert!(
        !wrong.stderr.contains("WRONG-SECRET-7f3a") && !wrong.stderr.contains(SECRET),
        "a credential reached the output"
    );
    let none = Run::from(
        s.cmd(&["push", "--git-sha", "e", "--dynamic", &lib])
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .output()
            .unwrap(),
    );
    none.expect(8, &["no AWS credentials", "AWS_ACCESS_KEY_ID"]);
    let mut missing = s.hb.command();
    missing
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", s.daemon.port))
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .args(["artifacts", "--store", "s3://missing/ci", "push", "--git-sha", "e", "--dynamic", &lib]);
    Run::from(missing.output().unwrap()).expect(8, &["bucket `missing` does not exist"]);
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = Run::from(
        s.cmd(&["push", "--git-sha", "e", "--dynamic", &lib])
            .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{closed}"))
            .output()
            .unwrap(),
    );
    unreachable.expect(8, &["cannot connect to http://127.0.0.1", "AWS_ENDPOINT_URL"]);
}

#[test]
fn files_of_any_size_round_trip_in_parts_of_the_projects_size() {
    let s = Server::start();
    // Parts of 5 MiB, three at a time, from hostbuild.toml: sizes around a
    // part's edges go up in parts and come down in ranged GETs.
    std::fs::write(s.work.path().join("hostbuild.toml"), "[store]\nconcurrency = 3\npart-size = \"5M\"\n").unwrap();
    for (i, size) in [0usize, 1, 5 << 20, (5 << 20) + 1, (17 << 20) + 3].into_iter().enumerate() {
        let bytes: Vec<u8> = (0..size as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let lib = s.file(&format!("in{i}/libx.so"), &bytes);
        let sha = format!("size{i}");
        s.run(&["push", "--git-sha", &sha, "--dynamic", &lib]).expect(0, &[]);
        let dest = s.work.path().join(format!("pulled{i}"));
        s.run(&["pull", "--git-sha", &sha, "--dynamic", dest.to_str().unwrap()]).expect(0, &[]);
        assert!(std::fs::read(dest.join("libx.so")).unwrap() == bytes, "{size} bytes came back different");
    }
    std::fs::write(s.work.path().join("hostbuild.toml"), "[store]\npart-size = \"1M\"\n").unwrap();
    s.run(&["ls"]).expect(2, &["part-size", "5M..5G"]);
}

#[test]
fn a_pull_interrupted_midway_leaves_nothing() {
    let s = Server::start();
    let big = s.work.path().join("big.so");
    std::fs::write(&big, vec![7u8; 300 << 20]).unwrap();
    s.run(&["push", "--git-sha", "i", "--dynamic", big.to_str().unwrap()]).expect(0, &[]);
    let downloads = s.work.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    for signal in ["TERM", "INT"] {
        let dest = downloads.join("set");
        let mut child = s
            .cmd(&["pull", "--git-sha", "i", "--dynamic", dest.to_str().unwrap()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(Duration::from_secs(60), Duration::from_millis(2), "the pull never started writing", || {
            std::fs::read_dir(&downloads).unwrap().count() > 0
        });
        hostbuild_tests::signal(&child, signal);
        let code = child.wait().unwrap().code();
        assert_eq!(code, Some(if signal == "TERM" { 143 } else { 130 }));
        assert_eq!(std::fs::read_dir(&downloads).unwrap().count(), 0, "an interrupted pull left files");
    }
}
