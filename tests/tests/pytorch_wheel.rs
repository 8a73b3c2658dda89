//! The pytorch-wheel platform builds a real wheel of `examples/hello-ext`
//! (a C extension) in the Debian builder image; the test installs it in a
//! fresh container with no network and calls into the C code. A wheel whose
//! RECORD does not match its files is an error naming the file.

use std::process::Command;

use hostbuild_tests::{example_copy, inspect_images, root, run_plugin, write_file, Hostbuild};

#[test]
fn builds_an_importable_wheel_with_the_right_tags() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let run = run_plugin(&hb, "pytorch-wheel", &root().join("examples/hello-ext"), out.path(), &["--json"]);
    run.expect(0, &["imported hello_ext from /tmp/check/lib/python3.11/site-packages/hello_ext/__init__.py"]);
    let p = &run.json()["platforms"][0];
    assert_eq!(p["steps"], serde_json::json!(["wheel", "install-check"]));
    let artifacts = p["artifacts"].as_array().unwrap();
    let wheel = artifacts.iter().find(|a| a["role"] == "wheel").expect("a wheel artifact");
    assert_eq!(wheel["path"], "dist/hello_ext-0.1.0-cp311-cp311-linux_x86_64.whl");
    let props = &wheel["properties"];
    for (key, value) in [
        ("name", "hello-ext"),
        ("version", "0.1.0"),
        ("python-tag", "cp311"),
        ("abi-tag", "cp311"),
        ("platform-tag", "linux_x86_64"),
        ("variant", "cpu"),
        ("os", "debian12"),
    ] {
        assert_eq!(props[key], value, "{key}: {props}");
    }
    assert!(artifacts.iter().any(|a| a["role"] == "license"));

    // Independently: a fresh container of the runtime image (python3, no
    // compilers), no network, the wheel alone; the C function runs.
    const RUNTIME: &str = "hostbuild/pytorch-wheel-runtime:";
    let at = run.stderr.find(RUNTIME).expect("the runtime image is named in the log") + RUNTIME.len();
    let digest: String = run.stderr[at..].chars().take_while(char::is_ascii_hexdigit).collect();
    let runtime = format!("{RUNTIME}{digest}");
    let dist = out.path().join("build.pytorch-wheel/dist");
    let script = "python3 -m venv /tmp/v && /tmp/v/bin/pip install -q --no-index /dist/*.whl && cd / && \
                  /tmp/v/bin/python -c 'import hello_ext; print(hello_ext.add(40, 2), hello_ext.platform())'";
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none", "-v", &format!("{}:/dist:ro", dist.display()), &runtime])
        .args(["sh", "-c", script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42 x86_64");
}

#[test]
fn a_wheel_whose_record_does_not_match_is_an_error() {
    let hb = Hostbuild::new();
    let source = example_copy("hello-ext");
    // The project's own installer (as the seed's installer.sh) builds the
    // wheel, then changes a file inside it without updating RECORD.
    write_file(
        source.path(),
        "installer.sh",
        br##"set -e
python3 -m pip wheel --no-deps --no-build-isolation --wheel-dir "$WHEEL_DIR" .
python3 - "$WHEEL_DIR"/*.whl <<'PY'
import sys, zipfile
path = sys.argv[1]
with zipfile.ZipFile(path) as src:
    items = [(info, src.read(info.filename)) for info in src.infolist()]
with zipfile.ZipFile(path, "w") as out:
    for info, data in items:
        if info.filename == "hello_ext/__init__.py":
            data += b"# changed after RECORD was written\n"
        out.writestr(info, data)
PY
"##,
    );
    let out = tempfile::tempdir().unwrap();
    let run = run_plugin(&hb, "pytorch-wheel", source.path(), out.path(), &["--opt", "installer=installer.sh"]);
    run.expect(
        6,
        &[
            "dist/hello_ext-0.1.0-cp311-cp311-linux_x86_64.whl is broken",
            "hello_ext/__init__.py does not match its RECORD hash",
        ],
    );
    assert!(!run.stderr.contains("step `install-check`"), "a broken wheel must not be installed");
}

#[test]
fn recipes_pick_conda_on_cuda_bases_and_a_venv_on_debian() {
    let hb = Hostbuild::new();
    let v = inspect_images(&hb, "pytorch-wheel", &["cuda=12.1", "python=3.10"]);
    assert_eq!(v["capabilities"], serde_json::json!(["container", "image-network"]));
    let images = v["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "conda builds check in the builder image");
    assert_eq!(images[0]["base_image"], "nvidia/cuda:12.1.1-devel-ubuntu22.04");
    assert_eq!(images[0]["build_args"]["PYTHON_VERSION"], "3.10");
    let dockerfile = images[0]["dockerfile"].as_str().unwrap();
    assert!(dockerfile.contains("conda create -y -n build python=$PYTHON_VERSION"), "{dockerfile}");
    assert!(dockerfile.contains("ENV PATH=/opt/conda/envs/build/bin"), "{dockerfile}");

    let images = inspect_images(&hb, "pytorch-wheel", &["pip-packages=numpy ninja"])["images"].clone();
    assert_eq!(images[0]["base_image"], "hostbuild/bookworm:amd64");
    assert_eq!(images[1]["name"], "runtime");
    let dockerfile = images[0]["dockerfile"].as_str().unwrap();
    assert!(dockerfile.contains("python3 -m venv --system-site-packages /opt/envs/build"), "{dockerfile}");
    assert!(dockerfile.contains("pip install --no-cache-dir 'numpy' 'ninja'"), "{dockerfile}");
}
