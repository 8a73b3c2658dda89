//! `scripts/install.sh --dev PREFIX` (the dev build the tests already made:
//! CI builds one profile; users get release) installs the binary, the
//! bundled plugins, the packaged SDK, completions and man pages. Then, in a
//! directory with no project file, as a new user: `hostbuild list` shows
//! the bundled plugins (and one a project downloaded), `hostbuild run armv7`
//! finds the bundled one by name and builds examples/cmake-hello under
//! QEMU, and `hostbuild new mine` takes the installed SDK, whose test.sh
//! goes to a green run.

use std::path::Path;
use std::process::Command;

use hostbuild_tests::{
    binary, containers_with, elf_machine, guest, root, run_json, sha256sum, template_test_sh, Hostbuild, Run,
};

fn installed(prefix: &Path) -> Command {
    let mut cmd = Command::new(prefix.join("bin/hostbuild"));
    cmd.env_remove("HOSTBUILD_PLUGIN_TIME_LIMIT").env_remove("HOSTBUILD_PLUGIN_MEMORY_LIMIT");
    cmd
}

#[test]
fn install_sh_gives_a_hostbuild_that_runs_bundled_plugins_by_name_and_starts_new_ones() {
    // Beside the shared target of generated crates, at the same paths each
    // time: cargo then reuses the installed SDK's build instead of adding one.
    let work = hostbuild_tests::templates_target().with_file_name("install-test");
    let _ = std::fs::remove_dir_all(&work);
    let (p, home) = (work.join("prefix"), work.join("home"));
    std::fs::create_dir_all(&home).unwrap();
    let target = binary().parent().and_then(Path::parent).unwrap().to_path_buf();
    let out = Command::new("bash")
        .arg(root().join("scripts/install.sh"))
        .arg("--dev")
        .arg(&p)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .expect("install.sh runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "install.sh failed:\n{stderr}");
    assert!(stderr.contains("(dev)") && stderr.contains("bundled plugins"), "{stderr}");

    // What it laid out: the same bytes as the build, the SDK as cargo packages it.
    let p = p.as_path();
    assert_eq!(sha256sum(&p.join("bin/hostbuild")), sha256sum(&binary()));
    for name in ["armv7", "cuda", "pytorch-wheel", "determined", "research-env"] {
        let bundled = p.join(format!("share/hostbuild/plugins/{name}.wasm"));
        assert_eq!(sha256sum(&bundled), sha256sum(&root().join(format!("plugins/{name}.wasm"))), "{name}");
    }
    for wit in std::fs::read_dir(root().join("wit")).unwrap().flatten() {
        let packaged = p.join("share/hostbuild/sdk/wit").join(wit.file_name());
        assert_eq!(std::fs::read(&packaged).unwrap(), std::fs::read(wit.path()).unwrap(), "{packaged:?}");
    }
    let sdk = std::fs::read_to_string(p.join("share/hostbuild/sdk/Cargo.toml")).unwrap();
    assert!(sdk.contains("name = \"hostbuild-sdk\"") && sdk.contains("version = \"0.2."), "{sdk}");
    for file in [
        "share/bash-completion/completions/hostbuild",
        "share/zsh/site-functions/_hostbuild",
        "share/fish/vendor_completions.d/hostbuild.fish",
        "share/man/man1/hostbuild.1",
        "share/man/man1/hostbuild-run.1",
    ] {
        assert!(p.join(file).is_file(), "{file} is missing");
    }

    // A plugin a project downloaded shows as cached.
    let hb = Hostbuild::new();
    let project = tempfile::tempdir().unwrap();
    let add = installed(p)
        .args(["plugins", "add", "well-behaved"])
        .arg(guest("well-behaved"))
        .arg("--grant-declared")
        .current_dir(project.path())
        .env("HOSTBUILD_CACHE_DIR", hb.cache.path())
        .output()
        .unwrap();
    Run::from(add).expect(0, &[]);

    // A new user's directory: no hostbuild.toml.
    let home = home.as_path();
    let list =
        installed(p).args(["list", "--json"]).current_dir(home).env("HOSTBUILD_CACHE_DIR", hb.cache.path()).output();
    let list = Run::from(list.unwrap());
    list.expect(0, &[]);
    let plugins = list.json()["plugins"].as_array().unwrap().clone();
    let find = |name: &str| plugins.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("{name}: {plugins:?}"));
    let armv7 = find("armv7");
    assert_eq!(armv7["origin"], "bundled");
    assert_eq!(armv7["version"], "0.1.0");
    assert_eq!(armv7["wit"], "0.2.0");
    assert_eq!(armv7["capabilities"], serde_json::json!(["container", "emulation:arm", "image-network"]));
    assert_eq!(find("research-env")["capabilities"], serde_json::json!(["container", "image-network", "publish"]));
    assert_eq!(find("well-behaved")["origin"], "cached");
    let text = Run::from(installed(p).arg("list").current_dir(home).output().unwrap());
    assert!(text.stdout.contains("run them by name") && text.stdout.contains("armv7"), "{}", text.stdout);
    let project_list = Run::from(installed(p).args(["plugins", "list"]).current_dir(home).output().unwrap());
    project_list.expect(2, &["no hostbuild.toml", "`hostbuild list` shows the plugins you can run without one"]);

    // `hostbuild run armv7` with no project: the bundled plugin, by name.
    let build = tempfile::tempdir().unwrap();
    let child = installed(p)
        .args(["run", "armv7", "--json", "--source"])
        .arg(root().join("examples/cmake-hello"))
        .arg("--out")
        .arg(build.path())
        .current_dir(home)
        .env("HOSTBUILD_CACHE_DIR", hb.cache.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let run = Run::from(child.wait_with_output().unwrap());
    run.expect(0, &[]);
    assert!(containers_with(&format!("hostbuild.owner-pid={pid}")).is_empty(), "containers left running");
    let platform = &run.json()["platforms"][0];
    assert_eq!(platform["name"], "armv7");
    assert_eq!(platform["tests"]["passed"], 3);
    assert_eq!(elf_machine(&build.path().join("build.armv7/build/libhello.so.1.0.0")), 40, "an ARM library");
    // Locked runs take plugins from hostbuild.lock only, never from the bundle.
    let locked = installed(p).args(["run", "armv7", "--locked"]).current_dir(home).output().unwrap();
    assert_eq!(Run::from(locked).code, 2);

    // `hostbuild new` from the installed binary: the installed SDK, no flags.
    let created = installed(p).args(["new", "mine"]).current_dir(home).output().unwrap();
    let created = Run::from(created);
    created.expect(0, &[]);
    let sdk_dir = p.join("share/hostbuild/sdk").canonicalize().unwrap();
    assert!(created.stdout.contains(&format!("hostbuild-sdk 0.2.0 from {}", sdk_dir.display())), "{}", created.stdout);
    let out = home.join("out");
    let mut test_sh = template_test_sh(&hb, &home.join("mine"), &out);
    test_sh.env("HOSTBUILD", p.join("bin/hostbuild"));
    let run = Run::from(test_sh.arg(root().join("examples/cmake-hello")).arg("--json").output().unwrap());
    run.expect(0, &[]);
    assert_eq!(run_json(&run.stdout)["platforms"][0]["tests"]["passed"], 3);
    assert!(containers_with("hostbuild.plugin=mine").is_empty(), "containers left running");
}
