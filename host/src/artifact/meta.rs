//! `<name>.meta`: a property file beside each primary file, as MXNet's
//! artifact repository writes it, extended with checksums.

use std::collections::BTreeMap;

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
}
