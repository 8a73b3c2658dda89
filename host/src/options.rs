//! `--opt [PLUGIN:]KEY=VALUE`: parsed, typed and checked against the options
//! a plugin declares, with defaults filled in.

use crate::description::{kind_text, PlatformInfo};
use crate::model::{OptionKind, OptionValue, TypedValue};

/// A `--opt` the user must fix.
#[derive(Debug, thiserror::Error)]
pub enum OptionError {
    #[error("`--opt {0}` is not of the form KEY=VALUE (or PLUGIN:KEY=VALUE)")]
    Syntax(String),
    #[error("plugin `{plugin}` has no option `{key}`")]
    Unknown { plugin: String, key: String, accepted: String },
    #[error("no plugin in this run has an option `{key}`")]
    UnknownEverywhere { key: String },
    #[error("option `{key}` of plugin `{plugin}` expects {expected}, not `{value}`")]
    BadValue { plugin: String, key: String, value: String, expected: String },
    #[error("option `{key}` is given twice for plugin `{plugin}`")]
    Duplicate { plugin: String, key: String },
}

/// One `--opt` as typed: an optional plugin scope, a key and a raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOption {
    pub plugin: Option<String>,
    pub key: String,
    pub value: String,
}

impl std::str::FromStr for RawOption {
    type Err = OptionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (lhs, value) = s.split_once('=').ok_or_else(|| OptionError::Syntax(s.into()))?;
        let (plugin, key) = match lhs.split_once(':') {
            Some((p, k)) => (Some(p.to_string()), k),
            None => (None, lhs),
        };
        if key.is_empty() || plugin.as_deref() == Some("") {
            return Err(OptionError::Syntax(s.into()));
        }
        Ok(Self { plugin, key: key.into(), value: value.into() })
    }
}

/// Parses `raw` as a value of `kind`; on failure says what was expected.
pub fn parse_value(kind: &OptionKind, raw: &str) -> Result<TypedValue, String> {
    match kind {
        OptionKind::Text => Ok(TypedValue::Text(raw.into())),
        OptionKind::Boolean => match raw.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(TypedValue::Boolean(true)),
            "false" | "no" | "0" | "off" => Ok(TypedValue::Boolean(false)),
            _ => Err("a boolean (true/false)".into()),
        },
        OptionKind::Integer => raw.parse().map(TypedValue::Integer).map_err(|_| "an integer".into()),
        OptionKind::Choice(choices) => match choices.iter().find(|c| *c == raw) {
            Some(c) => Ok(TypedValue::Text(c.clone())),
            None => Err(format!("one of {}", choices.join(", "))),
        },
    }
}

/// The options one plugin receives: each option it declares, from the
/// user's `--opt` (scoped to it, or unscoped) or from its default.
pub fn resolve(info: &PlatformInfo, given: &[RawOption]) -> Result<Vec<OptionValue>, OptionError> {
    let mine: Vec<&RawOption> = given
        .iter()
        .filter(|o| match &o.plugin {
            Some(p) => *p == info.name,
            None => info.options.iter().any(|s| s.name == o.key),
        })
        .collect();
    for (i, o) in mine.iter().enumerate() {
        if !info.options.iter().any(|s| s.name == o.key) {
            return Err(OptionError::Unknown {
                plugin: info.name.clone(),
                key: o.key.clone(),
                accepted: accepted(info),
            });
        }
        if mine[..i].iter().any(|p| p.key == o.key) {
            return Err(OptionError::Duplicate { plugin: info.name.clone(), key: o.key.clone() });
        }
    }
    let mut values = Vec::new();
    for spec in &info.options {
        let raw = mine.iter().find(|o| o.key == spec.name).map(|o| o.value.as_str()).or(spec.default.as_deref());
        let Some(raw) = raw else { continue };
        let value = parse_value(&spec.kind, raw).map_err(|expected| OptionError::BadValue {
            plugin: info.name.clone(),
            key: spec.name.clone(),
            value: raw.into(),
            expected,
        })?;
        values.push(OptionValue { name: spec.name.clone(), value });
    }
    Ok(values)
}

/// Checks that every unscoped `--opt` is accepted by some plugin of the run.
pub fn check_unscoped(infos: &[&PlatformInfo], given: &[RawOption]) -> Result<(), OptionError> {
    for o in given.iter().filter(|o| o.plugin.is_none()) {
        if !infos.iter().any(|i| i.options.iter().any(|s| s.name == o.key)) {
            if let [only] = infos {
                return Err(OptionError::Unknown {
                    plugin: only.name.clone(),
                    key: o.key.clone(),
                    accepted: accepted(only),
                });
            }
            return Err(OptionError::UnknownEverywhere { key: o.key.clone() });
        }
    }
    Ok(())
}

/// The accepted options of a plugin, one per line, for hints.
pub fn accepted(info: &PlatformInfo) -> String {
    if info.options.is_empty() {
        return format!("plugin `{}` accepts no options", info.name);
    }
    let lines: Vec<String> = info
        .options
        .iter()
        .map(|o| {
            let default = o.default.as_ref().map(|d| format!(" [default: {d}]")).unwrap_or_default();
            format!("  {} ({}){default}: {}", o.name, kind_text(&o.kind), o.summary)
        })
        .collect();
    format!("plugin `{}` accepts:\n{}", info.name, lines.join("\n"))
}

impl crate::diagnostics::Diagnose for OptionError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        let hint = match self {
            OptionError::Unknown { accepted, .. } => accepted.clone(),
            OptionError::Syntax(_) => "write options as `--opt build-type=Debug`".into(),
            _ => "`hostbuild inspect PLUGIN` lists every option with its kind and default".into(),
        };
        (ExitStatus::Usage, Some(hint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Capabilities, OptionSpec};

    fn info() -> PlatformInfo {
        let spec = |name: &str, kind, default: Option<&str>| OptionSpec {
            name: name.into(),
            summary: "s".into(),
            kind,
            default: default.map(Into::into),
        };
        PlatformInfo {
            name: "p".into(),
            version: semver::Version::new(1, 0, 0),
            summary: "s".into(),
            options: vec![
                spec("mode", OptionKind::Choice(vec!["a".into(), "b".into()]), Some("a")),
                spec("fast", OptionKind::Boolean, None),
                spec("jobs", OptionKind::Integer, Some("2")),
            ],
            capabilities: Capabilities::default(),
        }
    }

    fn raw(s: &str) -> RawOption {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_and_values() {
        let v = resolve(&info(), &[raw("fast=yes"), raw("p:mode=b")]).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].value, TypedValue::Text("b".into()));
        assert_eq!(v[1].value, TypedValue::Boolean(true));
        assert_eq!(v[2].value, TypedValue::Integer(2));
        assert_eq!(resolve(&info(), &[raw("other:mode=zzz")]).unwrap().len(), 2);
    }

    #[test]
    fn refusals() {
        assert!(matches!("novalue".parse::<RawOption>(), Err(OptionError::Syntax(_))));
        assert!(matches!(":k=v".parse::<RawOption>(), Err(OptionError::Syntax(_))));
        assert!(matches!(resolve(&info(), &[raw("p:nope=1")]), Err(OptionError::Unknown { .. })));
        assert!(matches!(resolve(&info(), &[raw("jobs=many")]), Err(OptionError::BadValue { .. })));
        assert!(matches!(resolve(&info(), &[raw("mode=c")]), Err(OptionError::BadValue { .. })));
        assert!(matches!(resolve(&info(), &[raw("fast=1"), raw("fast=0")]), Err(OptionError::Duplicate { .. })));
        let i = info();
        assert!(matches!(check_unscoped(&[&i], &[raw("nope=1")]), Err(OptionError::Unknown { .. })));
    }
}
