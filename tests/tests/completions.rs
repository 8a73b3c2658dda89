//! Shell completions and man pages, generated from the command line's
//! definitions: bash loads the script and completes with it; zsh and fish
//! scripts name every subcommand; the man pages render with man(1).

use std::process::Command;

use hostbuild_tests::Hostbuild;

const SUBCOMMANDS: &[&str] = &["run", "inspect", "new", "list", "plugins", "artifacts", "completions", "man"];

#[test]
fn bash_loads_the_completion_script_and_completes_with_it() {
    let hb = Hostbuild::new();
    let script = hb.run(["completions", "bash"]);
    script.expect(0, &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hostbuild.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    // Load it as bash-completion would, then ask it what follows `hostbuild ru`
    // and `hostbuild new x --template`.
    let probe = r#"
        set -e
        source "$1"
        complete -p hostbuild
        COMP_WORDS=(hostbuild ru); COMP_CWORD=1; COMP_LINE="hostbuild ru"; COMP_POINT=${#COMP_LINE}
        _hostbuild hostbuild ru hostbuild
        echo "subcommands: ${COMPREPLY[*]}"
        COMP_WORDS=(hostbuild new x --template ""); COMP_CWORD=4; COMP_LINE="hostbuild new x --template "
        COMP_POINT=${#COMP_LINE}
        _hostbuild hostbuild "" --template
        echo "templates: ${COMPREPLY[*]}"
    "#;
    let out = Command::new("bash").args(["-c", probe, "probe"]).arg(&file).output().expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bash refused the script: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("-F _hostbuild hostbuild"), "{stdout}");
    assert!(stdout.contains("subcommands: run\n"), "{stdout}");
    assert!(stdout.contains("templates: cmake wheel image\n"), "{stdout}");
}

#[test]
fn zsh_and_fish_scripts_name_every_subcommand() {
    let hb = Hostbuild::new();
    for (shell, first_line) in [("zsh", "#compdef hostbuild"), ("fish", "")] {
        let script = hb.run(["completions", shell]);
        script.expect(0, &[]);
        assert!(script.stdout.starts_with(first_line), "{shell}:\n{}", script.stdout);
        for sub in SUBCOMMANDS {
            assert!(script.stdout.contains(sub), "the {shell} script lacks `{sub}`");
        }
    }
    hb.run(["completions", "tcsh"]).expect(2, &["possible values"]);
}

#[test]
fn man_pages_render_with_man() {
    let hb = Hostbuild::new();
    let page = hb.run(["man"]);
    page.expect(0, &[]);
    assert!(page.stdout.contains(".TH hostbuild 1"), "{}", page.stdout);
    let dir = tempfile::tempdir().unwrap();
    hb.run(["man".as_ref(), "--dir".as_ref(), dir.path().as_os_str()]).expect(0, &[]);
    for sub in SUBCOMMANDS {
        assert!(dir.path().join(format!("hostbuild-{sub}.1")).is_file(), "no page for {sub}");
    }
    let out = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("hostbuild.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .expect("man runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "man failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("SUBCOMMANDS") && text.contains("hostbuild-new(1)"), "{text}");
}
