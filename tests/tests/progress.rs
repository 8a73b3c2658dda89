//! Progress as people and CI see it (`run --progress`): on a real terminal
//! (a tmux pane, read with capture-pane) a live line per platform with the
//! step and its elapsed time, gone after the run, leaving the summary and no
//! garbage; without a terminal, plain greppable lines.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use hostbuild_tests::{binary, guest, root, Hostbuild, Run};

/// A tmux server of its own, killed when dropped.
struct Tmux(String);

impl Tmux {
    fn start(command: &str) -> Tmux {
        let tmux = Tmux(format!("hostbuild-test-{}", std::process::id()));
        let status = Command::new("tmux")
            .args(["-L", &tmux.0, "new-session", "-d", "-s", "t", "-x", "150", "-y", "40", command])
            .status()
            .expect("tmux runs (bash scripts/prereqs.sh --test installs it)");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    /// What the pane shows now, as text.
    fn screen(&self) -> String {
        let out = Command::new("tmux").args(["-L", &self.0, "capture-pane", "-p", "-t", "t"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `done` holds (30 s at most); every screen seen.
    fn until(&self, done: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        loop {
            let screen = self.screen();
            let stop = done(&screen);
            seen.push(screen);
            if stop {
                return seen;
            }
            assert!(Instant::now() < deadline, "timed out; last screen:\n{}", seen.last().unwrap());
            std::thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.0, "kill-server"]).status();
    }
}

fn quote(p: &Path) -> String {
    format!("'{}'", p.display())
}

/// A spinner frame of the live display (Braille patterns).
fn spinner(c: char) -> bool {
    ('\u{2800}'..='\u{28ff}').contains(&c)
}

#[test]
fn a_terminal_shows_live_steps_with_elapsed_time_and_ends_with_the_summary_only() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    // `timed` runs one step of 3 s.
    let command = format!(
        "env HOSTBUILD_CACHE_DIR={} {} run {} --opt mode=timed --source {} --out {}; echo EXIT=$?; sleep 120",
        quote(hb.cache.path()),
        quote(&binary()),
        quote(&guest("container-steps")),
        quote(&root().join("examples/cmake-hello")),
        quote(out.path()),
    );
    let tmux = Tmux::start(&command);
    let screens = tmux.until(|s| s.contains("EXIT="));
    let last = screens.last().unwrap();
    // While the step ran: its live line, with the platform, the step, the
    // elapsed seconds and a spinner, redrawn in place (one line at a time).
    let live: Vec<&str> = screens
        .iter()
        .flat_map(|s| s.lines())
        .filter(|l| l.contains("container-steps timed") && l.chars().next().is_some_and(spinner))
        .collect();
    assert!(!live.is_empty(), "no live line was seen:\n{}", screens.join("\n----\n"));
    let elapsed: Vec<&str> = live.iter().filter_map(|l| l.split_whitespace().nth(3)).collect();
    assert!(elapsed.iter().any(|e| *e == "1s" || *e == "2s"), "no elapsed time counted: {live:?}");
    for screen in &screens {
        let lines = screen.lines().filter(|l| l.contains("container-steps timed") && l.starts_with(spinner));
        assert!(lines.count() <= 1, "the live line was not redrawn in place:\n{screen}");
    }
    // After it: the step's start line stays, the summary follows, and
    // nothing of the live display is left.
    assert!(last.contains("EXIT=0"), "{last}");
    assert!(last.contains("[container-steps] step `timed`"), "{last}");
    assert!(last.contains("container-steps 0.1.0: done in"), "{last}");
    assert!(!last.chars().any(spinner), "a spinner was left:\n{last}");
    assert!(!last.contains("\u{1b}") && !last.contains("[2K"), "escape garbage:\n{last}");
    let live_left = last.lines().any(|l| l.contains("container-steps timed ") && !l.contains("step `"));
    assert!(!live_left, "the live line was left:\n{last}");
}

#[test]
fn without_a_terminal_progress_is_plain_lines() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    for extra in [&[][..], &["--progress", "plain"][..]] {
        let run = Run::from(
            hb.command()
                .args(["run", "--opt", "mode=timed", "--source"])
                .arg(root().join("examples/cmake-hello"))
                .arg("--out")
                .arg(out.path())
                .arg(guest("container-steps"))
                .args(extra)
                .output()
                .unwrap(),
        );
        run.expect(0, &["[container-steps] step `timed`"]);
        assert!(!run.stderr.contains('\u{1b}') && !run.stderr.contains('\r'), "{extra:?}: {:?}", run.stderr);
        assert!(!run.stderr.chars().any(spinner), "{extra:?}: {}", run.stderr);
        assert!(run.stderr.lines().all(|l| l.starts_with('[')), "{extra:?}: not one event a line:\n{}", run.stderr);
    }
    // `--progress json` is the JSON-lines events of --json.
    let run = Run::from(
        hb.command()
            .args(["run", "--opt", "mode=true", "--progress", "json", "--source"])
            .arg(root().join("examples/cmake-hello"))
            .arg("--out")
            .arg(out.path())
            .arg(guest("container-steps"))
            .output()
            .unwrap(),
    );
    run.expect(0, &[]);
    for line in run.stderr.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(event["v"], 1, "{line}");
    }
}

#[test]
fn a_publish_reports_its_upload_in_bytes() {
    let hb = Hostbuild::new();
    let (out, store) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let run = Run::from(
        hb.command()
            .args(["run", "--progress", "json", "--publish", "--git-sha", "0123456789abcdef0123456789abcdef01234567"])
            .arg("--store")
            .arg(store.path())
            .arg("--source")
            .arg(root().join("examples/cmake-hello"))
            .arg("--out")
            .arg(out.path())
            .arg(root().join("plugins/armv7.wasm"))
            .output()
            .unwrap(),
    );
    run.expect(0, &[]);
    let uploads: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "progress" && e["task"] == "upload")
        .collect();
    let last = uploads.last().unwrap_or_else(|| panic!("no upload progress:\n{}", run.stderr));
    assert_eq!(last["source"], "armv7");
    assert!(last["total"].as_u64().unwrap() > 10_000, "{last}");
    assert_eq!(last["done"], last["total"], "{last}");
}

/// The `progress` events of `task` in a run's JSON-lines stderr.
fn transfer_events(stderr: &str, task: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "progress" && e["task"] == task)
        .collect()
}

#[test]
fn artifacts_push_and_pull_report_their_bytes() {
    let (root_dir, work) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::create_dir(root_dir.path().join("builds")).unwrap();
    let server = hostbuild_tests::s3s_fs(root_dir.path());
    let hb = Hostbuild::new();
    let size = 40u64 << 20;
    let file = work.path().join("libbig.so");
    std::fs::write(&file, vec![7u8; size as usize]).unwrap();
    let artifacts = |args: &[&str]| {
        let mut cmd = hb.command();
        hostbuild_tests::s3_env(&mut cmd, server.port);
        cmd.current_dir(work.path()).args(["artifacts", "--json", "--store", "s3://builds/ci"]).args(args);
        Run::from(cmd.output().unwrap())
    };
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let pushed = artifacts(&["push", "--git-sha", sha, "--dynamic", "libbig.so"]);
    pushed.expect(0, &[]);
    let up = transfer_events(&pushed.stderr, "upload");
    let last = up.last().unwrap_or_else(|| panic!("no upload progress:\n{}", pushed.stderr));
    assert_eq!((last["done"].as_u64(), last["total"].as_u64()), (Some(size), Some(size)), "{last}");
    assert!(up.iter().all(|e| e["v"] == 1 && e["source"] == "artifacts"));
    let pulled = artifacts(&["pull", "--git-sha", sha, "--dynamic", "out"]);
    pulled.expect(0, &[]);
    let down = transfer_events(&pulled.stderr, "download");
    let last = down.last().unwrap_or_else(|| panic!("no download progress:\n{}", pulled.stderr));
    // The set's files, the manifest and the .meta: at least the library.
    assert!(last["done"].as_u64().unwrap() >= size, "{last}");
    assert!(down.windows(2).all(|w| w[0]["done"].as_u64() <= w[1]["done"].as_u64()), "not monotonic: {down:?}");
}
