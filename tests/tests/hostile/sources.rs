//! Hole 8: plugins from the network. Plain http:// only to this machine,
//! never a downgrade from https by redirect, downloads bounded in size and
//! time with nothing half-written kept, and other bytes than the lock's
//! never run silently.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use hostbuild_tests::{guest, Hostbuild, Run};

/// A project in a temporary directory with one plugin entry.
fn project(name: &str, source: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!("[plugins.{name}]\nsource = \"{source}\"\ngrants = {{ env = [\"WELL_BEHAVED_VISIBLE\"] }}\n");
    std::fs::write(dir.path().join("hostbuild.toml"), toml).unwrap();
    dir
}

fn in_project(hb: &Hostbuild, dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = hb.command();
    cmd.current_dir(dir).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Run::from(cmd.output().unwrap())
}

/// Nothing half-written in the download cache.
fn downloads(hb: &Hostbuild) -> Vec<String> {
    std::fs::read_dir(hb.cache.path().join("plugins"))
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// Serves each connection with `respond` on a thread; returns the port.
fn serve(respond: impl Fn(std::net::TcpStream) + Send + Sync + 'static) -> u16 {
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let respond = std::sync::Arc::new(respond);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let respond = respond.clone();
            std::thread::spawn(move || respond(stream));
        }
    });
    port
}

fn read_request(stream: &mut std::net::TcpStream) {
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
}

/// This machine's address on the Docker bridge: not loopback.
fn bridge_ip() -> String {
    let out = std::process::Command::new("ip").args(["-4", "-o", "addr", "show", "docker0"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.split_whitespace().find(|w| w.contains('/')).unwrap().split('/').next().unwrap().to_string()
}

#[test]
fn plain_http_is_refused_for_anything_but_this_machine() {
    let hb = Hostbuild::new();
    let plugin = std::fs::read(guest("well-behaved")).unwrap();
    let port = serve(move |mut s| {
        read_request(&mut s);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", plugin.len());
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(&plugin);
    });
    // Served in clear text from an address that is not loopback: refused,
    // and so is a host name that merely starts with 127.
    for url in [format!("http://{}:{port}/wb.wasm", bridge_ip()), format!("http://127.evil.example:{port}/wb.wasm")] {
        let dir = project("well-behaved", &url);
        let run = in_project(&hb, dir.path(), &["lock"], &[]);
        run.expect(13, &["plain http:// is refused for anything but this machine"]);
        assert!(downloads(&hb).is_empty(), "{:?}", downloads(&hb));
    }
    // The same server on loopback is this machine: allowed.
    let dir = project("well-behaved", &format!("http://127.0.0.1:{port}/wb.wasm"));
    in_project(&hb, dir.path(), &["lock"], &[]).expect(0, &[]);
}

#[test]
fn an_https_to_http_redirect_is_refused() {
    let hb = Hostbuild::new();
    let certs = tempfile::tempdir().unwrap();
    let c = certs.path();
    // A CA of the test's own and a server certificate for 127.0.0.1.
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(c).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=hostbuild test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(c.join("ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "1",
        "-extfile",
        "ext",
    ]);
    let mut bundle = std::fs::read(c.join("ca.pem")).unwrap();
    bundle.extend(std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default());
    std::fs::write(c.join("bundle.pem"), bundle).unwrap();
    // The plain-HTTP target of the redirect (loopback: allowed on its own).
    let plugin = std::fs::read(guest("well-behaved")).unwrap();
    let plain = serve(move |mut s| {
        read_request(&mut s);
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", plugin.len());
        let _ = s.write_all(head.as_bytes());
        let _ = s.write_all(&plugin);
    });
    // An HTTPS server that redirects there.
    let script = format!(
        "import http.server, ssl, sys\n\
         class R(http.server.BaseHTTPRequestHandler):\n\
         \x20   def do_GET(self):\n\
         \x20       self.send_response(302); self.send_header('Location', 'http://127.0.0.1:{plain}/wb.wasm'); self.end_headers()\n\
         \x20   def log_message(self, *a): pass\n\
         s = http.server.HTTPServer(('127.0.0.1', 0), R)\n\
         ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('srv.pem', 'srv.key')\n\
         s.socket = ctx.wrap_socket(s.socket, server_side=True)\n\
         print(s.server_address[1], flush=True)\n\
         s.serve_forever()\n"
    );
    let mut server = std::process::Command::new("python3")
        .args(["-c", &script])
        .current_dir(c)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(server.stdout.take().unwrap()), &mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let dir = project("well-behaved", &format!("https://127.0.0.1:{port}/wb.wasm"));
    let bundle = c.join("bundle.pem");
    let run = in_project(&hb, dir.path(), &["lock"], &[("SSL_CERT_FILE", bundle.to_str().unwrap())]);
    let _ = server.kill();
    let _ = server.wait();
    run.expect(13, &["refused a redirect from https to http://127.0.0.1"]);
    assert!(downloads(&hb).is_empty());
}

#[test]
fn endless_and_stalled_downloads_are_cut_off_and_leave_nothing() {
    let hb = Hostbuild::new();
    // An endless body without a length.
    let endless = serve(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        let chunk = vec![0u8; 64 << 10];
        while s.write_all(&chunk).is_ok() {}
    });
    let dir = project("well-behaved", &format!("http://127.0.0.1:{endless}/big.wasm"));
    let run = in_project(&hb, dir.path(), &["lock"], &[("HOSTBUILD_PLUGIN_MAX_SIZE", "2M")]);
    run.expect(13, &["is larger than the limit of 2097152 bytes"]);
    assert!(downloads(&hb).is_empty(), "{:?}", downloads(&hb));
    // Headers, then silence.
    let stalled = serve(|mut s| {
        read_request(&mut s);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\npartial");
        std::thread::sleep(Duration::from_secs(60));
    });
    let dir = project("well-behaved", &format!("http://127.0.0.1:{stalled}/slow.wasm"));
    let started = std::time::Instant::now();
    let run = in_project(&hb, dir.path(), &["lock"], &[("HOSTBUILD_DOWNLOAD_TIMEOUT", "2s")]);
    run.expect(8, &["stalled for 2s"]);
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    assert!(downloads(&hb).is_empty(), "{:?}", downloads(&hb));
}

/// A project whose hostbuild.lock pins `well-behaved` from `wb.wasm`;
/// returns the project and that file.
fn locked_well_behaved(hb: &Hostbuild) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("wb.wasm");
    std::fs::copy(guest("well-behaved"), &file).unwrap();
    std::fs::write(
        dir.path().join("hostbuild.toml"),
        "[plugins.well-behaved]\nsource = \"wb.wasm\"\ngrants = { env = [\"WELL_BEHAVED_VISIBLE\"] }\n",
    )
    .unwrap();
    in_project(hb, dir.path(), &["lock"], &[]).expect(0, &[]);
    (dir, file)
}

#[test]
fn a_plugin_changed_since_the_lock_never_runs_silently() {
    let hb = Hostbuild::new();
    let (dir, file) = locked_well_behaved(&hb);
    let out = dir.path().join("out");
    let run_it = || in_project(&hb, dir.path(), &["run", "well-behaved", "--out", out.to_str().unwrap()], &[]);
    run_it().expect(0, &[]);
    // Someone replaces the file (same plugin, other bytes): no --locked given.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(&[0, 4, 1, b'x', b'y', b'z']);
    std::fs::write(&file, bytes).unwrap();
    run_it().expect(12, &["the component (sha256)", "hostbuild plugins update well-behaved"]);
    in_project(&hb, dir.path(), &["plugins", "update", "well-behaved"], &[]).expect(0, &[]);
    run_it().expect(0, &[]);
}

#[test]
fn a_replaced_plugin_is_stopped_before_any_of_it_runs() {
    let hb = Hostbuild::new();
    let (dir, file) = locked_well_behaved(&hb);
    let locked = hostbuild_tests::sha256sum(&file);
    // The file is replaced by a plugin that crashes as soon as it runs: the
    // lock must stop it before it is even loaded (no panic, no describe).
    std::fs::copy(guest("trap"), &file).unwrap();
    let replaced = hostbuild_tests::sha256sum(&file);
    let out = dir.path().join("out");
    let run = in_project(&hb, dir.path(), &["run", "well-behaved", "--out", out.to_str().unwrap()], &[]);
    run.expect(
        12,
        &[
            &format!("the component (sha256) differs from hostbuild.lock: expected {locked}, found {replaced}"),
            "hint: if the change is intended, run `hostbuild plugins update well-behaved`",
        ],
    );
    assert!(!run.stderr.contains("panicked") && !run.stderr.contains("crashed"), "it ran:\n{}", run.stderr);
    assert!(!out.exists(), "it ran: an output tree was made");
    let compiled: Vec<_> = std::fs::read_dir(hb.cache.path().join("components")).unwrap().flatten().collect();
    assert!(compiled.iter().all(|e| !e.file_name().to_string_lossy().starts_with(&replaced)), "it was compiled");

    // A plugin the lock lacks runs with a warning, and not with --locked.
    std::fs::copy(guest("well-behaved"), &file).unwrap();
    let toml = std::fs::read_to_string(dir.path().join("hostbuild.toml")).unwrap();
    let minimal = guest("hostile-minimal");
    let entry =
        format!("\n[plugins.hostile-minimal]\nsource = \"{}\"\ngrants = {{ container = true }}\n", minimal.display());
    std::fs::write(dir.path().join("hostbuild.toml"), toml + &entry).unwrap();
    in_project(&hb, dir.path(), &["inspect", "hostile-minimal"], &[]).expect(
        0,
        &["warning: plugin `hostile-minimal` is not in hostbuild.lock", "`hostbuild plugins update hostile-minimal`"],
    );
    in_project(&hb, dir.path(), &["inspect", "well-behaved"], &[]).expect(0, &[]);
    in_project(&hb, dir.path(), &["run", "hostile-minimal", "--locked"], &[])
        .expect(12, &["plugin `hostile-minimal` is not in hostbuild.lock"]);
}

/// `cmd` run in a private mount namespace whose /etc/hosts also maps
/// `127.evil.example` to 127.0.0.1: a server on this machine under a name
/// that merely starts with `127.` (which hostbuild once took for loopback).
fn with_evil_hosts(cmd: &std::process::Command, dir: &Path) -> std::process::Command {
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n127.0.0.1 127.evil.example\n").unwrap();
    let mut wrapped = std::process::Command::new("unshare");
    wrapped
        .args(["--mount", "sh", "-c", "mount --bind \"$0\" /etc/hosts && exec \"$@\""])
        .arg(&hosts)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    wrapped
}

#[test]
fn oci_registries_elsewhere_are_reached_over_https_only() {
    // A "registry" on this machine that records the first bytes of every
    // connection, reached under a name that resolves to it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>> = Default::default();
    let record = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut first = [0u8; 8];
            let n = stream.read(&mut first).unwrap_or(0);
            record.lock().unwrap().push(first[..n].to_vec());
        }
    });
    let hb = Hostbuild::new();
    let dir = project("well-behaved", &format!("oci://127.evil.example:{port}/platforms/well-behaved:1.2.3"));
    let mut cmd = hb.command();
    cmd.current_dir(dir.path()).args(["lock"]).env("HOSTBUILD_DOWNLOAD_TIMEOUT", "5s");
    let run = Run::from(with_evil_hosts(&cmd, dir.path()).output().unwrap());
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "hostbuild never connected: {}", run.stderr);
    for first in &seen {
        // 0x16 0x03: a TLS handshake record, never `GET /v2/` in clear text.
        assert_eq!(first.get(..2), Some(&[0x16, 0x03][..]), "{:?}", String::from_utf8_lossy(first));
    }
    run.expect(
        8,
        &["127.evil.example", "registries other than localhost or a loopback IP are reached over HTTPS only"],
    );
    assert!(downloads(&hb).is_empty());
}

/// Runs `cmd` (killed after two minutes: a source must never hang a run);
/// returns what it printed and its peak resident memory in KiB.
fn run_measuring(mut cmd: std::process::Command) -> (Run, u64) {
    let started = std::time::Instant::now();
    let child =
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("hostbuild runs");
    let pid = child.id();
    let (done, waiter) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kib) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                peak = peak.max(kib.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
            }
        }
        if let Ok(output) = waiter.recv_timeout(Duration::from_millis(20)) {
            return (Run::from(output.unwrap()), peak);
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("hostbuild did not finish within two minutes");
        }
    }
}

#[test]
fn oci_layers_are_streamed_under_the_size_cap() {
    // A registry whose manifest announces a 1 KiB wasm layer and whose blob
    // never ends (up to 512 MiB): a client that buffers it holds it all.
    let config_digest = {
        use sha2::Digest;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(b"{}")))
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": config_digest, "size": 2},
        "layers": [{"mediaType": "application/wasm", "digest": format!("sha256:{}", "a".repeat(64)), "size": 1024}],
    })
    .to_string();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counted = sent.clone();
    let port = serve(move |mut s| {
        let mut head = [0u8; 4096];
        let n = s.read(&mut head).unwrap_or(0);
        let path = String::from_utf8_lossy(&head[..n]).split_whitespace().nth(1).unwrap_or("").to_string();
        let reply = |s: &mut std::net::TcpStream, kind: &str, body: &[u8]| {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes()).and_then(|_| s.write_all(body));
        };
        if path.contains("/manifests/") {
            reply(&mut s, "application/vnd.oci.image.manifest.v1+json", manifest.as_bytes());
        } else if path.contains("/blobs/") {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = vec![b'a'; 64 << 10];
            while counted.load(std::sync::atomic::Ordering::SeqCst) < 512 << 20 && s.write_all(&chunk).is_ok() {
                counted.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::SeqCst);
            }
        } else {
            reply(&mut s, "application/json", b"{}");
        }
    });
    let hb = Hostbuild::new();
    let dir = project("well-behaved", &format!("oci://127.0.0.1:{port}/platforms/huge:1"));
    let mut cmd = hb.command();
    cmd.current_dir(dir.path()).args(["lock"]).env("HOSTBUILD_PLUGIN_MAX_SIZE", "4M");
    let (run, peak_kib) = run_measuring(cmd);
    run.expect(13, &["platforms/huge:1 is larger than the limit of 4194304 bytes"]);
    std::thread::sleep(Duration::from_millis(200));
    let sent = sent.load(std::sync::atomic::Ordering::SeqCst);
    eprintln!("an endless OCI layer: stopped after {sent} bytes sent; hostbuild's peak RSS {peak_kib} KiB");
    assert!(sent < 64 << 20, "the registry sent {sent} bytes");
    assert!(peak_kib < 150 << 10, "hostbuild held {peak_kib} KiB");
    assert!(downloads(&hb).is_empty(), "{:?}", downloads(&hb));
}
