//! What commands print on stdout: a typed summary, as text for people or,
//! with `--json`, as one JSON document with the same fields.

use serde::Serialize;

/// A command's result, printable both ways.
pub trait Summary: Serialize {
    /// JSON on one line rather than pretty (`clean` and `cache clear` have
    /// always printed one line; scripts may read it that way).
    const ONE_LINE: bool = false;

    /// The text form, on stdout.
    fn print_text(&self);
}

/// Prints `summary` as JSON or as text.
pub fn print<S: Summary>(summary: &S, json: bool) -> anyhow::Result<()> {
    if json && S::ONE_LINE {
        println!("{}", serde_json::to_string(summary)?);
    } else if json {
        println!("{}", serde_json::to_string_pretty(summary)?);
    } else {
        summary.print_text();
    }
    Ok(())
}
