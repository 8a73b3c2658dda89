//! Every way a plugin file can be wrong gets its own clear message and exit
//! status, never a panic.

use hostbuild_tests::{guest, plugin, Hostbuild};

fn inspect_file(bytes: &[u8]) -> hostbuild_tests::Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.wasm");
    std::fs::write(&path, bytes).unwrap();
    Hostbuild::new().run([std::ffi::OsStr::new("inspect"), path.as_os_str()])
}

#[test]
fn missing_file() {
    Hostbuild::new()
        .run(["inspect", "no/such/plugin.wasm"])
        .expect(3, &["error: plugin file", "does not exist", "hint:"]);
}

#[test]
fn text_file() {
    inspect_file(b"#!/bin/sh\necho not wasm\n").expect(4, &["is not a WebAssembly file", "a script", "hint:"]);
}

#[test]
fn empty_file() {
    inspect_file(b"").expect(4, &["is not a WebAssembly file", "empty"]);
}

#[test]
fn random_bytes() {
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    inspect_file(&bytes).expect(4, &["is not a WebAssembly file", "binary data"]);
}

#[test]
fn random_bytes_after_a_component_header() {
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    inspect_file(&bytes).expect(4, &["is not a valid WebAssembly component", "corrupt"]);
}

#[test]
fn truncated_component() {
    let bytes = std::fs::read(plugin("armv7")).unwrap();
    inspect_file(&bytes[..bytes.len() / 2]).expect(4, &["is not a valid WebAssembly component", "truncated"]);
}

#[test]
fn core_module() {
    inspect_file(b"\0asm\x01\0\0\0").expect(4, &["is a core WebAssembly module, not a component", "wasm32-wasip2"]);
}

#[test]
fn component_of_another_world() {
    Hostbuild::new()
        .run([std::ffi::OsStr::new("inspect"), guest("cli-command").as_os_str()])
        .expect(4, &["not a hostbuild platform", "wasi:cli/run", "author guide"]);
}

#[test]
fn incompatible_wit_version_names_both_versions() {
    Hostbuild::new()
        .run([std::ffi::OsStr::new("inspect"), guest("wrong-wit-version").as_os_str()])
        .expect(5, &["hostbuild:platform@0.3.0", "hostbuild:platform@0.2.0", "upgrade hostbuild"]);
}

#[test]
fn a_plugin_of_the_previous_contract_is_refused_with_the_fix() {
    // 0.2.0 changed `capabilities` (image-network): a 0.1 plugin cannot be
    // called safely, so it is refused, never run with guessed grants.
    Hostbuild::new()
        .run([std::ffi::OsStr::new("inspect"), guest("old-wit-version").as_os_str()])
        .expect(5, &["hostbuild:platform@0.1.0", "hostbuild:platform@0.2.0", "hostbuild-sdk"]);
}

#[test]
fn trap_shows_the_panic() {
    Hostbuild::new()
        .run([std::ffi::OsStr::new("inspect"), guest("trap").as_os_str()])
        .expect(6, &["crashed (trapped) in `describe`", "the trap guest panics on purpose", "bug in the plugin"]);
}

#[test]
fn endless_loop_is_stopped_at_the_time_limit() {
    let started = std::time::Instant::now();
    Hostbuild::new()
        .run([
            std::ffi::OsStr::new("inspect"),
            guest("loop-forever").as_os_str(),
            "--plugin-time-limit".as_ref(),
            "1".as_ref(),
        ])
        .expect(6, &["plugin `loop-forever` exceeded its time limit of 1s in `describe`", "--plugin-time-limit"]);
    assert!(started.elapsed().as_secs() < 30, "the loop was not stopped promptly");
}

#[test]
fn unbounded_allocation_is_stopped_at_the_memory_limit() {
    Hostbuild::new()
        .run([
            std::ffi::OsStr::new("inspect"),
            guest("alloc-forever").as_os_str(),
            "--plugin-memory-limit".as_ref(),
            "64".as_ref(),
        ])
        .expect(6, &["exceeded its memory limit of 64 MiB in `describe`", "--plugin-memory-limit"]);
}

#[test]
fn malformed_description_is_refused() {
    Hostbuild::new()
        .run([std::ffi::OsStr::new("inspect"), guest("malformed").as_os_str()])
        .expect(6, &["returned malformed data from `describe`", "`one.two` is not semantic versioning"]);
}

#[test]
fn errors_are_json_with_json() {
    let run = Hostbuild::new().run(["inspect", "--json", "missing.wasm"]);
    run.expect(3, &[]);
    let v: serde_json::Value = serde_json::from_str(run.stderr.trim()).expect("stderr is one JSON object");
    assert_eq!(v["error"]["status"], "plugin-not-found");
    assert_eq!(v["error"]["exit_code"], 3);
    assert!(v["error"]["hint"].as_str().unwrap().contains("xtask plugins"));
}
