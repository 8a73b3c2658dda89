//! `cargo xtask bench --store`: push and pull throughput of a 256 MiB set on
//! a loopback s3s-fs, through `hostbuild artifacts` and through awscli
//! (installed from PyPI into a venv under ~/.cache/hostbuild-dev/tools),
//! alternated run by run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};

const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret-value";
const SIZE_MIB: u64 = 256;

fn tools() -> PathBuf {
    PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/hostbuild-dev/tools")
}

fn awscli() -> Result<PathBuf> {
    let venv = tools().join("awscli");
    let aws = venv.join("bin/aws");
    if !aws.exists() {
        eprintln!("[xtask] installing awscli from PyPI into {}", venv.display());
        ensure!(Command::new("python3").args(["-m", "venv"]).arg(&venv).status()?.success(), "python3 -m venv failed");
        let pip = venv.join("bin/pip");
        ensure!(
            Command::new(&pip).args(["install", "--quiet", "awscli"]).status()?.success(),
            "pip install awscli failed"
        );
    }
    Ok(aws)
}

pub fn run(runs: usize) -> Result<()> {
    let s3s = tools().join("bin/s3s-fs");
    ensure!(s3s.exists(), "{} is missing: run `bash scripts/prereqs.sh`", s3s.display());
    let aws = awscli()?;
    let hostbuild = crate::bench::hostbuild_binary()?;

    let root = tempfile::tempdir()?;
    std::fs::create_dir(root.path().join("bench"))?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut server = Command::new(&s3s)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", KEY, "--secret-key", SECRET])
        .arg(root.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        ensure!(Instant::now() < deadline, "s3s-fs did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let result = measure(&hostbuild, &aws, port, runs);
    let _ = server.kill();
    let _ = server.wait();
    result
}

fn env(cmd: &mut Command, port: u16) -> &mut Command {
    cmd.env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
}

fn timed(cmd: &mut Command) -> Result<Duration> {
    let t = Instant::now();
    let out = cmd.stderr(Stdio::piped()).output()?;
    ensure!(out.status.success(), "{:?} failed: {}", cmd, String::from_utf8_lossy(&out.stderr));
    Ok(t.elapsed())
}

fn measure(hostbuild: &Path, aws: &Path, port: u16, runs: usize) -> Result<()> {
    let work = tempfile::tempdir()?;
    let file = work.path().join("libbig.so");
    let data: Vec<u8> = (0..(SIZE_MIB << 20) as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    std::fs::write(&file, data)?;
    let mut times: [Vec<Duration>; 4] = Default::default();
    for run in 0..runs {
        let sha = format!("bench{run}");
        let artifacts = |action: &str, path: &Path| {
            let mut cmd = Command::new(hostbuild);
            cmd.args(["artifacts", "--store", "s3://bench/hb", action, "--git-sha", &sha, "--dynamic"]).arg(path);
            cmd
        };
        times[0].push(timed(env(&mut artifacts("push", &file), port))?);
        let dest = work.path().join(format!("pulled{run}"));
        times[1].push(timed(env(&mut artifacts("pull", &dest), port))?);
        let url = format!("s3://bench/aws/{sha}/libbig.so");
        times[2]
            .push(timed(env(Command::new(aws).args(["s3", "cp", "--only-show-errors"]).arg(&file).arg(&url), port))?);
        let down = work.path().join(format!("aws{run}.so"));
        times[3].push(timed(env(Command::new(aws).args(["s3", "cp", "--only-show-errors", &url]).arg(&down), port))?);
        std::fs::remove_dir_all(&dest)?;
        std::fs::remove_file(&down)?;
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mibs = |d: Duration| SIZE_MIB as f64 / d.as_secs_f64();
    let [hb_push, hb_pull, aws_push, aws_pull] = &mut times;
    let (hp, hl, ap, al) = (median(hb_push), median(hb_pull), median(aws_push), median(aws_pull));
    println!("256 MiB set on loopback s3s-fs, {runs} runs each, alternated (median, whole process)");
    println!("{:<30} {:>12} {:>12}", "", "push", "pull");
    println!("{:<30} {:>9.1} MiB/s {:>7.1} MiB/s", "hostbuild artifacts", mibs(hp), mibs(hl));
    println!("{:<30} {:>9.1} MiB/s {:>7.1} MiB/s", "awscli s3 cp", mibs(ap), mibs(al));
    println!("ratio hostbuild / awscli: push {:.2}, pull {:.2}", mibs(hp) / mibs(ap), mibs(hl) / mibs(al));
    Ok(())
}
