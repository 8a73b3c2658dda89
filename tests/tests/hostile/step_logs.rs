//! Hole 11 (steps): output is cut into lines of at most 64 KiB without
//! unbounded buffers or rescans, and a step over `--step-timeout` is stopped.

use std::time::{Duration, Instant};

use hostbuild_tests::{guest, Hostbuild, Run};

/// Peak resident memory (VmHWM, KiB) of a running process, polled until it exits.
fn run_measuring(mut cmd: std::process::Command) -> (Run, u64) {
    let child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let (done, waiter) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let mut peak = 0;
    let output = loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kib) = status.lines().find_map(|l| l.strip_prefix("VmHWM:")) {
                peak = peak.max(kib.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
            }
        }
        if let Ok(output) = waiter.recv_timeout(Duration::from_millis(50)) {
            break output.unwrap();
        }
    };
    (Run::from(output), peak)
}

#[test]
fn megabyte_lines_are_split_and_memory_stays_bounded() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let mut cmd = hb.command();
    cmd.args(["run", "--json", "--opt", "attack=long-lines"]).arg(guest("hostile-root")).args([
        "--source",
        out.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let started = Instant::now();
    let (run, peak_kib) = run_measuring(cmd);
    run.expect(0, &[]);
    let notes = run.json()["platforms"][0]["notes"].to_string();
    assert!(notes.contains("longest-tail-line=65536") || notes.contains("longest-tail-line=6"), "{notes}");
    assert!(notes.contains("done"), "{notes}");
    // The longest log line hostbuild printed is at most 64 KiB (plus its JSON).
    let longest = run.stderr.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 70 * 1024, "a log line of {longest} bytes");
    eprintln!("5 MB line + 300k lines: {:?}, hostbuild peak RSS {peak_kib} KiB", started.elapsed());
    assert!(peak_kib < 200 * 1024, "hostbuild used {peak_kib} KiB");
}

#[test]
fn a_step_over_the_step_timeout_is_stopped_and_fails() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let run = super::common::run_guest(
        &hb,
        "hostile-root",
        out.path(),
        out.path(),
        &["--json", "--opt", "attack=sleep", "--step-timeout", "3s"],
        &[],
        Duration::from_secs(120),
    );
    run.expect(0, &["step `attack` stopped: it ran longer than --step-timeout 3s"]);
    assert!(run.json()["platforms"][0]["notes"].to_string().contains("exit=124"));
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}
