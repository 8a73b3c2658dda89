//! Hole 10: GPUs without the grant. A plugin without `gpu` cannot set
//! `NVIDIA_*` variables on its steps, and an image's `ENV
//! NVIDIA_VISIBLE_DEVICES=all` is overridden: steps without GPUs get `void`.

use std::time::Duration;

use hostbuild_tests::Hostbuild;

use super::common::run_guest;

#[test]
fn nvidia_variables_need_the_gpu_grant_and_images_cannot_expose_devices() {
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
    run.expect(6, &["sets NVIDIA_VISIBLE_DEVICES, but `gpu` was not declared by the plugin, or not granted to it"]);
    let run = run_guest(
        &hb,
        "hostile-root",
        src.path(),
        out.path(),
        &["--json", "--opt", "attack=image-env"],
        &[],
        Duration::from_secs(300),
    );
    run.expect(0, &[]);
    let notes = run.json()["platforms"][0]["notes"].to_string();
    assert!(notes.contains("devices=void"), "{notes}");
}
