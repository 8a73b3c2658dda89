//! The CI step summary (`GITHUB_STEP_SUMMARY`) shows plugin text on the CI's
//! web page: a plugin whose notes, step names, artifact name and properties
//! carry Markdown and HTML (a tracking image, links, a script, new table
//! rows, a heading) must not change the page's structure or add anything
//! that loads or links: every piece is escaped, one line, cut to a length.

use hostbuild_tests::{guest, root, Hostbuild};

/// Occurrences of `c` not escaped by a backslash (which escapes itself).
fn unescaped(line: &str, c: char) -> usize {
    let mut chars = line.chars();
    let mut n = 0;
    while let Some(x) = chars.next() {
        match x {
            '\\' => {
                chars.next();
            }
            x if x == c => n += 1,
            _ => {}
        }
    }
    n
}

#[test]
fn plugin_text_in_the_step_summary_is_inert() {
    let hb = Hostbuild::new();
    let out = tempfile::tempdir().unwrap();
    let summary = out.path().join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let run = hb
        .command()
        .arg("run")
        .arg(guest("hostile-summary"))
        .arg("--source")
        .arg(root().join("examples/cmake-hello"))
        .arg("--out")
        .arg(out.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    hostbuild_tests::Run::from(run).expect(0, &[]);

    let text = std::fs::read_to_string(&summary).unwrap();
    let section = text.strip_prefix("earlier step\n").expect("appended after what earlier steps wrote");
    assert!(section.starts_with("### hostbuild run\n"), "{section}");
    assert!(section.contains("| hostile\\-summary | 0\\.1\\.0 | 1 | - | 1 |"), "{section}");
    assert!(section.len() < 4096, "plugin text is cut: {} bytes", section.len());
    for line in section.lines().skip(1) {
        // The host's own markup: `**platform** · note · note`.
        let bold = line.strip_prefix("**").and_then(|l| l.split_once("**")).map(|(name, rest)| name.to_owned() + rest);
        for c in ['<', '>', '[', ']', '(', ')', '!', '#', '`', '*', '_'] {
            assert_eq!(unescaped(bold.as_deref().unwrap_or(line), c), 0, "unescaped {c:?} in {line}");
        }
        // Rows keep their columns: 6 in the platform table, 4 in the artifact table.
        if line.starts_with('|') {
            let pipes = unescaped(line, '|');
            assert!(pipes == 7 || pipes == 5, "a row with {pipes} cell borders: {line}");
        }
        assert!(!line.starts_with("| fake"), "a table row was injected: {line}");
    }
    assert!(section.contains("lib\\|x\\<img src\\=x"), "the artifact is shown, escaped: {section}");
}
