//! Hole 9: shared engines. A hostbuild in another pid namespace (another CI
//! job container on the same engine) has a step running; `clean` and a new
//! `run` here must leave it alone, because its owner cannot be proven gone
//! from here. A container whose owner provably died here is still reaped.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hostbuild_tests::{containers_with, docker, guest, Hostbuild};

#[test]
fn another_pid_namespaces_steps_survive_clean_and_run() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    // A run in its own pid namespace (as a job container sees the world).
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
    let deadline = Instant::now() + Duration::from_secs(120);
    let id = loop {
        let found: Vec<String> = containers_with("hostbuild.plugin=hostile-root")
            .into_iter()
            .filter(|id| {
                let ns = docker(&["inspect", "--format", "{{index .Config.Labels \"hostbuild.owner-pidns\"}}", id]);
                let mine = std::fs::read_link("/proc/self/ns/pid").unwrap().display().to_string();
                ns.trim() != mine && !ns.trim().is_empty()
            })
            .collect();
        if let Some(id) = found.into_iter().next() {
            break id;
        }
        assert!(Instant::now() < deadline, "the inner run's step did not start");
        std::thread::sleep(Duration::from_millis(200));
    };
    // Here, its owner's pid means nothing: it may even exist.
    let clean = hb.run(["clean", "--json"]);
    clean.expect(0, &[]);
    assert!(clean.json()["left_alone"].as_u64().unwrap() >= 1, "{}", clean.stdout);
    let alive = docker(&["inspect", "--format", "{{.State.Running}}", &id]);
    assert_eq!(alive.trim(), "true", "clean reaped another namespace's step");
    // A new run here reaps too: still alive afterwards.
    let other = tempfile::tempdir().unwrap();
    hb.run([
        "run",
        "--opt",
        "attack=euid",
        guest("hostile-root").to_str().unwrap(),
        "--out",
        other.path().to_str().unwrap(),
    ])
    .expect(0, &[]);
    assert_eq!(docker(&["inspect", "--format", "{{.State.Running}}", &id]).trim(), "true");

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
