//! Hole 10: GPUs without the grant. A plugin without `gpu` cannot set
//! `NVIDIA_*` variables on its steps (the call is refused, naming the
//! variable and the grant), and an image's `ENV NVIDIA_VISIBLE_DEVICES=all`
//! is overridden: a step whose GPU request does not reach the engine (none
//! asked for, or `run --no-gpu`) gets `NVIDIA_VISIBLE_DEVICES=void`, even
//! from a plugin granted `gpu`. Checked in what the engine recorded, which
//! is what an NVIDIA runtime reads.

use std::ffi::OsStr;
use std::time::Duration;

use hostbuild_tests::{guest, Hostbuild};

use super::common::{inspect_first_container, run_guest};

/// The NVIDIA variables of the first container of `hostbuild run GUEST EXTRA...`.
fn nvidia_env(hb: &Hostbuild, name: &str, extra: &[&str]) -> (hostbuild_tests::Run, Vec<String>) {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = hb.command();
    cmd.args([OsStr::new("run"), guest(name).as_os_str(), OsStr::new("--json")])
        .args([OsStr::new("--source"), out.path().as_os_str(), OsStr::new("--out"), out.path().as_os_str()])
        .args(extra);
    let (run, env) = inspect_first_container(cmd, "{{json .Config.Env}}", false);
    let env: Vec<String> = serde_json::from_str(&env).unwrap();
    (run, env.into_iter().filter(|e| e.starts_with("NVIDIA_VISIBLE_DEVICES=")).collect())
}

fn notes(run: &hostbuild_tests::Run) -> String {
    run.json()["platforms"][0]["notes"].to_string()
}

#[test]
fn nvidia_variables_need_the_gpu_grant() {
    let hb = Hostbuild::new();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let run = run_guest(
        &hb,
        "hostile-root",
        src.path(),
        out.path(),
        &["--opt", "attack=gpu-env"],
        &[],
        Duration::from_secs(300),
    );
    run.expect(
        6,
        &["access denied: step `attack` sets NVIDIA_VISIBLE_DEVICES, but `gpu` was not declared by the plugin, or not granted to it"],
    );
    assert!(!run.stderr.contains("devices="), "the step ran: {}", run.stderr);
}

#[test]
fn an_images_env_cannot_expose_devices() {
    // hostile-root's image says ENV NVIDIA_VISIBLE_DEVICES=all.
    let hb = Hostbuild::new();
    let (run, env) = nvidia_env(&hb, "hostile-root", &["--opt", "attack=image-env"]);
    run.expect(0, &[]);
    assert_eq!(env, ["NVIDIA_VISIBLE_DEVICES=void"]);
    assert!(notes(&run).contains("devices=void"), "{}", notes(&run));
}

#[test]
fn steps_whose_gpu_request_is_not_passed_get_no_devices_even_when_granted() {
    // hostile-gpu is granted `gpu` (a file run directly gets what it
    // declares) and sets NVIDIA_VISIBLE_DEVICES=all itself.
    let hb = Hostbuild::new();
    for attack in ["attack=no-request", "attack=not-passed"] {
        let (run, env) = nvidia_env(&hb, "hostile-gpu", &["--no-gpu", "--opt", attack]);
        run.expect(0, &[]);
        assert_eq!(env, ["NVIDIA_VISIBLE_DEVICES=void"], "{attack}");
        assert!(notes(&run).contains("devices=void"), "{attack}: {}", notes(&run));
    }
}
