//! `cargo xtask bench --store`: push and pull throughput of one file on a
//! loopback s3s-fs, through `hostbuild artifacts` (every sha256 verified)
//! and through awscli (installed from PyPI into a venv under
//! ~/.cache/hostbuild-dev/tools), alternated run by run, whole processes,
//! with each process's peak resident memory (wait4's ru_maxrss) and the
//! CPU time it used (user + system), which tells the client's own cost from
//! the server's: on a small machine the loopback server's CPU bounds both.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use hostbuild::store::Transfer;

const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret-value";

/// What to measure.
pub struct Settings {
    pub runs: usize,
    pub size_mib: u64,
    /// hostbuild's `[store] concurrency`, when not its default.
    pub concurrency: Option<usize>,
    /// hostbuild's `[store] part-size`, when not its default.
    pub part_size: Option<String>,
}

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

pub fn run(settings: Settings) -> Result<()> {
    ensure!(settings.runs > 0 && settings.size_mib > 0, "--runs and --size-mib must be at least 1");
    let s3s = tools().join("bin/s3s-fs");
    ensure!(s3s.exists(), "{} is missing: run `bash scripts/prereqs.sh --test`", s3s.display());
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
    let server_pid = server.id();
    let result = measure(&settings, &hostbuild, &aws, port, root.path(), server_pid);
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
        .env_remove("HOSTBUILD_STORE")
        .env_remove("HOSTBUILD_STORE_LAYOUT")
        .stdout(Stdio::null())
}

/// One process: how long it took, its peak resident memory and CPU time.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    rss_kib: u64,
    cpu: Duration,
    /// CPU time the server used meanwhile.
    server_cpu: Duration,
}

/// CPU time (user + system) a running process used so far, from
/// /proc/PID/stat; zero when it cannot be read.
fn cpu_of(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return Duration::ZERO };
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    // SAFETY: sysconf only reads a configuration value.
    let per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).unwrap_or(100).max(1);
    Duration::from_micros(ticks * 1_000_000 / per_second)
}

/// Runs `cmd` to its end, timing it and reading its peak RSS from wait4.
fn timed(cmd: &mut Command, stderr: &Path, server: u32) -> Result<Sample> {
    let server_before = cpu_of(server);
    let t = Instant::now();
    let child = cmd.stderr(std::fs::File::create(stderr)?).spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, written by the kernel; the child is
    // ours and reaped here (never by `Child::wait`).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = t.elapsed();
    ensure!(waited == pid, "wait4 failed: {}", std::io::Error::last_os_error());
    ensure!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed: {}",
        std::fs::read_to_string(stderr).unwrap_or_default()
    );
    let time = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0)) + Duration::from_micros(t.tv_usec as u64)
    };
    let cpu = time(usage.ru_utime) + time(usage.ru_stime);
    let server_cpu = cpu_of(server).saturating_sub(server_before);
    Ok(Sample { wall, rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0), cpu, server_cpu })
}

/// Writes `size` bytes of a fixed pseudo-random pattern, 8 MiB at a time.
fn make_file(path: &Path, size: u64) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut chunk = vec![0u8; 8 << 20];
    let mut at = 0u64;
    while at < size {
        let n = chunk.len().min((size - at) as usize);
        for (i, b) in chunk[..n].iter_mut().enumerate() {
            *b = ((at + i as u64).wrapping_mul(2_654_435_761) >> 24) as u8;
        }
        out.write_all(&chunk[..n])?;
        at += n as u64;
    }
    out.flush()?;
    Ok(())
}

fn measure(s: &Settings, hostbuild: &Path, aws: &Path, port: u16, s3_root: &Path, server: u32) -> Result<()> {
    let work = tempfile::tempdir()?;
    let size = s.size_mib << 20;
    let file = work.path().join("libbig.so");
    make_file(&file, size)?;
    let mut transfer = Transfer::default();
    let mut table = String::new();
    if let Some(n) = s.concurrency {
        table.push_str(&format!("concurrency = {n}\n"));
        transfer.concurrency = n;
    }
    if let Some(p) = &s.part_size {
        table.push_str(&format!("part-size = \"{p}\"\n"));
    }
    if !table.is_empty() {
        std::fs::write(work.path().join("hostbuild.toml"), format!("[store]\n{table}"))?;
    }
    let stderr = work.path().join("stderr");
    let mut samples: [Vec<Sample>; 4] = Default::default();
    for run in 0..s.runs {
        let sha = format!("bench{run}");
        let artifacts = |action: &str, path: &Path| {
            let mut cmd = Command::new(hostbuild);
            cmd.current_dir(work.path())
                .args(["artifacts", "--store", "s3://bench/hb", action, "--git-sha", &sha, "--dynamic"])
                .arg(path);
            cmd
        };
        samples[0].push(timed(env(&mut artifacts("push", &file), port), &stderr, server)?);
        let dest = work.path().join(format!("pulled{run}"));
        samples[1].push(timed(env(&mut artifacts("pull", &dest), port), &stderr, server)?);
        ensure!(std::fs::metadata(dest.join("libbig.so"))?.len() == size, "the pulled file has another size");
        // Keep the disk free for large files: nothing is read again.
        std::fs::remove_dir_all(&dest)?;
        let _ = std::fs::remove_dir_all(s3_root.join("bench/hb"));
        let url = format!("s3://bench/aws/{sha}/libbig.so");
        let mut up = Command::new(aws);
        up.args(["s3", "cp", "--only-show-errors"]).arg(&file).arg(&url);
        samples[2].push(timed(env(&mut up, port), &stderr, server)?);
        let down = work.path().join(format!("aws{run}.so"));
        let mut get = Command::new(aws);
        get.args(["s3", "cp", "--only-show-errors", &url]).arg(&down);
        samples[3].push(timed(env(&mut get, port), &stderr, server)?);
        std::fs::remove_file(&down)?;
        let _ = std::fs::remove_dir_all(s3_root.join("bench/aws"));
    }
    let mibs = |d: Duration| s.size_mib as f64 / d.as_secs_f64();
    let stats = |v: &[Sample]| {
        let mut rates: Vec<f64> = v.iter().map(|x| mibs(x.wall)).collect();
        rates.sort_by(|a, b| a.total_cmp(b));
        let rss = v.iter().map(|x| x.rss_kib).max().unwrap_or(0);
        let median = |f: &dyn Fn(&Sample) -> Duration| {
            let mut all: Vec<f64> = v.iter().map(|x| f(x).as_secs_f64()).collect();
            all.sort_by(|a, b| a.total_cmp(b));
            all[all.len() / 2]
        };
        let (cpu, server) = (median(&|x| x.cpu), median(&|x| x.server_cpu));
        (rates[0], rates[rates.len() / 2], rates[rates.len() - 1], rss, cpu, server)
    };
    let part = s.part_size.clone().unwrap_or_else(|| format!("{}M", transfer.part_size >> 20));
    let profile = hostbuild.parent().and_then(Path::file_name).map(|n| n.to_string_lossy()).unwrap_or_default();
    println!(
        "{} MiB file on loopback s3s-fs, {} run(s) each, alternated, whole processes; hostbuild ({profile} build) \
         verifies every sha256; hostbuild transfer: {} parts of {part} at a time",
        s.size_mib, s.runs, transfer.concurrency
    );
    println!(
        "{:<22} {:>30} {:>30} {:>18} {:>12} {:>12}",
        "MiB/s (min/median/max)", "push", "pull", "peak RSS push/pull", "client CPU s", "server CPU s"
    );
    let row = |name: &str, push: &[Sample], pull: &[Sample]| {
        let (p, l) = (stats(push), stats(pull));
        println!(
            "{name:<22} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8} MiB {:>4} MiB {:>6.2} {:>5.2} {:>6.2} {:>5.2}",
            p.0,
            p.1,
            p.2,
            l.0,
            l.1,
            l.2,
            p.3 >> 10,
            l.3 >> 10,
            p.4,
            l.4,
            p.5,
            l.5
        );
        (p.1, l.1)
    };
    let (hp, hl) = row("hostbuild artifacts", &samples[0], &samples[1]);
    let (ap, al) = row("awscli s3 cp", &samples[2], &samples[3]);
    println!("ratio of medians hostbuild / awscli: push {:.2}, pull {:.2}", hp / ap, hl / al);
    Ok(())
}
