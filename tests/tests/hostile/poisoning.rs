//! Hole 13: a plugin named like another (from another project, or a
//! stranger's build of it) never shares its cache volume or recipe images.
//! Keys: the plugin's name and its identity (the project's source for it,
//! or the sha256 of a file run directly).

use std::path::Path;

use hostbuild_tests::{guest, Hostbuild};

use super::common::HOSTILE_ROOT_CACHE;

/// A copy of a component with a custom section appended: the same plugin
/// (same name, same behaviour), other bytes.
fn variant(from: &Path, to: &Path, tag: &str) {
    let mut bytes = std::fs::read(from).unwrap();
    let name = b"hostbuild-test";
    let payload = tag.as_bytes();
    let size = 1 + name.len() + payload.len();
    assert!(size < 128 && name.len() < 128, "one-byte LEB128 lengths");
    bytes.extend_from_slice(&[0, size as u8, name.len() as u8]);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    std::fs::write(to, bytes).unwrap();
}

fn volumes_of(hb: &Hostbuild, platform: &str) -> Vec<String> {
    let listed = hb.run(["cache", "--json"]);
    listed.expect(0, &[]);
    let mut names: Vec<String> = listed.json()["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["platform"] == platform)
        .map(|v| v["volume"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn recipe_image(stderr: &str) -> String {
    hostbuild_tests::image_in_log(stderr, "main")
}

#[test]
fn same_named_plugins_from_elsewhere_share_nothing() {
    let _volumes = HOSTILE_ROOT_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let hb = Hostbuild::new();
    hb.run(["cache", "clear", "hostile-root"]).expect(0, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.wasm"), dir.path().join("b.wasm"));
    variant(&guest("hostile-root"), &a, "one");
    variant(&guest("hostile-root"), &b, "two");
    let out = tempfile::tempdir().unwrap();
    let run = |plugin: &Path| {
        let mut cmd = hb.command();
        cmd.args(["run", "--opt", "attack=cache"]).arg(plugin).args(["--out", out.path().to_str().unwrap()]);
        let run = hostbuild_tests::Run::from(cmd.output().unwrap());
        run.expect(0, &[]);
        run
    };
    let (ra, rb) = (run(&a), run(&b));
    let volumes = volumes_of(&hb, "hostile-root");
    assert_eq!(volumes.len(), 2, "{volumes:?}");
    assert_ne!(recipe_image(&ra.stderr), recipe_image(&rb.stderr));
    hb.run(["cache", "clear", "hostile-root"]).expect(0, &[]);
}

#[test]
fn a_project_plugin_keeps_its_volume_across_rebuilds_of_its_source() {
    let _volumes = HOSTILE_ROOT_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    let hb = Hostbuild::new();
    hb.run(["cache", "clear", "hostile-root"]).expect(0, &[]);
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("hostile-root.wasm");
    variant(&guest("hostile-root"), &file, "v1");
    std::fs::write(
        work.path().join("hostbuild.toml"),
        "[plugins.hostile-root]\nsource = \"hostile-root.wasm\"\ngrants = { container = true }\n",
    )
    .unwrap();
    let run = || {
        let mut cmd = hb.command();
        cmd.current_dir(work.path()).args(["run", "hostile-root", "--opt", "attack=cache", "--out", "out"]);
        let run = hostbuild_tests::Run::from(cmd.output().unwrap());
        run.expect(0, &[]);
        run
    };
    run();
    let before = volumes_of(&hb, "hostile-root");
    variant(&guest("hostile-root"), &file, "v2");
    run();
    let after = volumes_of(&hb, "hostile-root");
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before, after, "a rebuilt plugin of the same source got another volume");
    hb.run(["cache", "clear", "hostile-root"]).expect(0, &[]);
}
