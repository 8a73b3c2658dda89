//! The headline: `hostbuild run plugins/armv7.wasm` on real CMake projects,
//! cross-compiled, then tested as armv7 under QEMU.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use hostbuild_tests::{elf_machine, example_copy, plugin, root, run_plugin, Hostbuild, Run};

fn example() -> PathBuf {
    root().join("examples/cmake-hello")
}

/// A copy of the example with one file rewritten.
fn broken_example(file: &str, edit: impl FnOnce(String) -> String) -> tempfile::TempDir {
    let dir = example_copy("cmake-hello");
    let path = dir.path().join(file);
    std::fs::write(&path, edit(std::fs::read_to_string(&path).unwrap())).unwrap();
    dir
}

/// Builds the platform's two images once per test process, so the tests
/// (run in parallel) do not all build them at the same time on a fresh machine.
fn images_built() {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        let out = tempfile::tempdir().unwrap();
        let mut cmd = Hostbuild::new().command();
        cmd.args([OsStr::new("run"), plugin("armv7").as_os_str(), OsStr::new("--source"), example().as_os_str()]);
        cmd.args([OsStr::new("--out"), out.path().as_os_str(), OsStr::new("--opt"), OsStr::new("skip-tests=true")]);
        Run::from(cmd.output().unwrap()).expect(0, &[]);
    });
}

/// Runs armv7 (images built first) and checks that no container is left.
fn run_armv7(hb: &Hostbuild, source: &Path, out: &Path, extra: &[&str]) -> Run {
    images_built();
    run_plugin(hb, "armv7", source, out, extra)
}

#[test]
fn builds_and_tests_the_example_as_armv7_then_reuses_image_and_ccache() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let run = run_armv7(&hb, &example(), out.path(), &["--json", "--opt", "build-type=Debug"]);
    run.expect(0, &["running tests on armv7l"]);
    let summary = run.json();
    let p = &summary["platforms"][0];
    assert_eq!(p["tests"], serde_json::json!({"passed": 3, "failed": 0, "skipped": 0}));
    let tree = out.path().join("build.armv7");
    let artifacts = p["artifacts"].as_array().unwrap();
    let find =
        |path: &str| artifacts.iter().find(|a| a["path"] == path).unwrap_or_else(|| panic!("no {path}: {artifacts:?}"));
    for (path, kind, linkage) in [
        ("build/libhello.so.1.0.0", "shared-library", "dynamic"),
        ("build/hello-cli", "executable", "dynamic"),
        ("build/test_hello", "executable", "dynamic"),
    ] {
        let a = find(path);
        assert_eq!((a["role"].as_str(), a["properties"]["kind"].as_str()), (Some("primary"), Some(kind)), "{path}");
        assert_eq!(a["properties"]["linkage"], linkage, "{path}");
        assert_eq!(a["properties"]["os"], "debian12");
        assert_eq!(a["properties"]["variant"], "cpu");
        assert_eq!(a["properties"]["platform"], "armv7");
        assert_eq!(elf_machine(&tree.join(path)), 40, "{path} is ARM");
    }
    assert_eq!(find("build/libhello_static.a")["properties"]["kind"], "static-library");
    assert_eq!(find("licenses/LICENSE")["role"], "license");
    assert_eq!(find("test-report.xml")["role"], "test-report");
    let report = std::fs::read_to_string(tree.join("test-report.xml")).unwrap();
    assert_eq!(report.matches("<testcase").count(), 3);

    // Again into a fresh output tree: same images, every compile a ccache hit.
    let again_out = tempfile::tempdir().unwrap();
    let again = run_armv7(&hb, &example(), again_out.path(), &["--json", "--explain", "--opt", "build-type=Debug"]);
    again.expect(0, &["reusing hostbuild/armv7-", "-build:", "-test:"]);
    let notes = again.json()["platforms"][0]["notes"].clone();
    let hits =
        notes.as_array().unwrap().iter().find_map(|n| n.as_str()?.strip_prefix("ccache Hits:")).unwrap().to_string();
    let (hit, total) = hits.split_once('/').unwrap();
    let total: u32 = total.split_whitespace().next().unwrap().parse().unwrap();
    assert!(total > 0 && hit.trim().parse::<u32>().unwrap() == total, "ccache hits: {hits}");
}

#[test]
fn a_failing_test_fails_the_run_with_its_name_and_output() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let source = broken_example("tests/test_hello.c", |s| s.replace("n == 10", "n == 11"));
    run_armv7(&hb, source.path(), out.path(), &[]).expect(
        7,
        &["step `test` exited with status 8", "failed tests: greeting", "FAIL: greeting", "The following tests FAILED"],
    );
}

#[test]
fn a_compile_error_shows_the_compilers_message() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let source = broken_example("src/hello.c", |s| s + "\n#error deliberately broken for the test\n");
    run_armv7(&hb, source.path(), out.path(), &[])
        .expect(7, &["step `compile` exited with status 1", "error: #error deliberately broken for the test"]);
}

#[test]
fn skip_tests_and_test_filter_options() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let run = run_armv7(&hb, &example(), out.path(), &["--json", "--opt", "skip-tests=true"]);
    run.expect(0, &[]);
    assert!(run.json()["platforms"][0]["tests"].is_null());
    let out = tempfile::tempdir().unwrap();
    let run = run_armv7(&hb, &example(), out.path(), &["--json", "--opt", "test-filter=^check"]);
    run.expect(0, &[]);
    assert_eq!(run.json()["platforms"][0]["tests"]["passed"], 1);
}

#[test]
fn a_missing_qemu_handler_is_named_with_its_fix() {
    // A private mount namespace where binfmt_misc shows no handlers: the
    // engine could still emulate, but hostbuild must see the gap itself.
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let script = format!(
        "mount -t tmpfs none /proc/sys/fs/binfmt_misc && exec {} run {} --source {} --out {}",
        hostbuild_tests::binary().display(),
        plugin("armv7").display(),
        example().display(),
        out.path().display()
    );
    let run = Run::from(
        hb.command()
            .get_envs()
            .fold(Command::new("unshare"), |mut c, (k, v)| {
                match v {
                    Some(v) => c.env(k, v),
                    None => c.env_remove(k),
                };
                c
            })
            .args(["--mount", "sh", "-c", &script])
            .output()
            .unwrap(),
    );
    run.expect(
        8,
        &["linux/arm/v7 containers need QEMU user emulation", "qemu-arm", "update-binfmts --enable qemu-arm"],
    );
}
