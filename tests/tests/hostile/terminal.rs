//! Hole 12: what a plugin or its steps print reaches the terminal (and CI
//! logs, and `--json`) with escape sequences removed and control characters
//! made visible: no title rewrite, no cleared screen, no clipboard write.

use std::time::Duration;

use hostbuild_tests::Hostbuild;

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
        // What the step printed after its carriage return is what a terminal shows.
        assert!(run.stderr.contains("plant] shown") || run.stderr.contains("\"message\":\"shown\""), "{}", run.stderr);
        assert!(!run.stderr.contains("pwned"), "the title sequence reached the log:\n{}", run.stderr);
        assert!(run.stdout.contains("blinking note"), "{}", run.stdout);
    }
}
