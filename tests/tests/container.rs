//! The container capability against the real Docker engine started by
//! scripts/prereqs.sh: offline base images, recipe builds and reuse, steps,
//! output ownership, the read-only source, concurrency, the ccache volume,
//! GPU requests, and cleanup after SIGINT, SIGTERM and SIGKILL.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hostbuild_tests::{containers_with, docker, guest, root, signal, unique, wait_for, Hostbuild, Run};

fn source() -> std::path::PathBuf {
    root().join("examples/cmake-hello")
}

/// `hostbuild run` of a guest in `out`, with extra arguments.
fn run_guest(hb: &Hostbuild, name: &str, out: &Path, extra: &[&str]) -> Run {
    run_cmd(hb, name, out, extra).output().map(Run::from).expect("hostbuild runs")
}

fn run_cmd(hb: &Hostbuild, name: &str, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = hb.command();
    cmd.args([OsStr::new("run"), guest(name).as_os_str(), OsStr::new("--source"), source().as_os_str()]);
    cmd.args([OsStr::new("--out"), out.as_os_str()]).args(extra);
    cmd
}

fn notes(run: &Run) -> Vec<String> {
    run.json()["platforms"][0]["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

#[test]
fn base_images_have_their_architecture_and_run_it() {
    for (tag, arch, machine) in [
        ("hostbuild/bookworm:amd64", "amd64/", "x86_64"),
        ("hostbuild/bookworm:armv7", "arm/v7", "armv7l"),
        ("hostbuild/bookworm:arm64", "arm64/", "aarch64"),
    ] {
        let meta = docker(&["image", "inspect", "--format", "{{.Architecture}}/{{.Variant}}", tag]);
        assert_eq!(meta.trim(), arch, "{tag}");
        let platform = format!("linux/{}", arch.trim_end_matches('/'));
        assert_eq!(docker(&["run", "--rm", "--platform", &platform, tag, "uname", "-m"]).trim(), machine, "{tag}");
    }
}

#[test]
fn recipes_are_built_once_and_explain_says_what_changed() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let (first, second) = (format!("marker={}", unique()), format!("marker={}", unique()));
    let built = run_guest(&hb, "container-steps", out.path(), &["--opt", &first, "--explain"]);
    built.expect(0, &["building hostbuild/container-steps-"]);
    let reused = run_guest(&hb, "container-steps", out.path(), &["--opt", &first, "--explain"]);
    reused.expect(0, &["reusing hostbuild/container-steps-", "no input changed"]);
    assert!(!reused.stderr.contains("building hostbuild/"), "an unchanged recipe was rebuilt");
    let changed = run_guest(&hb, "container-steps", out.path(), &["--opt", &second, "--explain", "--json"]);
    changed.expect(0, &["rebuilding: context file `marker.txt` changed", "building hostbuild/container-steps-"]);
    assert!(notes(&changed).iter().any(|n| *n == second["marker=".len()..]), "the new image is used");
}

#[test]
fn a_failing_step_fails_the_run_with_its_name_code_and_output() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    run_guest(&hb, "container-steps", out.path(), &["--opt", "mode=fail"])
        .expect(7, &["step `fail` exited with status 3", "last lines of `fail`", "oops", "about to fail"]);
}

#[test]
fn step_output_streams_and_comes_back() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let run = run_guest(&hb, "container-steps", out.path(), &["--opt", "mode=echo", "--json"]);
    run.expect(0, &["hello from the container"]);
    assert!(notes(&run).contains(&"hello from the container".to_string()));
}

#[test]
fn output_files_belong_to_the_invoking_user() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    // As root through sudo: the files go to the user sudo names.
    let run = run_cmd(&hb, "container-steps", out.path(), &["--opt", "mode=write"])
        .env("SUDO_UID", "4321")
        .env("SUDO_GID", "4322")
        .output()
        .map(Run::from)
        .unwrap();
    run.expect(0, &[]);
    for f in ["made.txt", "sub", "sub/x"] {
        let meta = std::fs::metadata(out.path().join("build.container-steps").join(f)).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (4321, 4322), "{f}");
    }
}

#[test]
fn the_source_is_read_only() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let run = run_guest(&hb, "container-steps", out.path(), &["--opt", "mode=readonly", "--json"]);
    run.expect(0, &[]);
    let notes = notes(&run);
    assert!(notes.contains(&"exit=1".to_string()), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("Read-only file system")), "{notes:?}");
    assert!(!source().join("intruder").exists());
}

#[test]
fn platforms_run_concurrently_in_their_own_trees() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let run = hb
        .command()
        .args([OsStr::new("run"), guest("container-steps").as_os_str(), guest("container-steps-twin").as_os_str()])
        .args([OsStr::new("--source"), source().as_os_str(), OsStr::new("--out"), out.path().as_os_str()])
        .args(["--opt", "mode=timed", "--jobs", "2", "--json"])
        .output()
        .map(Run::from)
        .unwrap();
    run.expect(0, &[]);
    let read = |p: &str, f: &str| -> f64 {
        std::fs::read_to_string(out.path().join(format!("build.{p}/{f}"))).unwrap().trim().parse().unwrap()
    };
    let (a0, a1) = (read("container-steps", "start"), read("container-steps", "end"));
    let (b0, b1) = (read("container-steps-twin", "start"), read("container-steps-twin", "end"));
    assert!(a0 < b1 && b0 < a1, "the two 3 s steps did not overlap: [{a0}, {a1}] [{b0}, {b1}]");
    for p in ["container-steps", "container-steps-twin"] {
        let mut files: Vec<_> = std::fs::read_dir(out.path().join(format!("build.{p}")))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        assert_eq!(files, ["end", "start"], "{p}");
    }
}

#[test]
fn the_cache_volume_persists_across_runs_and_is_shown_and_cleared() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    // The twin has a volume of its own, so this test owns it.
    hb.run(["cache", "clear", "container-steps-twin"]).expect(0, &[]);
    let count = |extra: &[&str]| {
        let mut args = vec!["--opt", "mode=cache", "--json"];
        args.extend(extra);
        let run = run_guest(&hb, "container-steps-twin", out.path(), &args);
        run.expect(0, &[]);
        notes(&run).into_iter().find(|n| n.starts_with("count=")).unwrap()
    };
    assert_eq!(count(&[]), "count=1 max=10G");
    assert_eq!(count(&["--ccache-size", "2G"]), "count=2 max=2G");
    let listed = hb.run(["cache", "--json"]);
    listed.expect(0, &[]);
    let volumes = listed.json()["volumes"].as_array().unwrap().clone();
    let mine = volumes.iter().find(|v| v["platform"] == "container-steps-twin").expect("the volume is listed");
    // Named by the plugin and its identity (the sha256 of the file run).
    let volume = mine["volume"].as_str().unwrap();
    assert!(volume.starts_with("hostbuild-cache-container-steps-twin-"), "{volume}");
    hb.run(["cache", "clear", "container-steps-twin"]).expect(0, &[]);
    assert_eq!(count(&[]), "count=1 max=10G");
}

#[test]
fn armv7_steps_really_run_as_armv7() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let run = run_guest(&hb, "container-steps", out.path(), &["--opt", "mode=arm", "--json"]);
    run.expect(0, &[]);
    assert!(notes(&run).contains(&"armv7l".to_string()));
}

/// Without an NVIDIA runtime the run stops before any build; with one (a
/// GPU machine), `nvidia-smi` really runs on the GPUs.
#[test]
fn a_gpu_step_runs_on_the_nvidia_runtime_or_stops_before_any_build() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let run = run_guest(&hb, "gpu-step", out.path(), &[]);
    if hostbuild_tests::nvidia_runtime() {
        run.expect(0, &["NVIDIA-SMI"]);
        return;
    }
    run.expect(
        8,
        &["plugin `gpu-step` asks for GPUs, but the Docker engine has no NVIDIA runtime", "nvidia-container-toolkit"],
    );
    assert!(!run.stderr.contains("building hostbuild/"));
}

#[test]
fn gpu_request_of_an_undeclared_plugin_is_denied_at_the_call() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    run_guest(&hb, "container-steps", out.path(), &["--opt", "mode=gpu"])
        .expect(6, &["access denied", "`gpu` was not declared by the plugin, or not granted to it"]);
}

#[test]
fn gpu_request_has_the_shape_of_docker_run_gpus() {
    use hostbuild::capabilities::container::hardening::ContainerLimits;
    use hostbuild::capabilities::container::{container_body, StepHost, User};
    use hostbuild::capabilities::container::{GpuRequest, Step};
    use hostbuild::docker::images::BuiltImage;

    let host = StepHost {
        run_id: format!("gpu-shape-{}", unique()),
        plugin: "gpu-shape".into(),
        images: [(
            "main".to_string(),
            BuiltImage { tag: "hostbuild/bookworm:amd64".into(), platform: "linux/amd64".into(), reused: true },
        )]
        .into(),
        source: source(),
        output: std::env::temp_dir(),
        cache_volume: "unused".into(),
        user: User { uid: 0, gid: 0 },
        network: false,
        gpu: true,
        source_writable: false,
        dirs: vec![],
        ccache_size: "10G".into(),
        proxies: vec![],
        limits: ContainerLimits { memory_bytes: 512 << 20, pids: 100 },
        step_timeout: None,
    };
    let step = Step {
        name: "smi".into(),
        image: "main".into(),
        argv: vec!["nvidia-smi".into()],
        env: vec![],
        workdir: None,
        mounts: vec![],
        gpu: Some(GpuRequest { count: Some(2), capabilities: vec!["compute".into(), "video".into()] }),
    };
    let (body, platform) = container_body(&step, &host).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let inspected = rt.block_on(async {
        let docker = bollard::Docker::connect_with_defaults().unwrap().negotiate_version().await.unwrap();
        let options = bollard::query_parameters::CreateContainerOptionsBuilder::default().platform(&platform).build();
        let id = docker.create_container(Some(options), body).await.unwrap().id;
        let inspected = docker.inspect_container(&id, None).await.unwrap();
        docker.remove_container(&id, None).await.unwrap();
        inspected
    });
    let requests = inspected.host_config.unwrap().device_requests.unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].driver.as_deref(), Some("nvidia"));
    assert_eq!(requests[0].count, Some(2));
    assert_eq!(requests[0].capabilities, Some(vec![vec!["gpu".to_string(), "compute".into(), "video".into()]]));
    let env = inspected.config.unwrap().env.unwrap();
    assert!(env.contains(&"NVIDIA_DRIVER_CAPABILITIES=compute,video".to_string()), "{env:?}");
}

#[test]
fn a_dead_engine_is_one_clear_error() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    run_cmd(&hb, "container-steps", out.path(), &[])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .map(Run::from)
        .unwrap()
        .expect(8, &["cannot reach the Docker engine at unix:///nonexistent/docker.sock", "hint:"]);
}

#[test]
fn a_missing_base_image_names_the_fix() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    run_guest(&hb, "container-steps", out.path(), &["--opt", "base=hostbuild/none:missing"])
        .expect(8, &["base image `hostbuild/none:missing` is not on this machine", "cargo xtask images"]);
}

/// Starts a long step and waits until its container exists.
fn start_long_run(hb: &Hostbuild, out: &Path) -> Child {
    let child = run_cmd(hb, "container-steps", out, &["--opt", "mode=sleep"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let label = format!("hostbuild.owner-pid={}", child.id());
    wait_for(Duration::from_secs(60), Duration::from_millis(50), "the step's container never started", || {
        !docker(&["ps", "-q", "--filter", &format!("label={label}")]).trim().is_empty()
    });
    child
}

fn interrupt_many_times(name: &str, expected_code: i32, times: usize) {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    for i in 0..times {
        let mut child = start_long_run(&hb, out.path());
        signal(&child, name);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(expected_code), "run {i}: exit status after SIG{name}");
        let left = containers_with(&format!("hostbuild.owner-pid={}", child.id()));
        assert!(left.is_empty(), "run {i}: {} container(s) left after SIG{name}", left.len());
    }
}

#[test]
fn sigint_removes_the_runs_containers_every_time() {
    interrupt_many_times("INT", 130, 20);
}

#[test]
fn sigterm_removes_the_runs_containers_every_time() {
    interrupt_many_times("TERM", 143, 20);
}

#[test]
fn containers_of_a_killed_run_are_reaped_by_the_next_start_and_by_clean() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    for reaper in ["run", "clean"] {
        let mut child = start_long_run(&hb, out.path());
        signal(&child, "KILL");
        child.wait().unwrap();
        let label = format!("hostbuild.owner-pid={}", child.id());
        assert_eq!(containers_with(&label).len(), 1, "SIGKILL leaves the container behind");
        match reaper {
            "run" => {
                run_guest(&hb, "container-steps", out.path(), &[]).expect(0, &["left by runs that died"]);
            }
            _ => {
                hb.run(["clean"]).expect(0, &[]);
            }
        }
        assert!(containers_with(&label).is_empty(), "`{reaper}` did not reap the leftover");
    }
}

#[test]
fn shell_runs_in_the_platforms_image_with_its_mounts() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let shell = |command: &[&str]| {
        let mut cmd = hb.command();
        cmd.args([
            OsStr::new("shell"),
            guest("container-steps").as_os_str(),
            OsStr::new("--source"),
            source().as_os_str(),
        ])
        .args([OsStr::new("--out"), out.path().as_os_str(), OsStr::new("--")])
        .args(command)
        .stdin(Stdio::null());
        cmd
    };
    let child =
        shell(&["sh", "-c", "ls /work/src; cat /marker.txt; echo cache=$CCACHE_DIR; touch /work/out/from-shell"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    let pid = child.id();
    let run = Run::from(child.wait_with_output().unwrap());
    run.expect(0, &["shell in hostbuild/container-steps-"]);
    for line in ["CMakeLists.txt", "one", "cache=/work/cache"] {
        assert!(run.stdout.lines().any(|l| l == line), "no {line:?} in {}", run.stdout);
    }
    assert!(out.path().join("build.container-steps/from-shell").exists());
    assert!(containers_with(&format!("hostbuild.owner-pid={pid}")).is_empty());
    let failed = shell(&["false"]).output().unwrap();
    assert_eq!(failed.status.code(), Some(7), "a failing shell command exits 7");
}
