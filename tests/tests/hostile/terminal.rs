//! Hole 12: what a plugin or its steps print reaches the terminal (and CI
//! logs, and `--json`) with escape sequences removed and control characters
//! made visible: no title rewrite, no cleared screen, no clipboard write.
//! The hostile-terminal guest attacks through every other channel too: its
//! description (`inspect`), progress, an image build's output, a failing
//! step's last lines (the error hint) and its own error message, on a pipe,
//! in `--json` and on a real pseudo-terminal.

use std::process::{Command, Stdio};
use std::time::Duration;

use hostbuild_tests::{containers_with, docker, guest, unique, Hostbuild, Run};

use super::common::run_guest;

#[test]
fn escape_sequences_never_reach_the_terminal() {
    let hb = Hostbuild::new();
    let (src, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for json in [false, true] {
        let mut args = vec!["--opt", "attack=escapes"];
        if json {
            args.push("--json");
        }
        let run = run_guest(&hb, "hostile-files", src.path(), out.path(), &args, &[], Duration::from_secs(300));
        run.expect(0, &[]);
        for (name, text) in [("stderr", &run.stderr), ("stdout", &run.stdout)] {
            let raw: Vec<char> = text.chars().filter(|c| c.is_control() && *c != '\n' && *c != '\t').collect();
            assert!(raw.is_empty(), "{name} holds raw control characters {raw:?}:\n{text}");
            assert!(!text.contains("\\u001b") && !text.contains("\\u0007"), "{name} holds escaped controls:\n{text}");
        }
        assert!(run.stderr.contains("plugin says hi^H^H^G"), "{}", run.stderr);
        // A carriage return hides nothing: both halves are shown.
        assert!(run.stderr.contains("gone^Mshown"), "{}", run.stderr);
        assert!(!run.stderr.contains("pwned"), "the title sequence reached the log:\n{}", run.stderr);
        assert!(run.stdout.contains("blinking note"), "{}", run.stdout);
    }
}

/// Every channel the guest attacks through; each payload names its channel.
const CHANNELS: &[&str] = &["log-info", "log-warn", "progress", "step-output", "image-build"];

/// What must never appear raw: the attack's sequences and controls.
const RAW: &[(&str, &str)] =
    &[("ESC", "\x1b"), ("BEL", "\x07"), ("backspace", "\x08"), ("8-bit CSI", "\u{9b}"), ("8-bit OSC", "\u{9d}")];

fn assert_no_raw(what: &str, text: &str) {
    for (name, raw) in RAW {
        assert!(!text.contains(raw), "{what} holds a raw {name}:\n{}", text.escape_debug());
    }
}

/// The images a run built (from `-v` output), removed after the test: each
/// run builds a new one, so that the image build prints.
struct BuiltImages(Vec<String>);

impl BuiltImages {
    fn note(&mut self, output: &str) {
        let reference = |s: &str| -> String {
            s.chars().take_while(|c| c.is_ascii_alphanumeric() || "/:.-_".contains(*c)).collect()
        };
        self.0.extend(output.split("Successfully tagged ").skip(1).map(reference));
    }
}

impl Drop for BuiltImages {
    fn drop(&mut self) {
        for image in &self.0 {
            let _ = Command::new("docker").args(["rmi", image]).output();
        }
    }
}

/// The tests check that no container of the plugin is left: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn attack(hb: &Hostbuild, dir: &std::path::Path, ending: &str, extra: &[&str]) -> Command {
    let mut cmd = hb.command();
    cmd.current_dir(dir).args(["-v", "run"]).arg(guest("hostile-terminal")).args([
        "--source",
        ".",
        "--out",
        ".",
        "--opt",
        &format!("ending={ending}"),
        "--opt",
        &format!("nonce={}", unique()),
    ]);
    cmd.args(extra);
    cmd
}

#[test]
fn escapes_never_reach_stderr_raw() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (hb, dir, mut images) = (Hostbuild::new(), tempfile::tempdir().unwrap(), BuiltImages(Vec::new()));
    let run = Run::from(attack(&hb, dir.path(), "step", &[]).output().unwrap());
    images.note(&run.stderr);
    // The failing step's tail comes back in the hint.
    run.expect(7, &["step `fail` exited with status 3", "hint: last lines of `fail`:"]);
    assert_no_raw("stderr", &run.stderr);
    assert_no_raw("stdout", &run.stdout);
    for channel in CHANNELS.iter().chain(&["step-tail"]) {
        // Shown, without its escapes, and with the hiding backspaces visible.
        assert!(
            run.stderr.contains(&format!("via-{channel}link hidden-{channel}^H^H^H^H^H^Hfake-ok^G")),
            "{channel} missing or not neutralised:\n{}",
            run.stderr
        );
    }
    let hint = run.stderr.split("hint: ").nth(1).unwrap_or_default();
    assert!(hint.contains("via-step-taillink hidden-step-tail^H"), "{hint}");
    assert!(containers_with("hostbuild.plugin=hostile-terminal").is_empty());
}

/// No string in `value` holds a control character but `\n` and `\t`.
fn assert_no_controls(value: &serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            assert!(!s.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{}", s.escape_debug())
        }
        serde_json::Value::Array(items) => items.iter().for_each(assert_no_controls),
        serde_json::Value::Object(map) => map.values().for_each(assert_no_controls),
        _ => {}
    }
}

#[test]
fn escapes_never_reach_json_events_or_the_error_object() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let (hb, dir, mut images) = (Hostbuild::new(), tempfile::tempdir().unwrap(), BuiltImages(Vec::new()));
    let run = Run::from(attack(&hb, dir.path(), "error", &["--json"]).output().unwrap());
    images.note(&run.stderr);
    run.expect(6, &["via-plugin-error"]);
    assert_no_raw("stderr", &run.stderr);
    let mut seen = String::new();
    for line in run.stderr.lines() {
        let event: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON event ({e}): {line}"));
        // JSON may carry a control character escaped (`\u001b`): none may
        // be in any string of the event, once parsed.
        assert_no_controls(&event);
        // Every event names its schema version (README, "JSON events").
        assert_eq!(event["v"], 1, "{line}");
        assert!(["log", "progress", "error"].contains(&event["type"].as_str().unwrap_or_default()), "{line}");
        seen.push_str(&event.to_string());
    }
    for channel in CHANNELS.iter().chain(&["plugin-error"]) {
        assert!(seen.contains(&format!("via-{channel}link hidden-{channel}^H")), "{channel}:\n{seen}");
    }
    let error: serde_json::Value = serde_json::from_str(run.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(error["type"], "error");
    assert!(error["error"]["message"].as_str().unwrap().contains("via-plugin-errorlink hidden-plugin-error^H"));
}

/// The live display's own control sequences: carriage return, erase line
/// (`ESC[2K`, `ESC[K`), cursor up/down/column (`ESC[nA`, `ESC[nB`,
/// `ESC[nG`) and showing or hiding the cursor. The attack uses none of them,
/// and the plugin's text has lost every sequence before it is drawn.
fn without_live_sequences(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let csi = tail.strip_prefix("\x1b[").map(|t| {
            let private = t.starts_with('?');
            let digits = t.trim_start_matches('?').chars().take_while(char::is_ascii_digit).count();
            (private, t[usize::from(private) + digits..].chars().next(), usize::from(private) + digits)
        });
        match csi {
            Some((false, Some('A' | 'B' | 'K' | 'G'), n)) => rest = &tail[2 + n + 1..],
            Some((true, Some('h' | 'l'), n)) if tail[2..].starts_with("?25") => rest = &tail[2 + n + 1..],
            _ => {
                out.push('\x1b');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out.replace('\r', "")
}

#[test]
fn escapes_never_reach_a_terminal_raw() {
    for progress in ["plain", "tty"] {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let (hb, dir, mut images) = (Hostbuild::new(), tempfile::tempdir().unwrap(), BuiltImages(Vec::new()));
        // A real terminal: `script` runs hostbuild on a pseudo-terminal and
        // copies everything written to it (stdout and stderr) to its stdout.
        let inner = attack(&hb, dir.path(), "success", &["--progress", progress]);
        let mut line = vec![inner.get_program().to_string_lossy().into_owned()];
        line.extend(inner.get_args().map(|a| format!("'{}'", a.to_string_lossy())));
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c", &line.join(" "), "/dev/null"]).current_dir(dir.path()).stdin(Stdio::null());
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let run = Run::from(cmd.output().unwrap());
        images.note(&run.stdout);
        assert_eq!(run.code, 0, "{}", run.stdout);
        // The terminal turns `\n` into `\r\n`. Plain progress on a terminal
        // rewrites its line with `\r ESC[2K`; the live display draws with
        // the sequences above: only those remain.
        let ours = match progress {
            "plain" => run.stdout.replace("\r\x1b[2K", "").replace("\r\n", "\n"),
            _ => without_live_sequences(&run.stdout),
        };
        assert_no_raw(&format!("the terminal ({progress})"), &ours);
        assert!(!ours.contains('\r'), "a raw carriage return:\n{}", ours.escape_debug());
        // The live display shows a plugin's progress only in place, redrawn
        // ten times a second: it may never be drawn. Every line is printed.
        let shown = CHANNELS.iter().filter(|c| progress == "plain" || **c != "progress");
        for channel in shown.chain(&["report-note"]) {
            assert!(ours.contains(&format!("via-{channel}link hidden-{channel}^H")), "{progress}, {channel}:\n{ours}");
        }
        assert!(docker(&["ps", "-aq", "--filter", "label=hostbuild.plugin=hostile-terminal"]).trim().is_empty());
    }
}

#[test]
fn a_description_never_reaches_the_terminal_raw() {
    let run = Hostbuild::new().run(["inspect", guest("hostile-terminal").to_str().unwrap(), "--images"]);
    run.expect(0, &[]);
    assert_no_raw("inspect", &run.stdout);
    assert!(run.stdout.contains("via-describelink hidden-describe^H^H^H^H^H^Hfake-ok^G"), "{}", run.stdout);
}
