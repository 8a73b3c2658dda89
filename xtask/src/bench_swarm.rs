//! `cargo xtask bench --swarm`: what a step costs as a swarm service. One
//! trivial step (`true`) through `hostbuild run` on the local engine, the
//! same through `--engine swarm` on a one-node swarm of this engine (made by
//! tests/fixtures/swarm.sh and undone after, with a loopback registry), and
//! `docker run --rm` of the same image, alternated run by run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::bench::{ms, TrivialStep};

/// The one-node swarm, left when dropped.
struct Swarm;

impl Swarm {
    fn up() -> Result<Swarm> {
        let out = Command::new("bash").args(["tests/fixtures/swarm.sh", "one-node"]).output()?;
        anyhow::ensure!(out.status.success(), "cannot make a swarm: {}", String::from_utf8_lossy(&out.stderr).trim());
        Ok(Swarm)
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let _ = Command::new("bash").args(["tests/fixtures/swarm.sh", "down"]).status();
    }
}

/// Debian's docker-registry on a free loopback port, stopped when dropped.
struct Registry {
    child: Child,
    port: u16,
    _storage: tempfile::TempDir,
}

impl Registry {
    fn start() -> Result<Registry> {
        let storage = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                storage.path().join("data").display()
            ),
        )?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("docker-registry is missing: run `bash scripts/prereqs.sh --test`")?;
        let registry = Registry { child, port, _storage: storage };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(registry)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(runs: usize) -> Result<()> {
    let step = TrivialStep::new()?;
    let swarm = Swarm::up()?;
    let registry = Registry::start()?;
    let hostbuild_run = |engine: &[&str]| step.command(engine);
    let swarm_args = ["--engine", "swarm", "--registry", &format!("127.0.0.1:{}", registry.port)];
    let timed = |mut cmd: Command, what: &str| -> Result<(Duration, String)> {
        let t = Instant::now();
        let output = cmd.output()?;
        let elapsed = t.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        anyhow::ensure!(output.status.success(), "{what} failed: {stderr}");
        Ok((elapsed, stderr))
    };
    // Warm up: the image built and pushed, the plugin compiled; the tag.
    let (_, text) = timed(hostbuild_run(&[]), "hostbuild run")?;
    timed(hostbuild_run(&swarm_args), "hostbuild run --engine swarm")?;
    let tag = TrivialStep::image_tag(&text)?;
    let (mut local, mut on_swarm, mut docker) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        local.push(timed(hostbuild_run(&[]), "hostbuild run")?.0);
        on_swarm.push(timed(hostbuild_run(&swarm_args), "hostbuild run --engine swarm")?.0);
        docker.push(timed(TrivialStep::docker_run(&tag), "docker run")?.0);
    }
    drop(registry);
    drop(swarm);
    for v in [&mut local, &mut on_swarm, &mut docker] {
        v.sort();
    }
    let median = |v: &[Duration]| v[v.len() / 2];
    println!("trivial step `true` in {tag}, {runs} runs each, alternated; one-node swarm, loopback registry");
    println!("{:<34} {:>10} {:>10} {:>10}", "command", "min", "median", "max");
    for (name, v) in [
        ("hostbuild run (local engine)", &local),
        ("hostbuild run --engine swarm", &on_swarm),
        ("docker run --rm", &docker),
    ] {
        println!("{name:<34} {:>10} {:>10} {:>10}", ms(v[0]), ms(median(v)), ms(v[v.len() - 1]));
    }
    let ratio = |a: &[Duration], b: &[Duration]| median(a).as_secs_f64() / median(b).as_secs_f64();
    println!(
        "ratios (medians): swarm / local {:.2}, swarm / docker run {:.2}, local / docker run {:.2}",
        ratio(&on_swarm, &local),
        ratio(&on_swarm, &docker),
        ratio(&local, &docker)
    );
    Ok(())
}
