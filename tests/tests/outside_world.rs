//! The network as it is (issue #14, part 1): this machine reaches PyPI
//! through a TLS-intercepting proxy whose CA only the host trusts. With
//! `--ca-bundle` every image trusts it and `pip install` from the real PyPI
//! works inside image builds; without it the failure names the flag. The
//! host's proxy variables reach image builds and networked steps, never the
//! plugin.

use std::path::Path;

use hostbuild_tests::{docker, example_copy, run_plugin, Hostbuild, Run};

/// The host's trust store: the proxy's CA is in it.
const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The research example with a real PyPI requirement (and a unique comment,
/// so its images are built afresh, never reused from an earlier run).
fn research_project(requirement: &str) -> tempfile::TempDir {
    let src = example_copy("research-env");
    let text = format!("# {}\n{requirement}\n", hostbuild_tests::unique());
    std::fs::write(src.path().join("dependencies/requirements.txt"), text).unwrap();
    src
}

fn research(hb: &Hostbuild, src: &Path, extra: &[&str]) -> Run {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "-v",
        "--allow-push",
        "research-env/",
        "--opt",
        "command=python -c \"import six; print('six', six.__version__, 'from', six.__file__)\"",
    ];
    args.extend_from_slice(extra);
    run_plugin(hb, "research-env", src, out.path(), &args)
}

#[test]
fn research_env_installs_from_pypi_through_the_proxy_with_the_bundle() {
    let hb = Hostbuild::new();
    let src = research_project("six==1.16.0");
    // Without the bundle: on this machine the proxy's certificate fails, and
    // the error says what to do. (A machine without such a proxy succeeds.)
    let run = research(&hb, src.path(), &[]);
    if run.code != 0 {
        run.expect(7, &["--ca-bundle", "CERTIFICATE_VERIFY_FAILED"]);
    } else {
        eprintln!("no TLS-intercepting proxy on this machine: pip succeeded without the bundle");
    }
    let run = research(&hb, src.path(), &["--ca-bundle", BUNDLE]);
    run.expect(0, &["Downloading six-1.16.0", "six 1.16.0 from /opt/venv/"]);
}

#[test]
fn pytorch_wheel_installs_pip_packages_from_pypi_with_the_bundle() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let src = example_copy("hello-ext");
    // A specifier no earlier run used (`!=` a version that does not exist),
    // so the builder image is built now, from PyPI, not reused.
    let packages = format!("pip-packages=six==1.16.0,!=0.0.{}", std::process::id());
    let run =
        run_plugin(&hb, "pytorch-wheel", src.path(), out.path(), &["-v", "--opt", &packages, "--ca-bundle", BUNDLE]);
    run.expect(0, &["Downloading six-1.16.0"]);
    let builder = run
        .stderr
        .lines()
        .find_map(|l| l.split("] building ").nth(1).filter(|t| t.contains("-build")))
        .and_then(|t| t.split_whitespace().next())
        .expect("the builder image was built in this run")
        .to_string();
    let six = docker(&["run", "--rm", &builder, "sh", "-c", "python3 -c 'import six; print(six.__version__)'"]);
    assert_eq!(six.trim(), "1.16.0");
    // The bundle is in the image's trust store and named for the tools.
    let env = docker(&["run", "--rm", &builder, "sh", "-c", "echo $PIP_CERT; test -s $SSL_CERT_FILE && echo present"]);
    assert!(
        env.contains("/usr/local/share/ca-certificates/hostbuild-ca-bundle.crt") && env.contains("present"),
        "{env}"
    );
}

#[test]
fn proxy_variables_reach_builds_and_networked_steps_but_never_the_plugin() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let marker = format!("marker={}", hostbuild_tests::unique());
    let mut cmd = hb.command();
    cmd.args(["run", "-v", "--json", "--opt", &marker])
        .arg(hostbuild_tests::guest("proxy-probe"))
        .arg("--source")
        .arg(src.path())
        .arg("--out")
        .arg(out.path())
        .env("HTTPS_PROXY", "http://proxy.example:3128")
        .env("no_proxy", "localhost,127.0.0.1");
    let run = Run::from(cmd.output().unwrap());
    run.expect(
        0,
        &[
            "build-proxy=http://proxy.example:3128 build-no-proxy=localhost,127.0.0.1",
            "access denied: environment variable HTTPS_PROXY",
        ],
    );
    let notes = run.json()["platforms"][0]["notes"].to_string();
    assert!(notes.contains("step-proxy=http://proxy.example:3128 step-no-proxy=localhost,127.0.0.1"), "{notes}");
    assert!(notes.contains("plugin-proxy=None"), "{notes}");
}
