//! Hole 9: shared engines. A hostbuild in another pid namespace (another CI
//! job container on the same engine) has a step running; `clean` and a new
//! `run` here must leave it alone, because its owner cannot be proven gone
//! from here. So are containers of another boot and of older hostbuilds
//! (labels without pid namespace or boot id). A container whose owner
//! provably died here (SIGKILL, same namespace and boot) is still reaped.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hostbuild_tests::{containers_with, docker, guest, unique, Hostbuild};

fn running(id: &str) -> bool {
    let out = Command::new("docker").args(["inspect", "--format", "{{.State.Running}}", id]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "true"
}

/// Waits for a container carrying `label` that is not in `before`.
fn new_container(label: &str, before: &HashSet<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(id) = containers_with(label).into_iter().find(|id| !before.contains(id)) {
            return id;
        }
        assert!(Instant::now() < deadline, "no container with {label} appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn another_pid_namespaces_steps_survive_clean_and_run() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    // A run in its own pid namespace (as a job container sees the world):
    // there it is pid 1, and pid 1 here is alive with another start time.
    let label = "hostbuild.owner-pid=1";
    let before: HashSet<String> = containers_with(label).into_iter().collect();
    let mut inner = Command::new("unshare");
    inner
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(hostbuild_tests::binary())
        .args(["run", "--opt", "attack=sleep"])
        .arg(guest("hostile-root"))
        .args(["--source", out.path().to_str().unwrap(), "--out", out.path().to_str().unwrap()])
        .env("HOSTBUILD_CACHE_DIR", hb.cache.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = inner.spawn().expect("unshare runs");
    let id = new_container(label, &before);
    // Here, its owner's pid means nothing.
    let clean = hb.run(["clean", "--json"]);
    clean.expect(0, &[]);
    let v = clean.json();
    assert!(v["left_alone_because"]["other-pid-namespace"].as_u64().unwrap_or(0) >= 1, "{v}");
    assert!(running(&id), "clean reaped another namespace's step");
    let text = hb.run(["clean"]);
    text.expect(0, &[]);
    assert!(text.stdout.contains("in another pid namespace"), "{}", text.stdout);
    // A new run here reaps too: still alive afterwards.
    let other = tempfile::tempdir().unwrap();
    let run = hb.run([
        "run",
        "--opt",
        "attack=euid",
        guest("hostile-root").to_str().unwrap(),
        "--out",
        other.path().to_str().unwrap(),
    ]);
    run.expect(0, &[]);
    assert!(running(&id), "a run reaped another namespace's step");

    // The inner run stops its own step when told to (unshare ignores
    // SIGTERM while it waits: signal its child, the inner hostbuild).
    let inner = Command::new("pgrep").args(["-P", &child.id().to_string()]).output().unwrap();
    let inner = String::from_utf8_lossy(&inner.stdout).trim().to_string();
    let _ = Command::new("kill").args(["-TERM", &inner]).status();
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Command::new("docker").args(["inspect", &id]).output().unwrap().status.success() {
        if Instant::now() > deadline {
            let _ = Command::new("docker").args(["rm", "-f", &id]).output();
            panic!("the inner run did not remove its step");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Containers the test made by hand, removed however the test ends (a
/// failed assertion must not leave them for every later `clean` to count).
struct Made(Vec<(&'static str, String)>);

impl Drop for Made {
    fn drop(&mut self) {
        for (_, id) in &self.0 {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
    }
}

/// A pid that no process has now.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    child.id()
}

#[test]
fn older_and_other_boot_containers_are_left_alone_and_a_killed_owner_is_reaped() {
    let hb = Hostbuild::new();
    let pid = dead_pid().to_string();
    let pidns = std::fs::read_link("/proc/self/ns/pid").unwrap().display().to_string();
    // As an older hostbuild labelled them (no pid namespace, no boot id),
    // and as a hostbuild of another boot (or machine) would: both with a
    // pid that is dead here.
    let mut made = Made(Vec::new());
    for (why, extra) in [("older-hostbuild", vec![]), ("other-boot", vec![pidns.clone(), "another-boot".into()])] {
        let mut args = vec!["create".to_string()];
        let mut labels = vec![
            format!("hostbuild.run-id=reaping-test-{}", unique()),
            format!("hostbuild.owner-pid={pid}"),
            "hostbuild.owner-start=1".into(),
            "hostbuild.plugin=reaping-test".into(),
        ];
        if let [ns, boot] = &extra[..] {
            labels.extend([format!("hostbuild.owner-pidns={ns}"), format!("hostbuild.owner-boot={boot}")]);
        }
        for l in labels {
            args.extend(["--label".to_string(), l]);
        }
        args.extend(["hostbuild/bookworm:amd64".to_string(), "true".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        made.0.push((why, docker(&args).trim().to_string()));
    }
    // A real run killed here: its owner is provably dead. Tests run side by
    // side on one engine and every `hostbuild run` reaps at its start, so
    // another test's run may reap the orphan before this clean does: then
    // kill another run, until this clean is the one that reaped it.
    let mut v = serde_json::Value::Null;
    for attempt in 1..=3 {
        let out = tempfile::tempdir().unwrap();
        let mut killed = hb
            .command()
            .args(["run", "--opt", "attack=sleep"])
            .arg(guest("hostile-root"))
            .args(["--source", out.path().to_str().unwrap(), "--out", out.path().to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let label = format!("hostbuild.owner-pid={}", killed.id());
        let orphan = new_container(&label, &HashSet::new());
        killed.kill().unwrap();
        killed.wait().unwrap();
        assert!(running(&orphan), "SIGKILL leaves the step behind");

        let clean = hb.run(["clean", "--json"]);
        clean.expect(0, &[]);
        v = clean.json();
        assert!(containers_with(&label).is_empty(), "the killed run's step was not reaped");
        if v["removed_containers"].as_u64().unwrap_or(0) >= 1 {
            break;
        }
        assert!(attempt < 3, "another run reaped the orphan first, three times: {v}");
    }
    for (why, id) in &made.0 {
        assert!(v["left_alone_because"][why].as_u64().unwrap_or(0) >= 1, "{why}: {v}");
        let still = docker(&["inspect", "--format", "{{.Id}}", id]);
        assert!(still.trim().starts_with(id.as_str()), "the {why} container was reaped");
    }
}
