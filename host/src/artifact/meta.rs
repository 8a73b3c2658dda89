//! `<name>.meta`: a property file beside each primary file, as MXNet's
//! artifact repository writes it, extended with checksums; and
//! `libmxnet.meta`, the YAML file MXNet CD's tool writes into every
//! directory it pulls a set into.

use std::collections::BTreeMap;

use super::layout::SetId;

/// The file MXNet CD's tool writes beside what it pulled.
pub const LIBMXNET_META: &str = "libmxnet.meta";

/// Renders `key=value` lines, sorted by key.
pub fn render(properties: &BTreeMap<String, String>) -> String {
    properties.iter().map(|(k, v)| format!("{k}={}\n", v.replace('\n', " "))).collect()
}

/// Parses `key=value` lines; blank lines and `#` comments are skipped.
pub fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_string(), v.trim().to_string())))
        .collect()
}

/// `libmxnet.meta` as MXNet CD's tool writes it (`yaml.dump` of variant, os,
/// commit_id and dependency_linking: keys sorted, block style).
pub fn libmxnet_meta(id: &SetId) -> String {
    let entries = [
        ("commit_id", id.commit.as_str()),
        ("dependency_linking", id.linkage.as_str()),
        ("os", id.os.as_str()),
        ("variant", id.variant.as_str()),
    ];
    entries.iter().map(|(k, v)| format!("{k}: {}\n", yaml_string(v))).collect()
}

/// A YAML scalar that reads back as the string `value` (a set's segments:
/// letters, digits and `._-+`): plain when nothing else could be read from
/// it, else single-quoted (`1234567` is an integer, `yes` a boolean).
fn yaml_string(value: &str) -> String {
    let plain = value.starts_with(|c: char| c.is_ascii_alphabetic())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
        && !["y", "n", "yes", "no", "true", "false", "on", "off", "null"]
            .contains(&value.to_ascii_lowercase().as_str());
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let mut p = std::collections::BTreeMap::new();
        p.insert("commit".to_string(), "abc".to_string());
        p.insert("os".to_string(), "debian12".to_string());
        let text = super::render(&p);
        assert_eq!(text, "commit=abc\nos=debian12\n");
        assert_eq!(super::parse(&format!("# c\n{text}\n")), p);
    }

    #[test]
    fn libmxnet_meta_is_the_tools_yaml() {
        use crate::artifact::layout::{Linkage, SetId};
        let id = SetId {
            commit: "abcd1234".into(),
            os: "ubuntu16.04".into(),
            variant: "cu102".into(),
            linkage: Linkage::Static,
        };
        assert_eq!(
            super::libmxnet_meta(&id),
            "commit_id: abcd1234\ndependency_linking: static\nos: ubuntu16.04\nvariant: cu102\n"
        );
        let id = SetId { commit: "1234567".into(), os: "yes".into(), variant: "1.5".into(), linkage: Linkage::Dynamic };
        assert_eq!(
            super::libmxnet_meta(&id),
            "commit_id: '1234567'\ndependency_linking: dynamic\nos: 'yes'\nvariant: '1.5'\n"
        );
    }
}
