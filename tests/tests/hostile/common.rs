//! What every hostile test needs: a marker outside the lent trees whose
//! contents and metadata must not change, and the engine's view of a run.
#![allow(dead_code)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A file outside every tree lent to the plugin, holding a secret an attack
/// would read or overwrite. `assert_untouched` checks nothing changed.
pub struct Marker {
    pub path: PathBuf,
    contents: Vec<u8>,
    mtime: (i64, i64),
    _dir: tempfile::TempDir,
}

impl Marker {
    /// A fresh marker named `name` with random-looking contents.
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(name);
        let contents = format!("secret-{}\n", hostbuild_tests::unique()).into_bytes();
        std::fs::write(&path, &contents).expect("marker written");
        let meta = std::fs::metadata(&path).expect("marker metadata");
        Self { path, contents, mtime: (meta.mtime(), meta.mtime_nsec()), _dir: dir }
    }

    /// The secret text, to search for in stores and outputs.
    pub fn secret(&self) -> String {
        String::from_utf8_lossy(&self.contents).trim().to_string()
    }

    /// The directory the marker lives in (outside every lent tree).
    pub fn dir(&self) -> &Path {
        self.path.parent().expect("marker has a parent")
    }

    pub fn assert_untouched(&self) {
        let now = std::fs::read(&self.path).expect("marker still readable");
        assert_eq!(now, self.contents, "{} was overwritten", self.path.display());
        let meta = std::fs::metadata(&self.path).expect("marker metadata");
        assert_eq!((meta.mtime(), meta.mtime_nsec()), self.mtime, "{} was modified", self.path.display());
        let names: Vec<_> =
            std::fs::read_dir(self.dir()).expect("marker dir").flatten().map(|e| e.file_name()).collect();
        assert_eq!(names.len(), 1, "something was written beside the marker: {names:?}");
    }
}

/// Every file under `dir` (recursively, links not followed) whose bytes
/// contain `needle`: where a leaked secret ended up.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let ft = entry.file_type().expect("file type");
            if ft.is_dir() {
                pending.push(entry.path());
            } else if ft.is_file() {
                let bytes = std::fs::read(entry.path()).unwrap_or_default();
                if bytes.windows(needle.len().max(1)).any(|w| w == needle.as_bytes()) {
                    found.push(entry.path());
                }
            }
        }
    }
    found
}

/// The engine's id of an image, or `None` when it does not exist.
pub fn image_id(reference: &str) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", reference])
        .output()
        .expect("docker CLI runs");
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `hostbuild run <guest> --source SOURCE --out OUT EXTRA...` with `envs`,
/// killed (and failed) after `limit`: an attack must never hang a run. Also
/// checks that no container of that process is left.
pub fn run_guest(
    hb: &hostbuild_tests::Hostbuild,
    guest: &str,
    source: &Path,
    out: &Path,
    extra: &[&str],
    envs: &[(&str, &str)],
    limit: std::time::Duration,
) -> hostbuild_tests::Run {
    run_guest_pid(hb, guest, source, out, extra, envs, limit).0
}

/// `run_guest`, and the pid the run had (its containers' `hostbuild.owner-pid`).
pub fn run_guest_pid(
    hb: &hostbuild_tests::Hostbuild,
    guest: &str,
    source: &Path,
    out: &Path,
    extra: &[&str],
    envs: &[(&str, &str)],
    limit: std::time::Duration,
) -> (hostbuild_tests::Run, u32) {
    let mut cmd = hb.command();
    cmd.arg("run").arg(hostbuild_tests::guest(guest)).arg("--source").arg(source).arg("--out").arg(out).args(extra);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    let started = std::time::Instant::now();
    let (done, waiter) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match waiter.recv_timeout(limit) {
        Ok(output) => output.expect("hostbuild runs"),
        Err(_) => {
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("hostbuild did not finish within {limit:?}: the attack hung it");
        }
    };
    let run = hostbuild_tests::Run::from(output);
    assert!(
        hostbuild_tests::containers_with(&format!("hostbuild.owner-pid={pid}")).is_empty(),
        "containers left running after {:?}",
        started.elapsed()
    );
    (run, pid)
}

/// Spawns `cmd` (a `hostbuild run` or `shell`), waits for the first
/// container it creates from a plugin's image (not a cache volume's
/// preparation, in hostbuild's own image) and returns `docker inspect
/// --format FORMAT` of it; then, with `stop`, sends the run SIGTERM;
/// returns that and the finished run.
pub fn inspect_first_container(
    mut cmd: std::process::Command,
    format: &str,
    stop: bool,
) -> (hostbuild_tests::Run, String) {
    use std::process::Stdio;
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let label = format!("hostbuild.owner-pid={}", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let shape = loop {
        let format = format!("{{{{.Config.Image}}}}|{format}");
        let shapes = hostbuild_tests::containers_with(&label).into_iter().filter_map(|id| {
            let out = std::process::Command::new("docker").args(["inspect", "--format", &format, &id]).output();
            let out = out.ok().filter(|o| o.status.success())?;
            let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let (image, shape) = text.split_once('|')?;
            (image != "hostbuild/bookworm:amd64").then(|| shape.to_string())
        });
        if let Some(shape) = shapes.into_iter().next() {
            break shape;
        }
        assert!(std::time::Instant::now() < deadline, "no container of {label} appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    if stop {
        let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    }
    (hostbuild_tests::Run::from(child.wait_with_output().expect("the run ends")), shape)
}

/// Held by the tests that count or clear the cache volumes of `hostile-root`
/// (they would otherwise see each other's volumes).
pub static HOSTILE_ROOT_CACHE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Every file under a local store directory (its keys).
pub fn store_keys(store: &Path) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pending = vec![store.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                pending.push(entry.path());
            } else if let Ok(rel) = entry.path().strip_prefix(store) {
                keys.push(rel.display().to_string());
            }
        }
    }
    keys.sort();
    keys
}

/// `component` with one more top-level section (`id`, `payload`) at its end:
/// how the tests make a component with other bytes (a custom section, id 0)
/// or more core modules and instances (ids 1 and 2) than the SDK gives.
pub fn with_section(component: &[u8], id: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = component.to_vec();
    out.push(id);
    out.extend(leb128(payload.len() as u32));
    out.extend_from_slice(payload);
    out
}

/// Unsigned LEB128, as the WebAssembly binary format writes numbers.
pub fn leb128(mut n: u32) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}
