//! The pytorch-wheel platform builds a real wheel of `examples/hello-ext`
//! (a C extension) in the Debian builder image; the test installs it in a
//! fresh container with no network and calls into the C code. A wheel whose
//! RECORD does not match its files is an error naming the file.

use std::path::Path;
use std::process::Command;

use hostbuild_tests::{example_copy, image_in_log, inspect_images, root, run_plugin, write_file, Hostbuild, Run};

/// The host's trust store: this machine reaches PyPI (auditwheel) through a
/// TLS-intercepting proxy whose CA only the host trusts.
const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `docker run --rm --network none -v DIST:/dist:ro IMAGE sh -c SCRIPT`: stdout, or the failure.
fn in_container(image: &str, dist: &Path, script: &str) -> String {
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none", "-v", &format!("{}:/dist:ro", dist.display()), image])
        .args(["sh", "-c", script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The wheel artifact of a run's JSON summary.
fn wheel_of(run: &Run) -> serde_json::Value {
    let p = &run.json()["platforms"][0];
    p["artifacts"].as_array().unwrap().iter().find(|a| a["role"] == "wheel").expect("a wheel artifact").clone()
}

#[test]
fn builds_an_importable_manylinux_wheel_with_the_right_tags() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let args = ["--json", "-v", "--ca-bundle", BUNDLE];
    let run = run_plugin(&hb, "pytorch-wheel", &root().join("examples/hello-ext"), out.path(), &args);
    run.expect(0, &["imported hello_ext from /tmp/check/lib/python3.11/site-packages/hello_ext/__init__.py"]);
    let p = &run.json()["platforms"][0];
    assert_eq!(p["steps"], serde_json::json!(["wheel", "repair", "install-check"]));
    assert!(p["artifacts"].as_array().unwrap().iter().any(|a| a["role"] == "license"));
    let wheel = wheel_of(&run);
    let path = wheel["path"].as_str().unwrap();
    assert!(path.starts_with("dist/hello_ext-0.1.0-cp311-cp311-manylinux") && path.ends_with("_x86_64.whl"), "{path}");
    let props = &wheel["properties"];
    for (key, value) in [
        ("name", "hello-ext"),
        ("version", "0.1.0"),
        ("python-tag", "cp311"),
        ("abi-tag", "cp311"),
        ("variant", "cpu"),
        ("os", "debian12"),
    ] {
        assert_eq!(props[key], value, "{key}: {props}");
    }
    // A compressed tag set, e.g. manylinux1_x86_64.manylinux_2_5_x86_64.
    let tag = props["platform-tag"].as_str().unwrap();
    let pep600 = tag.split('.').find(|t| t.starts_with("manylinux_")).unwrap_or_else(|| panic!("{tag}"));
    assert!(path.contains(tag), "{tag} {path}");

    // Independently, in a fresh container of the runtime image (python3, no
    // compilers, no network): auditwheel (from PyPI, through the image's
    // bundle, installed by the test) agrees with the tag, and the C code runs.
    let runtime = image_in_log(&run.stderr, "runtime");
    let dist = out.path().join("build.pytorch-wheel/dist");
    let name = path.trim_start_matches("dist/");
    let show = Command::new("docker")
        .args(["run", "--rm", "-v", &format!("{}:/dist:ro", dist.display()), &runtime, "sh", "-c"])
        .arg(format!(
            "python3 -m venv /tmp/a && /tmp/a/bin/pip install -q 'auditwheel>=6.1,<7' && /tmp/a/bin/auditwheel show /dist/{name}"
        ))
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&show.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(show.status.success(), "{}", String::from_utf8_lossy(&show.stderr));
    assert!(shown.contains(&format!("following platform tag: \"{pep600}\"")), "{shown}");
    let script = "python3 -m venv /tmp/v && /tmp/v/bin/pip install -q --no-index /dist/*.whl && cd / && \
                  /tmp/v/bin/python -c 'import hello_ext; print(hello_ext.add(40, 2), hello_ext.platform())'";
    assert_eq!(in_container(&runtime, &dist, script), "42 x86_64");
}

#[test]
fn a_library_outside_the_policy_is_vendored_and_needs_nothing_installed() {
    let hb = Hostbuild::new();
    let source = example_copy("hello-ext");
    // The extension links libyaml, which no manylinux policy allows and the
    // runtime image does not have.
    let setup = "from setuptools import Extension, setup\n\
                 setup(ext_modules=[Extension(\"hello_ext._native\", [\"src/hello_ext/_native.c\"], libraries=[\"yaml\"])])\n";
    write_file(source.path(), "setup.py", setup.as_bytes());
    let c = std::fs::read_to_string(source.path().join("src/hello_ext/_native.c")).unwrap();
    let c = c.replace("#include <Python.h>", "#include <Python.h>\n#include <yaml.h>").replace(
        "static PyMethodDef methods[] = {",
        "static PyObject *yaml_version(PyObject *self, PyObject *unused) {\n    \
         return PyUnicode_FromString(yaml_get_version_string());\n}\n\n\
         static PyMethodDef methods[] = {\n    {\"yaml_version\", yaml_version, METH_NOARGS, \"libyaml's version.\"},",
    );
    write_file(source.path(), "src/hello_ext/_native.c", c.as_bytes());
    let out = tempfile::tempdir().unwrap();
    let args = ["--json", "-v", "--ca-bundle", BUNDLE, "--opt", "apt-packages=libyaml-dev"];
    let run = run_plugin(&hb, "pytorch-wheel", source.path(), out.path(), &args);
    run.expect(0, &[]);
    let wheel = wheel_of(&run);
    let path = wheel["path"].as_str().unwrap();
    assert!(path.contains("manylinux_2_"), "{path}");
    let dist = out.path().join("build.pytorch-wheel/dist");
    let listing = Command::new("python3")
        .args(["-c", "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))"])
        .arg(out.path().join("build.pytorch-wheel").join(path))
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout).to_string();
    assert!(names.lines().any(|n| n.starts_with("hello_ext.libs/libyaml-")), "not vendored:\n{names}");
    let runtime = image_in_log(&run.stderr, "runtime");
    let script = "if dpkg -s libyaml-0-2 >/dev/null 2>&1; then echo libyaml-installed; exit 1; fi; \
                  python3 -m venv /tmp/v && /tmp/v/bin/pip install -q --no-index /dist/*.whl && cd / && \
                  /tmp/v/bin/python -c 'import hello_ext._native; print(hello_ext._native.yaml_version())'";
    assert!(in_container(&runtime, &dist, script).starts_with("0."), "libyaml's version from the vendored copy");
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
    let args = ["--opt", "installer=installer.sh", "--ca-bundle", BUNDLE];
    let run = run_plugin(&hb, "pytorch-wheel", source.path(), out.path(), &args);
    run.expect(
        6,
        &[
            "dist/hello_ext-0.1.0-cp311-cp311-linux_x86_64.whl is broken",
            "hello_ext/__init__.py does not match its RECORD hash",
        ],
    );
    assert!(!run.stderr.contains("step `repair`"), "a broken wheel must not be repaired (which rewrites RECORD)");
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
