//! Hole 5: image builds have no network unless the plugin declares
//! `image-network` and it is granted. A recipe may carry files read from the
//! source (CI checkouts keep tokens in `.git/config`); a networked RUN line
//! would send them anywhere. The attack here is real: a listener on the
//! Docker bridge's gateway, which build containers can reach when they have
//! network.

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use hostbuild_tests::{docker, Hostbuild};

use super::common::run_guest;

/// A listener on the bridge gateway; what connects within the run and what
/// it sent.
struct Listener {
    listener: TcpListener,
    gateway: String,
}

impl Listener {
    fn new() -> Self {
        // The engine may not record the gateway; it is the subnet's first host.
        let config = docker(&["network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}"]);
        let config: serde_json::Value = serde_json::from_str(&config).expect("IPAM config is JSON");
        let gateway = match config[0]["Gateway"].as_str().filter(|g| !g.is_empty()) {
            Some(g) => g.to_string(),
            None => {
                let subnet = config[0]["Subnet"].as_str().expect("the bridge has a subnet");
                let net: std::net::Ipv4Addr = subnet.split('/').next().unwrap().parse().expect("an IPv4 subnet");
                std::net::Ipv4Addr::from(u32::from(net) + 1).to_string()
            }
        };
        let listener = TcpListener::bind((gateway.as_str(), 0)).expect("bind on the bridge gateway");
        listener.set_nonblocking(true).unwrap();
        Self { listener, gateway }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().unwrap().port()
    }

    /// Everything received by connections made so far.
    fn received(&self) -> Vec<String> {
        let mut got = Vec::new();
        while let Ok((mut stream, _)) = self.listener.accept() {
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut text = String::new();
            let _ = stream.read_to_string(&mut text);
            got.push(text);
        }
        got
    }
}

/// A source tree with the kind of secret CI checkouts keep.
fn checkout(secret: &str) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join(".git")).unwrap();
    std::fs::write(src.path().join(".git/config"), format!("[http]\n\textraheader = AUTHORIZATION: {secret}\n"))
        .unwrap();
    src
}

fn exfiltrate(hb: &Hostbuild, guest: &str, listener: &Listener, secret: &str) -> hostbuild_tests::Run {
    let src = checkout(secret);
    let out = tempfile::tempdir().unwrap();
    let target = format!("target={}", listener.gateway);
    let port = format!("port={}", listener.port());
    // A marker in the recipe makes each run's image new (never reused).
    let args = ["-v", "--opt", "attack=exfiltrate-build", "--opt", &target, "--opt", &port];
    run_guest(hb, guest, src.path(), out.path(), &args, &[], Duration::from_secs(300))
}

#[test]
fn image_builds_have_no_network_unless_declared_and_granted() {
    let hb = Hostbuild::new();
    let listener = Listener::new();
    let secret = format!("bearer-{}", hostbuild_tests::unique());
    // Declares only `container`: its RUN line cannot reach anything.
    let run = exfiltrate(&hb, "hostile-minimal", &listener, &secret);
    // (The RUN line itself, echoed in the log, names both words.)
    let said = |word: &str| run.stderr.lines().any(|l| l.ends_with(&format!("] {word}")));
    assert!(said("BLOCKED") && !said("SENT"), "{}", run.stderr);
    run.expect(0, &[]);
    assert!(listener.received().is_empty(), "the build reached the host");

    // The control: declared (and, for a file run directly, granted) image
    // network is a real channel. SECURITY.md says so.
    let secret2 = format!("bearer-{}", hostbuild_tests::unique());
    let run = exfiltrate(&hb, "hostile-files", &listener, &secret2);
    run.expect(0, &[]);
    assert!(run.stderr.lines().any(|l| l.ends_with("] SENT")), "{}", run.stderr);
    let got = listener.received();
    assert!(got.iter().any(|t| t.contains(&secret2)), "the control attack failed: {got:?}");
}
