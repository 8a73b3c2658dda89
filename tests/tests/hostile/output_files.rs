//! Hole 1: symlinks and special files a plugin's steps plant in its output
//! tree, then ask the host to read (publish), write (fetch, workspace
//! write) or read through the workspace. Hole 6: an output tree that a
//! project ships as a symlink or a file.

use std::time::Duration;

use hostbuild_tests::Hostbuild;

use super::common::{files_containing, run_guest, store_keys, Marker};

const LIMIT: Duration = Duration::from_secs(180);

/// `--publish` to a local store in `dir/store`, with a commit.
fn publish_args(store: &std::path::Path) -> Vec<String> {
    ["--publish", "--store", store.to_str().unwrap(), "--git-sha", "0123456789abcdef"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn args<'a>(attack: &'a str, target: &'a str, publish: &'a [String]) -> Vec<&'a str> {
    let mut v = vec!["--opt", attack, "--opt", target];
    v.extend(publish.iter().map(String::as_str));
    v
}

#[test]
fn publishing_a_symlink_to_a_host_secret_is_refused() {
    let hb = Hostbuild::new();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = out.path().join("store");
    let publish = publish_args(&store);
    let marker = Marker::new("aws-credentials");
    let target = format!("target={}", marker.path.display());
    let run = run_guest(
        &hb,
        "hostile-files",
        src.path(),
        out.path(),
        &args("attack=publish-symlink", &target, &publish),
        &[],
        LIMIT,
    );
    run.expect(6, &["`leak` is a symlink, not a regular file"]);
    let error = run.stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(!error.contains(&marker.path.display().to_string()), "a host path reached the plugin: {error}");
    assert!(files_containing(&store, &marker.secret()).is_empty(), "the secret reached the store");
    marker.assert_untouched();

    // The process's own environment (where AWS keys live), through /proc.
    let secret = format!("AKIA-{}", hostbuild_tests::unique());
    let run = run_guest(
        &hb,
        "hostile-files",
        src.path(),
        out.path(),
        &args("attack=publish-symlink", "target=/proc/self/environ", &publish),
        &[("AWS_SECRET_ACCESS_KEY", &secret)],
        LIMIT,
    );
    run.expect(6, &["`leak` is a symlink, not a regular file"]);
    assert!(files_containing(&store, &secret).is_empty(), "the environment reached the store");
}

#[test]
fn publishing_through_a_directory_link_is_refused() {
    let hb = Hostbuild::new();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = out.path().join("store");
    let publish = publish_args(&store);
    let marker = Marker::new("secret");
    let target = format!("target={}", marker.path.display());
    let run = run_guest(
        &hb,
        "hostile-files",
        src.path(),
        out.path(),
        &args("attack=publish-through-dir-link", &target, &publish),
        &[],
        LIMIT,
    );
    run.expect(6, &["leads outside the tree"]);
    assert!(files_containing(&store, &marker.secret()).is_empty(), "the secret reached the store");
    marker.assert_untouched();
}

#[test]
fn a_fifo_never_hangs_publishing_or_reading_and_is_never_handed_over() {
    let hb = Hostbuild::new();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = out.path().join("store");
    let publish = publish_args(&store);
    for attack in ["attack=publish-fifo", "attack=read-fifo"] {
        let run =
            run_guest(&hb, "hostile-files", src.path(), out.path(), &args(attack, "target=", &publish), &[], LIMIT);
        run.expect(13, &["unsafe file(s)", "pipe (a FIFO)", "`pipe` is a FIFO, not a regular file"]);
        assert!(store_keys(&store).iter().all(|k| !k.contains("stolen")), "{:?}", store_keys(&store));
        std::fs::remove_file(out.path().join("build.hostile-files/pipe")).unwrap();
    }
}

#[test]
fn fetching_through_a_directory_link_writes_nothing_outside() {
    let hb = Hostbuild::new();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = out.path().join("store");
    let publish = publish_args(&store);
    let marker = Marker::new("victim-dir-marker");
    let target = format!("target={}", marker.dir().display());
    let run = run_guest(
        &hb,
        "hostile-files",
        src.path(),
        out.path(),
        &args("attack=fetch-through-dir-link", &target, &publish),
        &[],
        LIMIT,
    );
    run.expect(6, &["fetch", "not a directory inside the tree"]);
    marker.assert_untouched();
}

#[test]
fn fetches_and_writes_replace_a_planted_symlink_instead_of_following_it() {
    let hb = Hostbuild::new();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = out.path().join("store");
    let publish = publish_args(&store);
    let marker = Marker::new("dotfile");
    let target = format!("target={}", marker.path.display());
    let tree = out.path().join("build.hostile-files");
    for (attack, file, bytes) in [
        ("attack=fetch-over-symlink", "f", "planted by the plugin"),
        ("attack=write-over-symlink", "w", "overwritten by the plugin"),
    ] {
        let run = run_guest(&hb, "hostile-files", src.path(), out.path(), &args(attack, &target, &publish), &[], LIMIT);
        run.expect(0, &[]);
        let meta = std::fs::symlink_metadata(tree.join(file)).unwrap();
        assert!(meta.is_file(), "{file} is still a link");
        assert_eq!(std::fs::read_to_string(tree.join(file)).unwrap(), bytes);
        marker.assert_untouched();
    }
}

#[test]
fn a_shipped_output_tree_link_or_file_is_refused() {
    let hb = Hostbuild::new();
    let src = tempfile::tempdir().unwrap();
    // A project from a stranger: build.<platform> points at the user's home.
    let project = tempfile::tempdir().unwrap();
    let victim = Marker::new("bashrc");
    std::os::unix::fs::symlink(victim.dir(), project.path().join("build.hostile-files")).unwrap();
    let run = run_guest(&hb, "hostile-files", src.path(), project.path(), &[], &[], LIMIT);
    run.expect(13, &["build.hostile-files is a symlink", "remove it"]);
    victim.assert_untouched();

    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("build.hostile-files"), "not a directory").unwrap();
    let run = run_guest(&hb, "hostile-files", src.path(), project.path(), &[], &[], LIMIT);
    run.expect(13, &["exists and is not a directory"]);
    assert_eq!(std::fs::read_to_string(project.path().join("build.hostile-files")).unwrap(), "not a directory");
}
