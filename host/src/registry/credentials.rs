//! Registry credentials from the docker config (`$DOCKER_CONFIG/config.json`,
//! else `~/.docker/config.json`): the `auth` of `auths.<registry>`, as
//! `docker login` writes it. Credential helpers are not consulted.

use base64::Engine as _;

/// A user name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Basic {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Basic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Basic({}, <password>)", self.username)
    }
}

/// The registry part of an image reference: `localhost:5000` of
/// `localhost:5000/team/env:tag`, `docker.io` when there is none.
pub fn registry_of(reference: &str) -> String {
    match reference.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => first.to_string(),
        _ => "docker.io".to_string(),
    }
}

/// The credentials `docker login` stored for `registry`, if any.
pub fn lookup(registry: &str) -> Option<Basic> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".docker")))?;
    lookup_in(&dir, registry)
}

fn lookup_in(dir: &std::path::Path, registry: &str) -> Option<Basic> {
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).ok()?).ok()?;
    let auths = config.get("auths")?;
    let keys = [registry.to_string(), format!("https://{registry}"), "https://index.docker.io/v1/".to_string()];
    let entry = keys.iter().take(if registry == "docker.io" { 3 } else { 2 }).find_map(|k| auths.get(k))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(entry.get("auth")?.as_str()?).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(Basic { username: username.into(), password: password.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_of_a_reference() {
        assert_eq!(registry_of("localhost:5000/team/env:1"), "localhost:5000");
        assert_eq!(registry_of("registry.example/env:1"), "registry.example");
        assert_eq!(registry_of("determinedai/environments:py-3.11"), "docker.io");
        assert_eq!(registry_of("ubuntu"), "docker.io");
    }

    #[test]
    fn reads_docker_login_auths_and_hides_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
        std::fs::write(
            dir.path().join("config.json"),
            format!(r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let found = lookup_in(dir.path(), "127.0.0.1:5000").unwrap();
        assert_eq!((found.username.as_str(), found.password.as_str()), ("ci", "s3cret"));
        assert!(!format!("{found:?}").contains("s3cret"));
        assert!(lookup_in(dir.path(), "other:5000").is_none());
    }
}
