//! The run summary as Markdown for a CI job's page: where the CI names a
//! step summary file (`GITHUB_STEP_SUMMARY` on GitHub Actions), `run`
//! appends one section per run to it: the platforms with their tests and
//! times, then each platform's artifacts with size and sha256.
//!
//! Names, paths, notes and properties come from plugins, so every piece of
//! their text is escaped (no links, images, HTML or table breaks) and cut to
//! a length, and a platform shows at most [`MAX_ROWS`] artifacts.

use std::io::Write as _;
use std::path::Path;

use super::summary::{ArtifactSummary, PlatformSummary};
use crate::units::readable;

/// The variable GitHub Actions sets to the job step's summary file.
pub const ENV: &str = "GITHUB_STEP_SUMMARY";

/// Artifacts (and notes, and sets) listed per platform; the rest are counted.
pub const MAX_ROWS: usize = 50;

/// Longest piece of plugin text shown, in characters.
const MAX_TEXT: usize = 120;

/// The file named by [`ENV`], when it is set and not empty.
pub fn file_from_env() -> Option<std::path::PathBuf> {
    std::env::var_os(ENV).filter(|v| !v.is_empty()).map(Into::into)
}

/// Appends the Markdown of `summaries` to `path` (created if missing), as
/// GitHub expects: each step adds to what earlier steps wrote.
pub fn append(path: &Path, summaries: &[PlatformSummary]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(render(summaries).as_bytes())
}

/// The Markdown section for one `hostbuild run`.
pub fn render(summaries: &[PlatformSummary]) -> String {
    let mut md = String::from("### hostbuild run\n\n| platform | version | steps | tests | artifacts | time |\n");
    md.push_str("| --- | --- | --- | --- | --- | ---: |\n");
    for s in summaries {
        let tests = match &s.tests {
            Some(t) => format!("{} passed, {} failed, {} skipped", t.passed, t.failed, t.skipped),
            None => "-".into(),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {tests} | {} | {:.1} s |\n",
            text(&s.name),
            text(&s.version),
            s.steps.len(),
            s.artifacts.len(),
            s.duration_ms as f64 / 1000.0
        ));
    }
    for s in summaries {
        md.push_str(&format!("\n**{}**", text(&s.name)));
        for note in s.notes.iter().take(MAX_ROWS) {
            md.push_str(&format!(" · {}", text(note)));
        }
        md.push_str("\n\n");
        if s.artifacts.is_empty() {
            md.push_str("no artifacts\n");
            continue;
        }
        md.push_str("| role | artifact | size | sha256 / digest |\n| --- | --- | ---: | --- |\n");
        for a in s.artifacts.iter().take(MAX_ROWS) {
            md.push_str(&match a {
                ArtifactSummary::File { path, role, size, sha256, .. } => {
                    let role = serde_json::to_value(role).ok().and_then(|v| v.as_str().map(String::from));
                    format!(
                        "| {} | {} | {} | {} |\n",
                        role.unwrap_or_default(),
                        text(path),
                        readable(*size),
                        text(sha256.get(..12).unwrap_or(sha256))
                    )
                }
                ArtifactSummary::Image(i) => format!(
                    "| image | {} on {} | | {} |\n",
                    text(&i.path),
                    text(&i.platform),
                    i.digest.as_deref().map_or_else(|| "tagged, not pushed".into(), text)
                ),
            });
        }
        if s.artifacts.len() > MAX_ROWS {
            md.push_str(&format!("\n… and {} more\n", s.artifacts.len() - MAX_ROWS));
        }
        for set in s.published.iter().take(MAX_ROWS) {
            md.push_str(&format!("\npublished: {}\n", text(set)));
        }
    }
    md.push('\n');
    md
}

/// Plugin text made inert: at most [`MAX_TEXT`] characters on one line,
/// every ASCII punctuation character backslash-escaped (CommonMark then
/// shows it as itself: no emphasis, link, image, HTML or `|` cell break).
fn text(raw: &str) -> String {
    let mut out = String::new();
    for (i, c) in raw.chars().enumerate() {
        if i == MAX_TEXT {
            out.push('…');
            break;
        }
        match c {
            c if c.is_control() => out.push(' '),
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_text_cannot_become_markup() {
        let hostile = "x|y <img src=https://evil.example/p.png> [a](https://evil.example) **b** `c`\n| new row";
        let shown = text(hostile);
        assert!(!shown.contains('\n'));
        // Every punctuation character is escaped, so none starts markup.
        let mut chars = shown.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' {
                assert!(chars.next().is_some_and(|n| n.is_ascii_punctuation()));
            } else {
                assert!(!c.is_ascii_punctuation(), "unescaped {c:?} in {shown}");
            }
        }
        assert!(text(&"a".repeat(1000)).chars().count() <= MAX_TEXT + 1);
    }
}
