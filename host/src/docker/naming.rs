//! Names of what hostbuild keeps for a plugin between runs (cache volumes,
//! recipe images, store prefixes), keyed by the plugin's name and identity
//! so a same-named plugin from elsewhere never shares them.

use sha2::{Digest, Sha256};

/// The label of cache volumes; its value is the platform's name, so
/// `hostbuild cache clear PLATFORM` finds every identity's volume.
pub const LABEL_CACHE: &str = "hostbuild.cache";

/// hostbuild's own image for the containers it needs itself (preparing a
/// cache volume): the offline base image `cargo xtask images` makes, never
/// a plugin's image. Plugins cannot retag anything under `hostbuild/`.
pub const HELPER_IMAGE: &str = "hostbuild/bookworm:amd64";

/// The name of a plugin's cache volume.
pub fn cache_volume(plugin_key: &str) -> String {
    format!("hostbuild-cache-{plugin_key}")
}

/// `<name>-<12 hex digits of the identity's sha256>`; the identity is the
/// project's source for the plugin, or the sha256 of a file given directly
/// (`project::resolve::Resolved::identity`).
pub fn plugin_key(name: &str, identity: &str) -> String {
    let digest = hex::encode(Sha256::digest(identity.as_bytes()));
    format!("{name}-{}", &digest[..12])
}

/// The plugin name in a key (`armv7` of `armv7-0123456789ab`); a key of an
/// older hostbuild is the bare name.
pub fn name_of_key(key: &str) -> &str {
    match key.rsplit_once('-') {
        Some((name, id)) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) => name,
        _ => key,
    }
}

#[cfg(test)]
mod tests {
    use super::{name_of_key, plugin_key};

    #[test]
    fn same_name_other_identity_other_key() {
        assert_eq!(plugin_key("armv7", "source:a"), plugin_key("armv7", "source:a"));
        assert_ne!(plugin_key("armv7", "source:a"), plugin_key("armv7", "source:b"));
        assert!(plugin_key("armv7", "x").starts_with("armv7-"));
        assert_eq!(name_of_key(&plugin_key("research-env", "x")), "research-env");
        assert_eq!(name_of_key("research-env"), "research-env");
    }
}
