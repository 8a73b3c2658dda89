//! The swarm engine (`run --engine swarm`) on real swarms of this machine's
//! Docker engine, made by tests/fixtures/swarm.sh and always undone: a
//! one-node swarm on loopback, and two nodes for real (a second dockerd in
//! its own network namespace joins as a worker). Recipe images go through
//! Debian's docker-registry, staged files through s3s-fs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hostbuild_tests::{
    docker, docker_registry_on, guest, image_in_log, plugin, root, s3_env_at, s3s_fs_on, signal, wait_for, Daemon,
    Hostbuild, Run,
};

/// One swarm at a time: the tests share this machine's engine.
static ENGINE: Mutex<()> = Mutex::new(());

/// A swarm made for one test, with the registry its nodes pull from.
struct TestSwarm {
    /// What swarm.sh printed (MANAGER_ADDR, WORKER_ID, WORKER_HOST).
    vars: HashMap<String, String>,
    /// `--registry` for hostbuild: PUSH[=PULL].
    registry: String,
    _registries: Vec<Daemon>,
    _storage: tempfile::TempDir,
    _down: Down,
    _engine: MutexGuard<'static, ()>,
}

/// Undoes the swarm, whatever happened.
struct Down;

impl Drop for Down {
    fn drop(&mut self) {
        let out = fixture().arg("down").output().expect("swarm.sh runs");
        if !out.status.success() {
            eprintln!("swarm.sh down failed: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

fn fixture() -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("tests/fixtures/swarm.sh"));
    cmd
}

impl TestSwarm {
    fn up(kind: &str) -> TestSwarm {
        let engine = ENGINE.lock().unwrap_or_else(|p| p.into_inner());
        let down = Down;
        let out = fixture().arg(kind).output().expect("swarm.sh runs");
        assert!(out.status.success(), "swarm.sh {kind} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let vars: HashMap<String, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let storage = tempfile::tempdir().unwrap();
        let push = docker_registry_on(storage.path(), "127.0.0.1");
        let mut registry = format!("127.0.0.1:{}", push.port);
        let mut registries = vec![push];
        if vars["MANAGER_ADDR"] != "127.0.0.1" {
            // The worker reaches the same storage through the veth.
            let pull = docker_registry_on(storage.path(), &vars["MANAGER_ADDR"]);
            registry = format!("{registry}={}:{}", vars["MANAGER_ADDR"], pull.port);
            registries.push(pull);
        }
        TestSwarm { vars, registry, _registries: registries, _storage: storage, _down: down, _engine: engine }
    }

    /// `hostbuild run PLUGIN --engine swarm` on this swarm.
    fn run(&self, hb: &Hostbuild, plugin: &Path, source: &Path, out: &Path, extra: &[&str]) -> Command {
        let mut cmd = hb.command();
        cmd.arg("run").arg(plugin).arg("--source").arg(source).arg("--out").arg(out);
        cmd.args(["--engine", "swarm", "--registry", &self.registry]).args(extra);
        cmd
    }

    /// The docker CLI against the worker's engine.
    fn worker(&self, args: &[&str]) -> String {
        let out = Command::new("docker").args(args).env("DOCKER_HOST", &self.vars["WORKER_HOST"]).output().unwrap();
        assert!(out.status.success(), "worker: docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn cmake_hello() -> PathBuf {
    root().join("examples/cmake-hello")
}

/// Path → sha256 of a run's artifacts, but the JUnit report (it holds times).
fn artifacts(run: &Run) -> BTreeMap<String, String> {
    run.json()["platforms"][0]["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| (a["path"].as_str().unwrap().to_string(), a["sha256"].as_str().unwrap().to_string()))
        .filter(|(path, _)| path != "test-report.xml")
        .collect()
}

/// armv7 on the local engine: the reference artifacts and the image tags.
fn local_armv7(hb: &Hostbuild) -> (BTreeMap<String, String>, Run) {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = hb.command();
    cmd.arg("run").arg(plugin("armv7")).arg("--source").arg(cmake_hello()).arg("--out").arg(out.path());
    let run = Run::from(cmd.arg("--json").output().unwrap());
    run.expect(0, &[]);
    (artifacts(&run), run)
}

/// Records the spec of every service of process `pid` while it runs; calls
/// `on_first` once, when the first one appears.
struct Watcher {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<serde_json::Value>>,
}

impl Watcher {
    fn start(pid: u32, on_first: impl FnOnce() + Send + 'static) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut on_first = Some(on_first);
            let mut seen = HashMap::new();
            while !stopped.load(Ordering::Relaxed) {
                let label = format!("label=hostbuild.owner-pid={pid}");
                let ids = quiet_docker(&["service", "ls", "-q", "--filter", &label]);
                let new: Vec<&str> = ids.lines().filter(|id| !seen.contains_key(*id)).collect();
                for id in new {
                    let spec = quiet_docker(&["service", "inspect", "--format", "{{json .Spec}}", id]);
                    if let Ok(spec) = serde_json::from_str::<serde_json::Value>(&spec) {
                        seen.insert(id.to_string(), spec);
                        if let Some(f) = on_first.take() {
                            f();
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            seen.into_values().collect()
        });
        Watcher { stop, thread }
    }

    fn specs(self) -> Vec<serde_json::Value> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// The docker CLI where failing is fine (a service may go between calls).
fn quiet_docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).stderr(Stdio::null()).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_watched(cmd: &mut Command, on_first: impl FnOnce() + Send + 'static) -> (Run, Vec<serde_json::Value>) {
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let watcher = Watcher::start(child.id(), on_first);
    let run = Run::from(child.wait_with_output().unwrap());
    (run, watcher.specs())
}

fn mounts(spec: &serde_json::Value) -> Vec<serde_json::Value> {
    spec["TaskTemplate"]["ContainerSpec"]["Mounts"].as_array().cloned().unwrap_or_default()
}

fn image(spec: &serde_json::Value) -> String {
    spec["TaskTemplate"]["ContainerSpec"]["Image"].as_str().unwrap_or_default().to_string()
}

/// What of process `pid` the engine still holds: services, containers,
/// networks.
fn leftovers(pid: u32) -> (usize, usize, usize) {
    let label = format!("label=hostbuild.owner-pid={pid}");
    let count = |args: &[&str]| docker(args).lines().filter(|l| !l.is_empty()).count();
    (
        count(&["service", "ls", "-q", "--filter", &label]),
        count(&["ps", "-aq", "--filter", &label]),
        count(&["network", "ls", "-q", "--filter", &label]),
    )
}

/// Waits up to `limit` for process `pid` to leave nothing in the engine.
fn nothing_left_within(pid: u32, limit: Duration) -> Result<Duration, (usize, usize, usize)> {
    let start = Instant::now();
    loop {
        let left = leftovers(pid);
        if left == (0, 0, 0) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > limit {
            return Err(left);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn armv7_on_a_one_node_swarm_gives_the_local_artifacts_from_digest_pinned_services() {
    let hb = Hostbuild::new();
    let (expected, local) = local_armv7(&hb);
    let (build, test) = (image_in_log(&local.stderr, "build"), image_in_log(&local.stderr, "test"));
    let id = |tag: &str| docker(&["image", "inspect", "--format", "{{.Id}}", tag]).trim().to_string();
    let (build_id, test_id) = (id(&build), id(&test));

    let swarm = TestSwarm::up("one-node");
    let out = tempfile::tempdir().unwrap();
    // Once the first step runs, the recipe images lose their local names
    // (the test image, unused yet, is deleted outright): the next steps can
    // only run from the registry, by digest.
    let removed = Arc::new(Mutex::new(String::new()));
    let record = removed.clone();
    let (b, t) = (build.clone(), test.clone());
    let (run, specs) =
        run_watched(&mut swarm.run(&hb, &plugin("armv7"), &cmake_hello(), out.path(), &["--json"]), move || {
            let out = Command::new("docker").args(["rmi", "-f", &b, &t]).output().unwrap();
            let gone = Command::new("docker").args(["image", "inspect", &t]).output().unwrap();
            *record.lock().unwrap() = format!("{} test image gone: {}", out.status, !gone.status.success());
        });
    // Put the names back for the other tests (a pull keeps the image id).
    for (tag, image_id) in [(&build, &build_id), (&test, &test_id)] {
        let _ = Command::new("docker").args(["tag", image_id, tag]).status();
    }
    run.expect(0, &["images for the nodes: 127.0.0.1:", "running tests on armv7l"]);
    assert_eq!(*removed.lock().unwrap(), "exit status: 0 test image gone: true");
    assert_eq!(artifacts(&run), expected, "the swarm built other artifacts than the local engine");

    // The steps ran as services, each pinned by digest from the registry,
    // with the source and output bound from this machine (one node).
    let registry = &swarm.registry;
    let steps: Vec<_> = specs.iter().filter(|s| image(s).contains("-build@") || image(s).contains("-test@")).collect();
    assert!(steps.len() >= 3, "configure, compile and test were not seen as services: {specs:#?}");
    for spec in &steps {
        let image = image(spec);
        assert!(image.starts_with(&format!("{registry}/hostbuild/armv7-")) && image.contains("@sha256:"), "{image}");
        assert_eq!(spec["TaskTemplate"]["RestartPolicy"]["Condition"], "none");
        assert_eq!(spec["Mode"]["Replicated"]["Replicas"], 1);
        assert_eq!(spec["TaskTemplate"]["ContainerSpec"]["CapabilityDrop"], serde_json::json!(["ALL"]));
    }
    let test_pull = steps.iter().map(|s| image(s)).find(|i| i.contains("-test@")).unwrap();
    let digests = docker(&["image", "inspect", "--format", "{{json .RepoDigests}}", &test_id]);
    assert!(digests.contains(&test_pull), "the test image was not pulled from {test_pull}: {digests}");
    assert!(docker(&["service", "ls", "-q"]).trim().is_empty(), "services left");
}

#[test]
fn a_failing_step_on_the_swarm_fails_the_run_with_its_name_and_tail() {
    let swarm = TestSwarm::up("one-node");
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let run = Run::from(
        swarm
            .run(&hb, &guest("container-steps"), &cmake_hello(), out.path(), &["--opt", "mode=fail"])
            .output()
            .unwrap(),
    );
    run.expect(7, &["step `fail` exited with status 3", "oops", "about to fail"]);
}

#[test]
fn a_step_without_network_has_only_the_runs_internal_network() {
    let swarm = TestSwarm::up("one-node");
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let mut child = start_sleeping(&swarm, &hb, out.path());
    let label = format!("label=hostbuild.owner-pid={}", child.id());
    let container = docker(&["ps", "-q", "--filter", &label]).trim().to_string();
    let networks: serde_json::Value =
        serde_json::from_str(&docker(&["inspect", "--format", "{{json .NetworkSettings.Networks}}", &container]))
            .unwrap();
    let names: Vec<&String> = networks.as_object().unwrap().keys().collect();
    assert_eq!(names.len(), 1, "the step's container has other networks: {names:?}");
    assert_eq!(
        docker(&["network", "inspect", "--format", "{{.Internal}} {{.Driver}}", names[0]]).trim(),
        "true overlay"
    );
    let of_run = docker(&["network", "ls", "--filter", &label, "--format", "{{.Name}}"]);
    assert_eq!(of_run.trim(), names[0], "the step's network is not the run's own");
    signal(&child, "INT");
    assert_eq!(child.wait().unwrap().code(), Some(130));
    nothing_left_within(child.id(), Duration::from_secs(10)).expect("nothing left");
}

/// `container-steps` sleeping in a service of the swarm.
fn start_sleeping(swarm: &TestSwarm, hb: &Hostbuild, out: &Path) -> Child {
    let child = swarm
        .run(hb, &guest("container-steps"), &cmake_hello(), out, &["--opt", "mode=sleep"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let label = format!("label=hostbuild.owner-pid={}", child.id());
    wait_for(Duration::from_secs(120), Duration::from_millis(50), "the step's task container never started", || {
        !docker(&["ps", "-q", "--filter", &label]).trim().is_empty()
    });
    child
}

fn interrupt_many_times(name: &str, expected_code: i32, times: usize) {
    let swarm = TestSwarm::up("one-node");
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let mut slowest = Duration::ZERO;
    for i in 0..times {
        let mut child = start_sleeping(&swarm, &hb, out.path());
        let sent = Instant::now();
        signal(&child, name);
        assert_eq!(child.wait().unwrap().code(), Some(expected_code), "run {i}: exit status after SIG{name}");
        let left = nothing_left_within(child.id(), Duration::from_secs(10).saturating_sub(sent.elapsed()));
        let (services, containers, networks) = left.err().unwrap_or_default();
        assert!(
            (services, containers, networks) == (0, 0, 0),
            "run {i}: 10 s after SIG{name}, {services} service(s), {containers} container(s), {networks} network(s)"
        );
        slowest = slowest.max(sent.elapsed());
    }
    eprintln!("SIG{name} x{times}: nothing left at most {slowest:?} after the signal");
}

#[test]
fn sigint_removes_the_runs_services_tasks_and_network_every_time() {
    interrupt_many_times("INT", 130, 20);
}

#[test]
fn sigterm_removes_the_runs_services_tasks_and_network_every_time() {
    interrupt_many_times("TERM", 143, 20);
}

#[test]
fn services_of_a_killed_run_are_removed_by_clean() {
    let swarm = TestSwarm::up("one-node");
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let mut child = start_sleeping(&swarm, &hb, out.path());
    signal(&child, "KILL");
    child.wait().unwrap();
    let (services, containers, networks) = leftovers(child.id());
    assert_eq!((services, containers, networks), (1, 1, 1), "SIGKILL leaves the service, its task and the network");
    let clean = hb.run(["clean"]);
    clean.expect(0, &[]);
    assert!(clean.stdout.contains("removed 1 swarm service(s) whose hostbuild process is gone"), "{}", clean.stdout);
    nothing_left_within(child.id(), Duration::from_secs(10)).unwrap_or_else(|left| panic!("clean left {left:?}"));
}

#[test]
fn a_gpu_step_on_a_swarm_without_gpus_fails_fast_and_runs_with_no_gpu() {
    let swarm = TestSwarm::up("one-node");
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let run = Run::from(swarm.run(&hb, &guest("gpu-step"), &cmake_hello(), out.path(), &[]).output().unwrap());
    run.expect(8, &["NVIDIA-GPU", "node"]);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(!run.stderr.contains("step `"), "a step ran:\n{}", run.stderr);
    let out = tempfile::tempdir().unwrap();
    let run =
        Run::from(swarm.run(&hb, &guest("gpu-step"), &cmake_hello(), out.path(), &["--no-gpu"]).output().unwrap());
    // The step ran (its image has no nvidia-smi), with no GPU asked of the swarm.
    run.expect(7, &["not passed: --no-gpu", "step `smi` exited with status 127", "nvidia-smi"]);
}

/// The address of this machine that containers on its engine reach: that
/// of the default bridge's interface.
fn bridge_gateway() -> String {
    let bridge =
        docker(&["network", "inspect", "bridge", "--format", "{{index .Options \"com.docker.network.bridge.name\"}}"]);
    let out = Command::new("ip").args(["-4", "-o", "addr", "show", "dev", bridge.trim()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let cidr = text.split_whitespace().skip_while(|w| *w != "inet").nth(1).expect("the bridge has an IPv4 address");
    cidr.split('/').next().unwrap().to_string()
}

/// s3s-fs on `host` with a bucket, for staging.
fn staging_store(host: &str) -> (tempfile::TempDir, Daemon) {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("staging")).unwrap();
    let daemon = s3s_fs_on(root.path(), host);
    (root, daemon)
}

/// Every mount of every service is a volume (`except` a node path the
/// staging helper needs): no path of this machine went into a spec.
fn only_volumes(specs: &[serde_json::Value], except: &[&str]) {
    for spec in specs {
        for m in mounts(spec) {
            let source = m["Source"].as_str().unwrap_or_default();
            assert!(m["Type"] == "volume" || except.contains(&source), "{} mounts {m}", spec["Name"]);
        }
    }
}

#[test]
fn staging_through_s3_gives_the_tree_of_a_bind_mount_run_and_no_host_path() {
    let hb = Hostbuild::new();
    let (expected, _) = local_armv7(&hb);
    let swarm = TestSwarm::up("one-node");
    let host = bridge_gateway();
    let (store_root, store) = staging_store(&host);
    let out = tempfile::tempdir().unwrap();
    let mut cmd = swarm.run(
        &hb,
        &plugin("armv7"),
        &cmake_hello(),
        out.path(),
        &["--json", "--always-stage", "--store", "s3://staging/art"],
    );
    let (run, specs) = run_watched(s3_env_at(&mut cmd, &host, store.port), || {});
    run.expect(0, &["files staged", "running tests on armv7l"]);
    assert_eq!(artifacts(&run), expected);
    only_volumes(&specs, &[]);
    assert!(specs.iter().any(|s| image(s).contains("hostbuild-helper@")), "no staging helper seen: {specs:#?}");
    // The source went up once, content-addressed; the staging volumes are gone.
    let staged: Vec<_> = walk(&store_root.path().join("staging/art"));
    assert!(staged.iter().any(|p| p.contains("/staging/source-")), "{staged:?}");
    assert!(docker(&["volume", "ls", "-q", "--filter", "name=hostbuild-stage-"]).trim().is_empty());
}

fn walk(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[test]
fn a_platform_placed_on_a_second_node_builds_from_staged_files() {
    let hb = Hostbuild::new();
    let (expected, _) = local_armv7(&hb);
    let swarm = TestSwarm::up("two-nodes");
    let host = swarm.vars["MANAGER_ADDR"].clone();
    let (_store_root, store) = staging_store(&host);
    let out = tempfile::tempdir().unwrap();
    let worker = &swarm.vars["WORKER_ID"];
    let mut cmd = swarm.run(
        &hb,
        &plugin("armv7"),
        &cmake_hello(),
        out.path(),
        &["--json", "--store", "s3://staging/art", "--constraint", "node.labels.hostbuild.test==worker"],
    );
    let (run, specs) = run_watched(s3_env_at(&mut cmd, &host, store.port), || {});
    run.expect(0, &[&format!("on swarm node {}", &worker[..12]), "files staged", "running tests on armv7l"]);
    assert_eq!(artifacts(&run), expected, "the worker built other artifacts");
    // Every service was placed on the worker; only the helper that removes
    // the staging volumes there is given that node's engine socket.
    for spec in &specs {
        let constraints = &spec["TaskTemplate"]["Placement"]["Constraints"];
        assert!(constraints.to_string().contains(&format!("node.id=={worker}")), "{}", spec["Name"]);
    }
    only_volumes(&specs, &["/var/run/docker.sock"]);
    // The worker pulled the recipe images from the registry over the veth,
    // and kept none of the run's volumes or containers.
    let images = swarm.worker(&["images", "--digests", "--format", "{{.Repository}}@{{.Digest}}"]);
    let pull = swarm.registry.split_once('=').unwrap().1;
    assert!(images.contains(&format!("{pull}/hostbuild/armv7-")), "{images}");
    assert!(swarm.worker(&["volume", "ls", "-q", "--filter", "name=hostbuild-stage-"]).trim().is_empty());
    wait_for(Duration::from_secs(10), Duration::from_millis(100), "task containers left on the worker", || {
        swarm.worker(&["ps", "-aq", "--filter", "label=hostbuild.run-id"]).trim().is_empty()
    });
    // The ccache volume the worker made is labelled as a local one is:
    // `cache` lists it with the worker's id and its size, and `cache clear`
    // removes it there.
    let on_worker = || swarm.worker(&["volume", "ls", "-q", "--filter", "label=hostbuild.cache=armv7"]);
    let made = on_worker();
    assert!(
        made.trim().starts_with("hostbuild-cache-armv7"),
        "{made}: {}",
        swarm.worker(&["volume", "ls", "--format", "{{.Name}} {{.Labels}}"])
    );
    let cache = |args: &[&str]| {
        let mut cmd = hb.command();
        cmd.arg("cache").args(args).args(["--engine", "swarm", "--registry", &swarm.registry]);
        Run::from(cmd.output().unwrap())
    };
    let listed = cache(&["--json"]);
    listed.expect(0, &[]);
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let found: Vec<&serde_json::Value> =
        listed["volumes"].as_array().unwrap().iter().filter(|v| v["node_id"] == worker.as_str()).collect();
    assert_eq!(found.len(), 1, "{listed:#}");
    assert_eq!(found[0]["volume"], made.trim());
    assert_eq!(found[0]["platform"], "armv7");
    assert!(found[0]["bytes"].as_i64().unwrap() > 0, "ccache wrote nothing: {listed:#}");
    let cleared = cache(&["clear", "armv7", "--json"]);
    cleared.expect(0, &[]);
    assert!(cleared.stdout.contains(&format!("\"node_id\":\"{worker}\"")), "{}", cleared.stdout);
    assert!(on_worker().trim().is_empty(), "the worker's cache volume is still there");
    // The worker removes the helper's task once its service is gone.
    wait_for(Duration::from_secs(10), Duration::from_millis(100), "the helper left a container on the worker", || {
        swarm.worker(&["ps", "-aq"]).trim().is_empty()
    });
}

#[test]
fn a_step_over_the_timeout_is_removed_and_fails_the_run() {
    let swarm = TestSwarm::up("one-node");
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let mut cmd = swarm.run(&hb, &guest("container-steps"), &cmake_hello(), out.path(), &["--opt", "mode=sleep"]);
    let child = cmd.arg("--step-timeout").arg("3s").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let run = Run::from(child.wait_with_output().unwrap());
    run.expect(7, &["step `sleep` was stopped: it ran longer than the step timeout of 3s", "--step-timeout"]);
    nothing_left_within(pid, Duration::from_secs(10)).unwrap_or_else(|left| panic!("left {left:?}"));
}
