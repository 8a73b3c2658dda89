//! Hole 2: artifacts a plugin reports are checked (a regular file inside its
//! output tree, no link followed, size bounded, hashed) before anything is
//! published; a signal stops the hashing of a huge file. Hole 4 (the scan):
//! unsafe files the steps leave stop the run.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use hostbuild_tests::Hostbuild;

use super::common::{files_containing, run_guest, store_keys, Marker};

const LIMIT: Duration = Duration::from_secs(180);

fn publish(store: &std::path::Path) -> Vec<String> {
    ["--publish", "--store", store.to_str().unwrap(), "--git-sha", "0123456789abcdef"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn escaping_artifact_paths_are_refused_before_publishing() {
    let hb = Hostbuild::new();
    let marker = Marker::new("id_rsa");
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = out.path().join("store");
    let up = format!("../../../../../../../..{}", marker.path.display());
    for target in [marker.path.display().to_string(), up] {
        let mut extra = vec!["--opt".to_string(), "attack=artifact-escapes".into(), "--opt".into()];
        extra.push(format!("target={target}"));
        extra.extend(publish(&store));
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let run = run_guest(&hb, "hostile-files", src.path(), out.path(), &extra, &[], LIMIT);
        run.expect(13, &["reported artifact", "which hostbuild refuses", "nothing was published"]);
        assert!(store_keys(&store).is_empty(), "published: {:?}", store_keys(&store));
        marker.assert_untouched();
    }
}

#[test]
fn a_symlinked_artifact_is_refused_and_its_target_never_read() {
    let hb = Hostbuild::new();
    let marker = Marker::new("token");
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = out.path().join("store");
    let mut extra = vec!["--opt".to_string(), "attack=artifact-symlink".into(), "--opt".into()];
    extra.push(format!("target={}", marker.path.display()));
    extra.extend(publish(&store));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let run = run_guest(&hb, "hostile-files", src.path(), out.path(), &extra, &[], LIMIT);
    run.expect(13, &["`lib.so` is a symlink, not a regular file"]);
    assert!(files_containing(&store, &marker.secret()).is_empty());
    assert!(store_keys(&store).is_empty());
    marker.assert_untouched();
}

#[test]
fn a_sparse_terabyte_is_refused_at_once() {
    let hb = Hostbuild::new();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let started = Instant::now();
    let run = run_guest(&hb, "hostile-files", src.path(), out.path(), &["--opt", "attack=artifact-sparse"], &[], LIMIT);
    run.expect(13, &["`lib.so` is 1099511627776 bytes, over the limit of 68719476736 bytes"]);
    assert!(started.elapsed() < Duration::from_secs(120), "took {:?}", started.elapsed());
}

#[test]
fn a_signal_stops_the_hashing_of_a_huge_artifact() {
    let hb = Hostbuild::new();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for signal in ["-INT", "-TERM"] {
        let mut child = hb
            .command()
            .arg("run")
            .arg(hostbuild_tests::guest("hostile-files"))
            .args(["--source", src.path().to_str().unwrap(), "--out", out.path().to_str().unwrap()])
            .args(["--opt", "attack=artifact-sparse", "--max-artifact-size", "2T"])
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        // The step has planted the file when its log line appears; hashing
        // a terabyte of zeros then takes minutes.
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        for line in lines.by_ref() {
            if line.unwrap().contains("step `plant`") {
                break;
            }
        }
        std::thread::sleep(Duration::from_secs(3));
        let sent = Instant::now();
        assert!(std::process::Command::new("kill").args([signal, &pid.to_string()]).status().unwrap().success());
        let rest: Vec<String> = lines.map_while(Result::ok).collect();
        let status = child.wait().unwrap();
        assert!(sent.elapsed() < Duration::from_secs(15), "{signal} took {:?} to stop the run", sent.elapsed());
        let expected = if signal == "-INT" { 130 } else { 143 };
        assert_eq!(status.code(), Some(expected), "{}", rest.join("\n"));
        assert!(hostbuild_tests::containers_with(&format!("hostbuild.owner-pid={pid}")).is_empty());
    }
}

#[test]
fn setuid_files_left_by_steps_stop_the_run() {
    let hb = Hostbuild::new();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = out.path().join("store");
    let mut extra = vec!["--opt".to_string(), "attack=setuid-output".into()];
    extra.extend(publish(&store));
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    for envs in [vec![], vec![("SUDO_UID", "4321"), ("SUDO_GID", "4322")]] {
        let run = run_guest(&hb, "hostile-files", src.path(), out.path(), &extra, &envs, LIMIT);
        run.expect(13, &["unsafe file(s)", "helper (setuid)", "nothing was published"]);
        assert!(store_keys(&store).is_empty());
        std::fs::remove_dir_all(out.path().join("build.hostile-files")).unwrap();
    }
}
