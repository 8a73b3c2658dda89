//! Helpers for the end-to-end tests: run the real `hostbuild` binary with a
//! private compile cache, on the real plugins and test guests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

pub mod s3_proxy;

/// The repository root, found at run time: `cargo test` sets
/// CARGO_MANIFEST_DIR to this checkout's `tests/`. (A path compiled in would
/// name whichever checkout first built this binary into the shared
/// CARGO_TARGET_DIR.) Run directly, the test looks up from the current
/// directory.
pub fn root() -> PathBuf {
    let is_root =
        |dir: &Path| dir.join("platforms/Cargo.toml").is_file() && dir.join("tests/guests/Cargo.toml").is_file();
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        let root = Path::new(&dir).join("..");
        if is_root(&root) {
            return root;
        }
    }
    let cwd = std::env::current_dir().expect("the current directory is readable");
    cwd.ancestors()
        .find(|dir| is_root(dir))
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("{} is not inside a hostbuild checkout", cwd.display()))
}

/// The `hostbuild` binary of this build (built by `cargo build --workspace`).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe.parent().and_then(Path::parent).expect("target profile dir").join("hostbuild");
    assert!(bin.exists(), "{} is missing: run `cargo build --workspace` before the tests", bin.display());
    bin
}

/// A bundled plugin, `plugins/<name>.wasm`.
pub fn plugin(name: &str) -> PathBuf {
    built(root().join("plugins").join(format!("{name}.wasm")))
}

/// A test guest, `tests/guests/wasm/<name>.wasm`.
pub fn guest(name: &str) -> PathBuf {
    built(root().join("tests/guests/wasm").join(format!("{name}.wasm")))
}

fn built(path: PathBuf) -> PathBuf {
    assert!(path.exists(), "{} is missing: run `cargo xtask plugins` before the tests", path.display());
    path
}

/// A `hostbuild` invocation with its own compile cache directory.
pub struct Hostbuild {
    pub cache: tempfile::TempDir,
}

impl Default for Hostbuild {
    fn default() -> Self {
        Self::new()
    }
}

impl Hostbuild {
    pub fn new() -> Self {
        Self { cache: tempfile::tempdir().expect("temp dir") }
    }

    /// A command with the cache set and the ambient limits cleared.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(binary());
        cmd.env("HOSTBUILD_CACHE_DIR", self.cache.path())
            .env_remove("HOSTBUILD_PLUGIN_TIME_LIMIT")
            .env_remove("HOSTBUILD_PLUGIN_MEMORY_LIMIT")
            .env_remove("HOSTBUILD_MEMORY")
            .env_remove("HOSTBUILD_STEP_TIMEOUT");
        cmd
    }

    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Run::from(self.command().args(args).output().expect("hostbuild runs"))
    }
}

/// What a finished invocation printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts the exit code and that stderr contains every snippet.
    pub fn expect(&self, code: i32, snippets: &[&str]) -> &Self {
        assert_eq!(self.code, code, "exit code\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        for s in snippets {
            assert!(self.stderr.contains(s), "stderr lacks {s:?}:\n{}", self.stderr);
        }
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs the docker CLI (the independent observer of what hostbuild did).
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker CLI runs");
    assert!(out.status.success(), "docker {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether the engine has the NVIDIA runtime (a GPU machine with
/// nvidia-container-toolkit): GPU tests take the path that exists here.
pub fn nvidia_runtime() -> bool {
    docker(&["info", "--format", "{{json .Runtimes}}"]).contains("\"nvidia\"")
}

/// Containers (running or not) carrying `label` (`key` or `key=value`).
pub fn containers_with(label: &str) -> Vec<String> {
    docker(&["ps", "-aq", "--filter", &format!("label={label}")]).lines().map(str::to_string).collect()
}

/// A string unique to this test process and call, for image markers.
pub fn unique() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{}-{nanos}", std::process::id())
}

/// sha256 of a file by `sha256sum`: an independent check of the host's hashes.
pub fn sha256sum(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum runs");
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

/// This machine's `ID` + `VERSION_ID`, e.g. `debian12`: the os of sets
/// pushed without `--os`.
pub fn host_os() -> String {
    let text = std::fs::read_to_string("/etc/os-release").expect("/etc/os-release is readable");
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .unwrap_or_default()
            .trim_matches('"')
            .to_string()
    };
    format!("{}{}", field("ID"), field("VERSION_ID"))
}

/// Writes `contents` to `dir/name` (parents created); returns the path as text.
pub fn write_file(dir: &Path, name: &str, contents: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("a file has a parent")).expect("parent created");
    std::fs::write(&path, contents).expect("file written");
    path.display().to_string()
}

/// `hostbuild run PLUGIN --source SOURCE --out OUT EXTRA...`, checking
/// afterwards that no container of that process is left.
pub fn run_plugin(hb: &Hostbuild, name: &str, source: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut cmd = hb.command();
    cmd.arg("run").arg(plugin(name)).arg("--source").arg(source).arg("--out").arg(out).args(extra);
    let child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    let run = Run::from(child.wait_with_output().expect("hostbuild runs"));
    assert!(containers_with(&format!("hostbuild.owner-pid={pid}")).is_empty(), "containers left running");
    run
}

/// A copy of `examples/<name>` in a temporary directory, to edit.
pub fn example_copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let from = root().join("examples").join(name);
    let status = Command::new("cp").arg("-r").arg(format!("{}/.", from.display())).arg(dir.path()).status();
    assert!(status.is_ok_and(|s| s.success()), "cannot copy {}", from.display());
    dir
}

/// The `e_machine` of an ELF file (40 ARM, 62 x86-64), read by the test itself.
pub fn elf_machine(path: &Path) -> u16 {
    let bytes = std::fs::read(path).expect("file is readable");
    assert_eq!(&bytes[..4], b"\x7fELF", "{} is not ELF", path.display());
    u16::from_le_bytes([bytes[18], bytes[19]])
}

/// A server process of a test (s3s-fs, docker-registry), killed when dropped.
pub struct Daemon {
    child: std::process::Child,
    pub port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` (given its port by `args`) on a free loopback port and waits
/// until it accepts connections.
pub fn daemon(program: &Path, args: impl FnOnce(u16) -> Vec<String>) -> Daemon {
    daemon_on(program, "127.0.0.1", args)
}

/// As [`daemon`], for a program listening on `host` (an address of this
/// machine), waited for there.
pub fn daemon_on(program: &Path, host: &str, args: impl FnOnce(u16) -> Vec<String>) -> Daemon {
    let port = std::net::TcpListener::bind((host, 0)).expect("a free port").local_addr().expect("addr").port();
    let child = Command::new(program)
        .args(args(port))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let daemon = Daemon { child, port };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect((host, port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{} did not start", program.display());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    daemon
}

pub const S3_KEY: &str = "hostbuild-test-key";
pub const S3_SECRET: &str = "hostbuild-test-secret-value";

/// s3s-fs (installed by scripts/prereqs.sh) serving `root`, whose
/// subdirectories are buckets, with the test credentials.
pub fn s3s_fs(root: &Path) -> Daemon {
    s3s_fs_on(root, "127.0.0.1")
}

/// s3s-fs listening on `host` (an address of this machine that containers
/// or other nodes reach).
pub fn s3s_fs_on(root: &Path, host: &str) -> Daemon {
    let program = std::env::var_os("HOSTBUILD_S3S_FS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/hostbuild-dev/tools/bin/s3s-fs")
    });
    assert!(program.exists(), "{} is missing: run `bash scripts/prereqs.sh`", program.display());
    daemon_on(&program, host, |port| {
        let mut args: Vec<String> = ["--host", host, "--port", &port.to_string(), "--access-key", S3_KEY]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["--secret-key".to_string(), S3_SECRET.to_string(), root.display().to_string()]);
        args
    })
}

/// Points `cmd` at the s3s-fs on `port` with the test credentials and
/// nothing from the machine's AWS configuration.
pub fn s3_env(cmd: &mut Command, port: u16) -> &mut Command {
    s3_env_at(cmd, "127.0.0.1", port)
}

/// As [`s3_env`], for an s3s-fs listening on `host`.
pub fn s3_env_at<'a>(cmd: &'a mut Command, host: &str, port: u16) -> &'a mut Command {
    cmd.env("AWS_ENDPOINT_URL", format!("http://{host}:{port}"))
        .env("AWS_ACCESS_KEY_ID", S3_KEY)
        .env("AWS_SECRET_ACCESS_KEY", S3_SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
}

/// Debian's docker-registry (installed by scripts/prereqs.sh) on loopback,
/// storing into `storage`.
pub fn docker_registry(storage: &Path) -> Daemon {
    docker_registry_on(storage, "127.0.0.1")
}

/// Debian's docker-registry listening on `host` (an address of this
/// machine); several may serve the same `storage`.
pub fn docker_registry_on(storage: &Path, host: &str) -> Daemon {
    let config = storage.join(format!("config-{host}.yml"));
    let data = storage.join("data");
    daemon_on(Path::new("/usr/bin/docker-registry"), host, |port| {
        let yaml = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {host}:{port}\n",
            data.display()
        );
        std::fs::write(&config, yaml).expect("registry config written");
        vec!["serve".into(), config.display().to_string()]
    })
}

/// GET `path` from a registry on loopback with `accept`; the body and the
/// `Docker-Content-Digest` header.
pub fn registry_get(port: u16, path: &str, accept: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("registry reachable");
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: {accept}\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let digest = head
        .lines()
        .find_map(|l| l.strip_prefix("Docker-Content-Digest: ").or_else(|| l.strip_prefix("docker-content-digest: ")))
        .unwrap_or_default()
        .to_string();
    (body.to_string(), digest)
}

/// `hostbuild inspect PLUGIN --json --images --opt ...`: the plugin's image
/// recipes for those options, as JSON (the run must succeed).
pub fn inspect_images(hb: &Hostbuild, name: &str, options: &[&str]) -> serde_json::Value {
    let mut args = vec!["inspect".to_string(), plugin(name).display().to_string(), "--json".into(), "--images".into()];
    for o in options {
        args.extend(["--opt".to_string(), o.to_string()]);
    }
    let run = hb.run(&args);
    run.expect(0, &[]);
    run.json()
}

/// The image of recipe `recipe` a run built or reused, read from its log
/// (`building <tag> for ...` / `reusing <tag>`, as text or JSON lines).
pub fn image_in_log(stderr: &str, recipe: &str) -> String {
    let tag_char = |c: char| c.is_ascii_alphanumeric() || "._/:-".contains(c);
    stderr
        .match_indices("hostbuild/")
        .map(|(at, _)| stderr[at..].split(|c: char| !tag_char(c)).next().unwrap_or_default())
        .find(|tag| tag.split(':').next().is_some_and(|repo| repo.ends_with(&format!("-{recipe}"))))
        .map(|tag| tag.trim_end_matches(':').to_string())
        .unwrap_or_else(|| panic!("no image of recipe `{recipe}` in the log:\n{stderr}"))
}

/// Builds `dockerfile` (no context) as `tag` with the docker CLI.
pub fn docker_build(tag: &str, dockerfile: &str) {
    use std::io::Write;
    let mut child = Command::new("docker")
        .args(["build", "-q", "-t", tag, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker CLI runs");
    child.stdin.take().expect("stdin").write_all(dockerfile.as_bytes()).expect("Dockerfile sent");
    assert!(child.wait().expect("docker build ends").success(), "docker build of {tag} failed");
}

/// Runs `commands` at once and checks that exactly one exits 0 and every
/// other exits 9 (conflict); returns the winner's index.
pub fn one_winner(commands: impl IntoIterator<Item = Command>) -> usize {
    let children: Vec<_> = commands
        .into_iter()
        .map(|mut c| c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().expect("spawn"))
        .collect();
    let results: Vec<Run> = children.into_iter().map(|c| Run::from(c.wait_with_output().expect("exit"))).collect();
    let winners: Vec<usize> = (0..results.len()).filter(|i| results[*i].code == 0).collect();
    assert_eq!(winners.len(), 1, "exit codes: {:?}", results.iter().map(|r| r.code).collect::<Vec<_>>());
    for (i, run) in results.iter().enumerate().filter(|(i, _)| *i != winners[0]) {
        assert_eq!(run.code, 9, "publisher {i}: {}", run.stderr);
    }
    winners[0]
}

/// The CARGO_TARGET_DIR the plugin crates the tests generate (`hostbuild
/// new`) share: `templates-target/` beside this build's target directory
/// (in CI `~/.cache/hostbuild-dev/templates-target`), so reruns compile only
/// the generated crates themselves.
pub fn templates_target() -> PathBuf {
    let target = binary().parent().and_then(Path::parent).expect("the target directory").to_path_buf();
    target.parent().expect("the target directory has a parent").join("templates-target")
}

/// A command running the generated crate's `test.sh` as a user would, on
/// this build's hostbuild, with the shared target directory and warnings
/// as errors; `OUT` is where the output tree goes.
pub fn template_test_sh(hb: &Hostbuild, crate_dir: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(crate_dir.join("test.sh"));
    cmd.env("HOSTBUILD", binary())
        .env("HOSTBUILD_CACHE_DIR", hb.cache.path())
        .env("CARGO_TARGET_DIR", templates_target())
        .env("RUSTFLAGS", "-D warnings")
        .env("OUT", out)
        .env_remove("HOSTBUILD_PLUGIN_TIME_LIMIT")
        .env_remove("HOSTBUILD_PLUGIN_MEMORY_LIMIT");
    cmd
}

/// The JSON summary `run --json` printed after whatever came before it on
/// stdout (test.sh prints `inspect` first).
pub fn run_json(stdout: &str) -> serde_json::Value {
    let at = stdout.find("{\n  \"platforms\"").unwrap_or_else(|| panic!("no run summary on stdout:\n{stdout}"));
    serde_json::from_str(&stdout[at..]).unwrap_or_else(|e| panic!("the run summary is not JSON ({e}):\n{stdout}"))
}

/// Sends signal `name` (`INT`, `TERM`, `KILL`) to `child`.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").args([&format!("-{name}"), &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// Polls `done` every `every` until it holds; fails with `what` after `limit`.
pub fn wait_for(limit: Duration, every: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(every);
    }
}
