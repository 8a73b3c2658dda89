//! The user's paths through the CLI: inspect, run, options, the compile
//! cache, doctor, help.

use std::ffi::OsStr;
use std::path::Path;

use hostbuild_tests::{containers_with, elf_machine, guest, plugin, root, sha256sum, Hostbuild};

#[test]
fn version_and_help_teach() {
    let hb = Hostbuild::new();
    let v = hb.run(["--version"]);
    assert_eq!(v.code, 0);
    assert!(v.stdout.starts_with("hostbuild 0.1.0"));
    let help = hb.run(["--help"]);
    for s in ["run", "inspect", "doctor", "Exit status", "hostbuild run plugins/armv7.wasm"] {
        assert!(help.stdout.contains(s), "help lacks {s}");
    }
    let run_help = hb.run(["run", "--help"]);
    assert!(run_help.stdout.contains("--opt <KEY=VALUE>") && run_help.stdout.contains("PLUGIN:KEY=VALUE"));
    hb.run(["run"]).expect(2, &["PLUGIN"]);
}

#[test]
fn inspect_armv7() {
    let hb = Hostbuild::new();
    let armv7 = plugin("armv7");
    let text = hb.run([OsStr::new("inspect"), armv7.as_os_str()]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    for s in [
        "armv7 0.1.0",
        "hostbuild:platform@0.2.0",
        "container, emulation:arm, image-network",
        "build-type",
        "[default: Release]",
    ] {
        assert!(text.stdout.contains(s), "inspect lacks {s}:\n{}", text.stdout);
    }
    let json = hb.run([OsStr::new("inspect"), armv7.as_os_str(), OsStr::new("--json")]).json();
    assert_eq!(json["name"], "armv7");
    assert_eq!(json["wit_version"], "0.2.0");
    assert_eq!(json["sha256"], sha256sum(&armv7));
    assert_eq!(json["capabilities"], serde_json::json!(["container", "emulation:arm", "image-network"]));
    let names: Vec<&str> = json["options"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["build-type", "cmake-args", "skip-tests", "test-filter"]);
    assert_eq!(json["options"][0]["choices"].as_array().unwrap().len(), 4);
}

#[test]
fn compile_cache_is_used_and_corrupt_entries_are_recompiled() {
    let hb = Hostbuild::new();
    let armv7 = plugin("armv7");
    let inspect = || hb.run([OsStr::new("inspect"), armv7.as_os_str(), OsStr::new("--json")]).json();
    assert_eq!(inspect()["compile_cache"], "compiled");
    assert_eq!(inspect()["compile_cache"], "hit");

    let entries: Vec<_> = std::fs::read_dir(hb.cache.path().join("components"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 1, "one entry per plugin");
    let entry = &entries[0];
    let name = entry.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with(&sha256sum(&armv7)) && name.contains("wasmtime48.0.8"), "key: {name}");

    // A flipped byte in the compiled code.
    let mut bytes = std::fs::read(entry).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(entry, &bytes).unwrap();
    assert_eq!(inspect()["compile_cache"], "recompiled");
    assert_eq!(inspect()["compile_cache"], "hit");

    // A truncated entry, as after a crash mid-write by another tool.
    let bytes = std::fs::read(entry).unwrap();
    std::fs::write(entry, &bytes[..bytes.len() / 3]).unwrap();
    assert_eq!(inspect()["compile_cache"], "recompiled");
    assert_eq!(inspect()["compile_cache"], "hit");
}

#[test]
fn unwritable_cache_is_a_clear_error() {
    let hb = Hostbuild::new();
    let file = hb.cache.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let run = hb
        .command()
        .args([OsStr::new("inspect"), plugin("armv7").as_os_str()])
        .env("HOSTBUILD_CACHE_DIR", &file)
        .output();
    hostbuild_tests::Run::from(run.unwrap()).expect(8, &["cannot write the compile cache", "HOSTBUILD_CACHE_DIR"]);
}

fn run_well_behaved(hb: &Hostbuild, out: &Path, extra: &[&str]) -> hostbuild_tests::Run {
    let mut args: Vec<&OsStr> = vec![OsStr::new("run")];
    let g = guest("well-behaved");
    args.push(g.as_os_str());
    let source = root().join("examples");
    args.extend([OsStr::new("--source"), source.as_os_str(), OsStr::new("--out"), out.as_os_str()]);
    args.extend(extra.iter().map(OsStr::new));
    hostbuild_tests::Run::from(hb.command().args(args).env("WELL_BEHAVED_VISIBLE", "shown").output().unwrap())
}

#[test]
fn run_passes_typed_options_and_lends_only_what_is_declared() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let run = run_well_behaved(&hb, out.path(), &["--opt", "loud=yes", "--opt", "well-behaved:times=2", "--json"]);
    run.expect(0, &[]);
    let logs: Vec<serde_json::Value> = run.stderr.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let said = |m: &str| logs.iter().filter(|l| l["source"] == "well-behaved" && l["message"] == m).count();
    assert_eq!(said("HELLO (plain)"), 2, "loud and times=2 reached the plugin, flavour defaulted");
    assert_eq!(said("visible=Some(\"shown\")"), 1, "declared env var is lent");
    assert_eq!(said("hidden=None"), 1, "undeclared env var is not");
    assert_eq!(said("wasi-env=None"), 1, "WASI has no ambient environment");
    assert_eq!(said("wasi-fs=false"), 1, "WASI has no preopened directories");
    assert!(logs
        .iter()
        .any(|l| l["message"].as_str().unwrap_or("").starts_with("escape attempt: Err(FsError::InvalidPath")));
    assert!(logs
        .iter()
        .any(|l| l["message"].as_str().unwrap_or("").starts_with("write outside: Err(FsError::InvalidPath")));

    let written = out.path().join("build.well-behaved/report/hello.txt");
    let summary = run.json();
    let platform = &summary["platforms"][0];
    assert_eq!(platform["name"], "well-behaved");
    let artifact = &platform["artifacts"][0];
    assert_eq!(artifact["path"], "report/hello.txt");
    assert_eq!(artifact["role"], "test-report");
    assert_eq!(artifact["sha256"], sha256sum(&written));
    assert_eq!(artifact["properties"]["variant"], "cpu");
    // Nothing written outside the output tree.
    let top: Vec<_> = std::fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(top, ["build.well-behaved"]);
}

#[test]
fn bad_options_are_refused_with_the_accepted_list() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    run_well_behaved(&hb, out.path(), &["--opt", "colour=red"]).expect(
        2,
        &[
            "plugin `well-behaved` has no option `colour`",
            "greeting (text) [default: hello]",
            "flavour (one of plain|fancy)",
        ],
    );
    run_well_behaved(&hb, out.path(), &["--opt", "times=often"]).expect(2, &["expects an integer, not `often`"]);
    run_well_behaved(&hb, out.path(), &["--opt", "flavour=sour"]).expect(2, &["expects one of plain, fancy"]);
    run_well_behaved(&hb, out.path(), &["--opt", "loud=maybe"]).expect(2, &["expects a boolean"]);
    run_well_behaved(&hb, out.path(), &["--opt", "loud"]).expect(2, &["not of the form KEY=VALUE"]);
    run_well_behaved(&hb, out.path(), &["--opt", "times=1", "--opt", "times=2"]).expect(2, &["given twice"]);
}

#[test]
fn missing_source_is_a_usage_error() {
    let hb = Hostbuild::new();
    hb.run([OsStr::new("run"), guest("well-behaved").as_os_str(), OsStr::new("--source"), OsStr::new("/no/such/dir")])
        .expect(2, &["source directory /no/such/dir cannot be opened", "--source DIR"]);
}

#[test]
fn doctor_sees_the_real_engine_and_qemu() {
    let run = Hostbuild::new().run(["doctor", "--json"]);
    let v = run.json();
    let check = |name: &str| v["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).cloned().unwrap();
    let engine = check("docker engine");
    assert_eq!(engine["ok"], true, "prerequisites start dockerd: {engine}");
    assert!(engine["detail"].as_str().unwrap().contains("(API 1."), "{engine}");
    assert_eq!(check("qemu armv7 emulation")["ok"], true);
    let image = check("hostbuild image");
    assert_eq!((image["ok"].clone(), image["required"].clone()), (true.into(), true.into()), "{image}");
    assert!(image["detail"].as_str().unwrap().contains("hostbuild/bookworm:amd64"), "{image}");
    assert_eq!(check("cache directory")["ok"], true);
    assert_eq!(run.code, if v["healthy"] == true { 0 } else { 8 });
}

#[test]
fn doctor_reports_a_dead_engine_with_the_fix() {
    let hb = Hostbuild::new();
    let out = hb.command().args(["doctor"]).env("DOCKER_HOST", "unix:///nonexistent/docker.sock").output().unwrap();
    let run = hostbuild_tests::Run::from(out);
    assert_eq!(run.code, 8);
    assert!(run.stdout.contains("MISSING docker engine"), "{}", run.stdout);
    assert!(run.stdout.contains("unix:///nonexistent/docker.sock"));
    assert!(run.stdout.contains("fix: start dockerd"));
}

#[test]
fn the_readme_plugin_guide_builds_a_working_plugin() {
    // tests/guests/readme-guide compiles the README's example verbatim.
    let hb = Hostbuild::new();
    let guide = guest("readme-guide");
    let run = hb.run([OsStr::new("inspect"), guide.as_os_str(), OsStr::new("--json")]);
    run.expect(0, &[]);
    let v = run.json();
    assert_eq!(v["name"], "hello-cmake");
    assert_eq!(v["capabilities"], serde_json::json!(["container", "image-network"]));
    assert_eq!(v["options"][0]["name"], "build-type");

    // What a new user does next: run it on a CMake project, on the real engine.
    let out = tempfile::tempdir().unwrap();
    let child = hb
        .command()
        .arg("run")
        .arg(&guide)
        .arg("--source")
        .arg(root().join("examples/cmake-hello"))
        .arg("--out")
        .arg(out.path())
        .arg("--json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let run = hostbuild_tests::Run::from(child.wait_with_output().unwrap());
    run.expect(0, &[]);
    assert!(containers_with(&format!("hostbuild.owner-pid={pid}")).is_empty(), "containers left running");
    let platform = &run.json()["platforms"][0];
    assert_eq!(platform["steps"], serde_json::json!(["configure", "compile"]));
    let artifacts = platform["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert_eq!(artifacts[0]["path"], "libhello.so.1.0.0");
    let lib = out.path().join("build.hello-cmake/libhello.so.1.0.0");
    assert_eq!(elf_machine(&lib), 62, "an x86-64 library");
    assert_eq!(artifacts[0]["sha256"], sha256sum(&lib));
    assert!(out.path().join("build.hello-cmake/hello-cli").is_file(), "the whole project was built");
}
