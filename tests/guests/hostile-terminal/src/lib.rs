//! Tries to take over the user's terminal through every channel that
//! reaches it: its description (`inspect`), log lines, progress, a step's
//! output, an image build's output, the tail of a failing step (an error
//! hint), its own error message and the notes of its report. Each carries a colour, a
//! clear-screen, an OSC window title and hyperlink, backspaces hiding text
//! and a BEL; every payload names its channel (`via-...`) so the test can
//! tell which one leaked.
use hostbuild_sdk::*;

struct HostileTerminal;

/// The attack, around a channel's name: what the terminal would show is
/// `fake-ok` (the backspaces erase the name), with a new window title.
fn payload(channel: &str) -> String {
    format!(
        "\x1b[31mvia-{channel}\x1b[0m\x1b[2J\x1b[H\x1b]0;pwned-title-{channel}\x07\
         \x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\ hidden-{channel}\x08\x08\x08\x08\x08\x08fake-ok\x07"
    )
}

/// The same attack for `sh -c "printf ..."` (octal escapes).
fn shell_payload(channel: &str) -> String {
    format!(
        "printf '\\033[31mvia-{channel}\\033[0m\\033[2J\\033[H\\033]0;pwned-title-{channel}\\007\
         \\033]8;;https://evil.example/\\033\\\\link\\033]8;;\\033\\\\ hidden-{channel}\\010\\010\\010\\010\\010\\010fake-ok\\007\\n'"
    )
}

impl Platform for HostileTerminal {
    fn describe() -> Description {
        Description::new("hostile-terminal", "0.1.0", &payload("describe"))
            .option(OptionSpec::choice("ending", "How the run ends", &["step", "error", "success"]).default("step"))
            .option(OptionSpec::text("nonce", "Makes the image recipe new, so it is built (and prints)").default(""))
            .needs_container()
    }

    fn image(options: &Options) -> Result<Vec<ImageRecipe>> {
        // The nonce is used before the RUN line, so the engine's layer cache
        // never skips it.
        let run = format!("ARG NONCE\nRUN echo \"$NONCE\" > /dev/null; {}", shell_payload("image-build"));
        Ok(vec![ImageRecipe::new("main", "hostbuild/bookworm:amd64")
            .run(&run)
            .build_arg("NONCE", options.text("nonce").unwrap_or(""))])
    }

    fn build(ctx: &Context) -> Result<BuildReport> {
        host::info(&payload("log-info"));
        host::warn(&payload("log-warn"));
        host::progress(&payload("progress"), 1, Some(2));
        host::progress(&payload("progress"), 2, Some(2));
        let step = |name: &str, script: String| Step::new(name, "main", ["sh", "-c", &script]);
        step("print", shell_payload("step-output")).run_checked()?;
        let report = BuildReport::new().step("print").note(&payload("report-note"));
        match ctx.options.text("ending").unwrap_or("step") {
            "step" => {
                step("fail", format!("{}; exit 3", shell_payload("step-tail"))).run_checked()?;
                Ok(report)
            }
            "error" => Err(Error::failed(payload("plugin-error"))),
            _ => Ok(report),
        }
    }

    fn detect_artifacts(_: &Context) -> Result<Vec<Artifact>> {
        Ok(Vec::new())
    }
}

export_platform!(HostileTerminal);
