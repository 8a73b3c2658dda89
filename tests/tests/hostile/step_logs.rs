//! Hole 11 (steps): a step's output is cut into lines of at most 64 KiB
//! as it arrives, so a line without end grows no buffer in hostbuild and is
//! never rescanned, and a flood of short lines costs time in proportion;
//! a step over `--step-timeout` is stopped and removed, the plugin's call
//! ends there and the run fails.

use std::time::{Duration, Instant};

use hostbuild_tests::{guest, Hostbuild, Run};

/// Runs `hostile-root` with `options`, polling the process's peak resident
/// memory (VmHWM) until it exits: the run, the peak in KiB and the time.
fn run_measuring(hb: &Hostbuild, options: &[&str]) -> (Run, u64, Duration) {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = hb.command();
    cmd.args(["run", "--json"]).arg(guest("hostile-root")).arg("--out").arg(out.path()).arg("--source").arg(out.path());
    for o in options {
        cmd.args(["--opt", o]);
    }
    let started = Instant::now();
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
        if let Ok(output) = waiter.recv_timeout(Duration::from_millis(20)) {
            break output.unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the run did not end");
    };
    (Run::from(output), peak, started.elapsed())
}

fn notes(run: &Run) -> Vec<String> {
    run.json()["platforms"][0]["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

/// Peak memory of a run whose step prints one short line.
fn baseline(hb: &Hostbuild) -> u64 {
    let (run, peak, _) = run_measuring(hb, &["attack=euid"]);
    run.expect(0, &[]);
    peak
}

#[test]
fn a_line_without_end_is_split_at_64_kib_in_bounded_memory() {
    let hb = Hostbuild::new();
    let base = baseline(&hb);
    // 64 MiB without a newline.
    let (run, peak, took) = run_measuring(&hb, &["attack=long-line", "count=67108864"]);
    run.expect(0, &[]);
    eprintln!("64 MiB line: {took:?}, hostbuild peak RSS {peak} KiB (one short line: {base} KiB)");
    let notes = notes(&run);
    // The plugin's tail: the last 50 lines, each a 64 KiB piece.
    assert!(notes.contains(&"tail-lines=50".to_string()) && notes.contains(&"longest-tail-line=65536".to_string()));
    // What hostbuild printed: 1024 pieces of 64 KiB (plus their JSON).
    let pieces: Vec<usize> = run
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["source"] == "hostile-root:attack")
        .map(|v| v["message"].as_str().unwrap().len())
        .collect();
    assert_eq!((pieces.len(), pieces.iter().all(|n| *n == 65536)), (1024, true));
    assert!(peak < base + 32 * 1024, "hostbuild grew from {base} KiB to {peak} KiB");
}

#[test]
fn millions_of_short_lines_cost_time_in_proportion_and_bounded_memory() {
    let hb = Hostbuild::new();
    let base = baseline(&hb);
    let (quarter, _, t1) = run_measuring(&hb, &["attack=many-lines", "count=500000"]);
    quarter.expect(0, &[]);
    let (run, peak, t4) = run_measuring(&hb, &["attack=many-lines", "count=2000000"]);
    run.expect(0, &[]);
    eprintln!("500k lines: {t1:?}; 2M lines: {t4:?}, hostbuild peak RSS {peak} KiB (one short line: {base} KiB)");
    assert!(notes(&run).contains(&"2000000".to_string()), "the last line arrived");
    assert!(peak < base + 32 * 1024, "hostbuild grew from {base} KiB to {peak} KiB");
    // Linear: four times the lines, about four times the time (quadratic: 16).
    assert!(t4 < t1 * 8, "500k lines took {t1:?}, 2M took {t4:?}");
}

#[test]
fn a_step_over_the_step_timeout_is_stopped_removed_and_fails_the_run() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let run = super::common::run_guest(
        &hb,
        "hostile-root",
        out.path(),
        out.path(),
        &["--opt", "attack=sleep", "--step-timeout", "3s"],
        &[],
        Duration::from_secs(120),
    );
    run.expect(
        7,
        &[
            "error: plugin `hostile-root` failed in `build`: step `attack` was stopped: it ran longer than the step \
             timeout of 3s",
            "hint: the step was stopped and removed",
            "--step-timeout DURATION",
        ],
    );
    // The plugin's call ended there: it could not run on.
    assert!(!run.stderr.contains("ran on after the step timeout"), "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}
