//! Projects: plugins by name from hostbuild.toml, from each source kind
//! (path, HTTP on loopback, S3 on loopback s3s-fs, OCI on a loopback
//! docker-registry), hostbuild.lock and `--locked`, and grants checked at
//! load and enforced at each call.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use hostbuild_tests::{
    docker_build, docker_registry, guest, plugin, registry_get, root, s3_env, s3s_fs, sha256sum, Hostbuild, Run,
};

/// A project directory with a hostbuild.toml.
struct Project {
    dir: tempfile::TempDir,
    hb: Hostbuild,
}

impl Project {
    fn new(toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hostbuild.toml"), toml).unwrap();
        Self { dir, hb: Hostbuild::new() }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.hb.command();
        cmd.current_dir(self.dir.path()).env_remove("HOSTBUILD_LOCKED").args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd(args).output().unwrap())
    }

    /// `hostbuild run NAME` with a scratch source and output tree.
    fn build(&self, name: &str, extra: &[&str]) -> Run {
        let src = self.dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        let mut args = vec!["run", name, "--source", "src", "--out", "out"];
        args.extend(extra);
        self.run(&args)
    }

    fn lock_text(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("hostbuild.lock")).unwrap()
    }

    fn edit_lock(&self, from: &str, to: &str) {
        let text = self.lock_text();
        assert!(text.contains(from), "{from} not in the lock:\n{text}");
        std::fs::write(self.dir.path().join("hostbuild.lock"), text.replacen(from, to, 1)).unwrap();
    }
}

fn path_entry(name: &str, file: &Path, grants: &str) -> String {
    format!("[plugins.{name}]\nsource = \"{}\"\ngrants = {{ {grants} }}\n", file.display())
}

#[test]
fn lock_round_trip_verify_and_locked_run() {
    let p = Project::new(&format!(
        "{}\n{}",
        path_entry("well-behaved", &guest("well-behaved"), "env = [\"WELL_BEHAVED_VISIBLE\"]"),
        path_entry("greedy", &guest("greedy"), GREEDY_GRANTS)
    ));
    p.run(&["lock"]).expect(0, &[]);
    let text = p.lock_text();
    assert!(text.find("name = \"greedy\"").unwrap() < text.find("name = \"well-behaved\"").unwrap(), "sorted:\n{text}");
    assert!(text.contains(&format!("sha256 = \"{}\"", sha256sum(&guest("well-behaved")))), "{text}");
    assert!(text.contains("version = \"1.2.3\"") && text.contains("wit = \"0.2.0\""), "{text}");
    p.run(&["lock"]).expect(0, &[]);
    assert_eq!(p.lock_text(), text, "locking again changes nothing");

    p.run(&["plugins", "verify"]).expect(0, &["well-behaved: matches hostbuild.lock", "greedy: matches"]);
    let list = p.run(&["plugins", "list", "--json"]);
    list.expect(0, &[]);
    let rows = list.json();
    let wb = rows.as_array().unwrap().iter().find(|r| r["name"] == "well-behaved").unwrap().clone();
    assert_eq!(wb["grants"], serde_json::json!(["env:WELL_BEHAVED_VISIBLE"]));
    assert_eq!(
        (wb["version"].as_str(), wb["wit"].as_str(), wb["locked"].as_bool()),
        (Some("1.2.3"), Some("0.2.0"), Some(true))
    );
    p.build("well-behaved", &["--locked"]).expect(0, &["visible="]);
    // inspect takes names too, and shows what the project grants.
    let inspect = p.run(&["inspect", "well-behaved"]);
    inspect.expect(0, &[]);
    assert!(inspect.stdout.contains("granted       env:WELL_BEHAVED_VISIBLE"), "{}", inspect.stdout);
    let mut cmd = p.cmd(&["run", "well-behaved", "--source", ".", "--out", "out"]);
    Run::from(cmd.env("HOSTBUILD_LOCKED", "1").output().unwrap()).expect(0, &[]);
    // A file given directly is not in the lock: --locked refuses it.
    p.run(&["run", guest("well-behaved").to_str().unwrap(), "--locked"]).expect(12, &["is not in hostbuild.lock"]);
}

#[test]
fn locked_refuses_a_changed_component_a_changed_version_and_a_changed_base_image() {
    // The component: the file behind the source is replaced.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wb.wasm");
    std::fs::copy(guest("well-behaved"), &file).unwrap();
    let p = Project::new(&path_entry("well-behaved", &file, "env = [\"WELL_BEHAVED_VISIBLE\"]"));
    p.run(&["lock"]).expect(0, &[]);
    let locked_sha = sha256sum(&file);
    std::fs::copy(guest("greedy"), &file).unwrap();
    let changed_sha = sha256sum(&file);
    p.build("well-behaved", &["--locked"]).expect(
        12,
        &["plugin `well-behaved`: the component (sha256) differs from hostbuild.lock", &locked_sha, &changed_sha],
    );
    p.run(&["plugins", "verify"]).expect(12, &["differs from hostbuild.lock"]);
    // Without --locked too: other bytes never run under the project's grants.
    p.build("well-behaved", &[]).expect(12, &["the component (sha256) differs", &changed_sha]);
    // Recording them checks the project's name first.
    p.run(&["plugins", "update", "well-behaved"])
        .expect(2, &["plugins.well-behaved comes from", "which is plugin `greedy`"]);

    // The version: the lock says another one than the plugin.
    std::fs::copy(guest("well-behaved"), &file).unwrap();
    p.edit_lock("version = \"1.2.3\"", "version = \"1.2.2\"");
    p.build("well-behaved", &["--locked"])
        .expect(12, &["the version differs from hostbuild.lock: expected 1.2.2, found 1.2.3"]);
    p.run(&["plugins", "update", "well-behaved"]).expect(0, &["well-behaved: 1.2.2"]);
    p.build("well-behaved", &["--locked"]).expect(0, &[]);

    // A version requirement the plugin does not meet.
    let req = Project::new(&format!(
        "{}version = \"^2\"\n",
        path_entry("well-behaved", &guest("well-behaved"), "env = [\"WELL_BEHAVED_VISIBLE\"]")
    ));
    req.build("well-behaved", &[])
        .expect(5, &["plugin `well-behaved` is version 1.2.3, but hostbuild.toml requires ^2"]);

    // A base image: rebuilt under the same tag after locking.
    let tag = format!("hostbuild-test/pin-base:{}", std::process::id());
    hostbuild_tests::docker(&["tag", "hostbuild/bookworm:amd64", &tag]);
    let cuda = Project::new(&format!(
        "{}options = {{ base-image = \"{tag}\" }}\n",
        path_entry("cuda", &plugin("cuda"), "container = true, gpu = true, image-network = true")
    ));
    cuda.run(&["lock"]).expect(0, &[]);
    assert!(cuda.lock_text().contains(&format!("\"{tag}\" = \"sha256:")), "{}", cuda.lock_text());
    docker_build(&tag, "FROM hostbuild/bookworm:amd64\nLABEL rebuilt=yes\n");
    let run = cuda.build("cuda", &["--locked", "--no-gpu"]);
    run.expect(12, &[&format!("plugin `cuda`: base image {tag} differs from hostbuild.lock")]);
    assert!(!run.stderr.contains("step `configure`"), "nothing may run: {}", run.stderr);
    let _ = Command::new("docker").args(["rmi", "-f", &tag]).output();
}

#[test]
fn a_wit_incompatible_plugin_is_refused_by_name() {
    let p = Project::new(&path_entry("wrong-wit-version", &guest("wrong-wit-version"), ""));
    p.build("wrong-wit-version", &[]).expect(5, &["hostbuild:platform@0.3.0", "hostbuild:platform@0.2.0"]);
    p.run(&["lock"]).expect(5, &["hostbuild:platform@0.3.0"]);
}

const GREEDY_GRANTS: &str =
    "container = true, emulation = [\"arm\"], gpu = true, network = true, image-network = true, \
                             publish = true, env = [\"GREEDY_TOKEN\"]";

#[test]
fn every_grant_is_checked_at_load() {
    let p = Project::new(&path_entry("greedy", &guest("greedy"), ""));
    let run = p.build("greedy", &[]);
    run.expect(
        11,
        &[
            "plugin `greedy` asks for containers, GPUs, network during steps, network during image builds, \
             the artifact repository, emulation of arm, environment variable GREEDY_TOKEN, which hostbuild.toml \
             does not grant it",
            "[plugins.greedy.grants]: container = true; gpu = true; network = true; image-network = true; \
             publish = true; emulation = [\"arm\"]; env = [\"GREEDY_TOKEN\"]",
        ],
    );
    // One grant short is still refused, naming just that one.
    let short = Project::new(&path_entry("greedy", &guest("greedy"), &GREEDY_GRANTS.replace("gpu = true, ", "")));
    short.build("greedy", &[]).expect(11, &["plugin `greedy` asks for GPUs, which"]);
    short.run(&["lock"]).expect(11, &["asks for GPUs"]);
    // Everything granted: it runs, and reads its granted variable.
    let all = Project::new(&path_entry("greedy", &guest("greedy"), GREEDY_GRANTS));
    let mut cmd = all.cmd(&["run", "greedy", "--source", ".", "--out", "out", "--no-gpu"]);
    Run::from(cmd.env("GREEDY_TOKEN", "t0k").output().unwrap()).expect(0, &["token=Some(\"t0k\")"]);
}

#[test]
fn calls_beyond_what_was_declared_and_granted_are_denied() {
    // Emulation: a recipe for an architecture not declared (arm64).
    let greedy = Project::new(&path_entry("greedy", &guest("greedy"), GREEDY_GRANTS));
    greedy.build("greedy", &["--no-gpu", "--opt", "image=arm64"]).expect(
        6,
        &["access denied: image `main` is for linux/arm64 but emulation of arm64 was not declared or not granted"],
    );
    // Environment and artifact repository: read as unset / refused at the call.
    let wb = Project::new(&path_entry("well-behaved", &guest("well-behaved"), "env = [\"WELL_BEHAVED_VISIBLE\"]"));
    let mut cmd = wb.cmd(&["run", "well-behaved", "--source", ".", "--out", "out"]);
    let run = Run::from(cmd.env("WELL_BEHAVED_VISIBLE", "yes").output().unwrap());
    run.expect(
        0,
        &[
            "visible=Some(\"yes\")",
            "hidden=None",
            "access denied: environment variable HOME was not declared by the plugin, or not granted to it",
            "artifacts: Err(StoreError::Denied(\"access denied: `publish` was not declared by the plugin, or not granted to it\"))",
        ],
    );
    // GPUs: a step asking for them from a plugin granted only containers.
    let steps = Project::new(&path_entry(
        "container-steps",
        &guest("container-steps"),
        "container = true, emulation = [\"arm\"]",
    ));
    steps.build("container-steps", &["--opt", "mode=gpu"]).expect(
        6,
        &["access denied: step `gpu` asks for GPUs, but `gpu` was not declared by the plugin, or not granted to it"],
    );
}

/// Serves `body` at any path for `requests` requests; a `cut` body claims
/// its full length but stops halfway, as a broken connection does.
fn http_server(body: Vec<u8>, cut: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            let path = String::from_utf8_lossy(&request[..n]).split_whitespace().nth(1).unwrap_or("").to_string();
            if path.ends_with("/missing.wasm") {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            }
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(if cut { &body[..body.len() / 2] } else { &body });
        }
    });
    port
}

fn cached_plugins(p: &Project) -> Vec<String> {
    std::fs::read_dir(p.hb.cache.path().join("plugins"))
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn resolves_by_name_from_http_s3_and_oci() {
    let wasm = guest("well-behaved");
    let sha = sha256sum(&wasm);
    let grants = "env = [\"WELL_BEHAVED_VISIBLE\"]";
    let entry = |source: &str| format!("[plugins.well-behaved]\nsource = \"{source}\"\ngrants = {{ {grants} }}\n");

    // HTTP on loopback: fetched, cached by sha256, locked.
    let port = http_server(std::fs::read(&wasm).unwrap(), false);
    let p = Project::new(&entry(&format!("http://127.0.0.1:{port}/well-behaved.wasm")));
    p.run(&["lock"]).expect(0, &[]);
    assert!(p.lock_text().contains(&sha), "{}", p.lock_text());
    p.build("well-behaved", &["--locked"]).expect(0, &[]);
    assert_eq!(cached_plugins(&p), [format!("{sha}.wasm")]);
    let missing = Project::new(&entry(&format!("http://127.0.0.1:{port}/missing.wasm")));
    missing.build("well-behaved", &[]).expect(3, &["cannot fetch plugin `well-behaved`", "404 Not Found"]);
    // A download that breaks off leaves nothing in the cache.
    let cut = http_server(std::fs::read(&wasm).unwrap(), true);
    let half = Project::new(&entry(&format!("http://127.0.0.1:{cut}/well-behaved.wasm")));
    half.build("well-behaved", &[]).expect(8, &["cannot fetch plugin `well-behaved`", "nothing was kept"]);
    assert!(cached_plugins(&half).is_empty(), "{:?}", cached_plugins(&half));

    // S3 on the loopback s3s-fs: the object is a file of its bucket directory.
    let s3_root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(s3_root.path().join("plugins/team")).unwrap();
    std::fs::copy(&wasm, s3_root.path().join("plugins/team/well-behaved.wasm")).unwrap();
    let s3 = s3s_fs(s3_root.path());
    let p = Project::new(&entry("s3://plugins/team/well-behaved.wasm"));
    let mut cmd = p.cmd(&["lock"]);
    Run::from(s3_env(&mut cmd, s3.port).output().unwrap()).expect(0, &[]);
    assert!(p.lock_text().contains(&sha));
    let mut cmd = p.cmd(&["run", "well-behaved", "--locked", "--source", ".", "--out", "out"]);
    Run::from(s3_env(&mut cmd, s3.port).output().unwrap()).expect(0, &[]);

    // OCI on a loopback docker-registry: publish, then add and run by name.
    let storage = tempfile::tempdir().unwrap();
    let registry = docker_registry(storage.path());
    let reference = format!("127.0.0.1:{}/platforms/well-behaved:1.2.3", registry.port);
    let p = Project::new("");
    p.run(&["plugins", "publish", wasm.to_str().unwrap(), &format!("oci://{reference}")])
        .expect(0, &[])
        .stdout
        .contains(&sha)
        .then_some(())
        .expect("publish names the sha256");
    let (manifest, _) = registry_get(
        registry.port,
        "/v2/platforms/well-behaved/manifests/1.2.3",
        "application/vnd.oci.image.manifest.v1+json",
    );
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.wasm.config.v0+json");
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(manifest["layers"][0]["digest"], format!("sha256:{sha}"));
    assert_eq!(manifest["annotations"]["org.opencontainers.image.version"], "1.2.3");
    p.run(&["plugins", "add", "well-behaved", &format!("oci://{reference}"), "--grant", "env:WELL_BEHAVED_VISIBLE"])
        .expect(0, &[]);
    assert!(p.lock_text().contains(&sha));
    p.build("well-behaved", &["--locked"]).expect(0, &[]);
    p.run(&["plugins", "verify"]).expect(0, &["matches hostbuild.lock"]);
    let gone = Project::new(&entry(&format!("oci://127.0.0.1:{}/platforms/nothing:1", registry.port)));
    gone.build("well-behaved", &[]).expect(3, &["no such manifest"]);
}

#[test]
fn a_plugin_file_still_runs_without_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Hostbuild::new().command();
    cmd.current_dir(dir.path()).args(["run", root().join("tests/guests/wasm/well-behaved.wasm").to_str().unwrap()]);
    Run::from(cmd.output().unwrap()).expect(0, &[]);
    let mut cmd = Hostbuild::new().command();
    cmd.current_dir(dir.path()).args(["run", "armv7"]);
    Run::from(cmd.output().unwrap())
        .expect(2, &["`armv7` is not a plugin file, and there is no hostbuild.toml", "plugins add armv7"]);
}
