//! A plugin's `describe()` answer, checked: what `inspect` shows and what
//! `run` trusts. Malformed answers are refused here with the exact problem.

use semver::Version;
use serde::Serialize;

use crate::model::{Capabilities, Description, OptionKind, OptionSpec};
use crate::options::parse_value;

/// A validated description.
#[derive(Debug, Clone)]
pub struct PlatformInfo {
    pub name: String,
    pub version: Version,
    pub summary: String,
    pub options: Vec<OptionSpec>,
    pub capabilities: Capabilities,
}

/// Checks every field a plugin returned from `describe`.
pub fn validate(d: Description) -> Result<PlatformInfo, String> {
    if !is_platform_name(&d.name) {
        return Err(format!("name `{}` must be kebab-case ([a-z0-9-], at most 64 characters)", d.name));
    }
    let version =
        Version::parse(&d.version).map_err(|e| format!("version `{}` is not semantic versioning: {e}", d.version))?;
    if d.summary.trim().is_empty() || d.summary.contains('\n') {
        return Err("summary must be one non-empty line".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for o in &d.options {
        if !is_kebab(&o.name) {
            return Err(format!("option name `{}` must be kebab-case", o.name));
        }
        if !seen.insert(o.name.as_str()) {
            return Err(format!("option `{}` is declared twice", o.name));
        }
        if let OptionKind::Choice(c) = &o.kind {
            if c.is_empty() {
                return Err(format!("option `{}` is a choice with no choices", o.name));
            }
        }
        if let Some(default) = &o.default {
            parse_value(&o.kind, default)
                .map_err(|expected| format!("default `{default}` of option `{}` is not {expected}", o.name))?;
        }
    }
    for var in &d.capabilities.env_vars {
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("environment variable name `{var}` is not valid"));
        }
    }
    Ok(PlatformInfo { name: d.name, version, summary: d.summary, options: d.options, capabilities: d.capabilities })
}

/// What a platform may be called: kebab-case, at most 64 characters.
pub fn is_platform_name(name: &str) -> bool {
    is_kebab(name) && name.len() <= 64
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// How an option kind is written for people.
pub fn kind_text(kind: &OptionKind) -> String {
    match kind {
        OptionKind::Text => "text".into(),
        OptionKind::Boolean => "boolean".into(),
        OptionKind::Integer => "integer".into(),
        OptionKind::Choice(c) => format!("one of {}", c.join("|")),
    }
}

/// Capabilities as short words, e.g. `container, emulation:arm, gpu` (the
/// grant words; declared variables are listed apart).
pub fn capability_words(c: &Capabilities) -> Vec<String> {
    use crate::project::grants::{Grant, Grants};
    let mut declared = Grants { env: Vec::new(), ..Grants::all_of(c) }.list();
    // Shown with emulation right after `container` (a stable sort).
    declared.sort_by_key(|g| match g {
        Grant::Container => 0,
        Grant::Emulation(_) => 1,
        _ => 2,
    });
    declared.iter().map(Grant::to_string).collect()
}

/// The JSON form used by `inspect --json`.
#[derive(Serialize)]
pub struct OptionJson {
    pub name: String,
    pub summary: String,
    pub kind: String,
    pub choices: Vec<String>,
    pub default: Option<String>,
}

impl PlatformInfo {
    pub fn options_json(&self) -> Vec<OptionJson> {
        self.options
            .iter()
            .map(|o| OptionJson {
                name: o.name.clone(),
                summary: o.summary.clone(),
                kind: match &o.kind {
                    OptionKind::Text => "text",
                    OptionKind::Boolean => "boolean",
                    OptionKind::Integer => "integer",
                    OptionKind::Choice(_) => "choice",
                }
                .into(),
                choices: match &o.kind {
                    OptionKind::Choice(c) => c.clone(),
                    _ => Vec::new(),
                },
                default: o.default.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc() -> Description {
        Description {
            name: "armv7".into(),
            version: "0.1.0".into(),
            summary: "builds".into(),
            options: vec![OptionSpec {
                name: "build-type".into(),
                summary: "s".into(),
                kind: OptionKind::Choice(vec!["Debug".into(), "Release".into()]),
                default: Some("Release".into()),
            }],
            capabilities: Capabilities { container: true, emulation: vec!["arm".into()], ..Capabilities::default() },
        }
    }

    #[test]
    fn accepts_a_good_description() {
        let info = validate(desc()).unwrap();
        assert_eq!(info.version, Version::new(0, 1, 0));
        assert_eq!(capability_words(&info.capabilities), ["container", "emulation:arm"]);
    }

    #[test]
    fn refuses_each_malformed_field() {
        type Mutation = fn(&mut Description);
        let cases: Vec<(Mutation, &str)> = vec![
            (|d| d.name = "Arm V7".into(), "kebab-case"),
            (|d| d.version = "one.two".into(), "semantic versioning"),
            (|d| d.summary = "".into(), "summary"),
            (|d| d.options.push(d.options[0].clone()), "declared twice"),
            (|d| d.options[0].default = Some("Fast".into()), "default `Fast`"),
            (|d| d.capabilities.env_vars.push("A=B".into()), "not valid"),
        ];
        for (mutate, expected) in cases {
            let mut d = desc();
            mutate(&mut d);
            let err = validate(d).unwrap_err();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }
}
