//! `image()` answers, checked before anything is built.

use crate::arch::TargetPlatform;
use crate::model::{Capabilities, ImageRecipe};
use crate::runtime::CallError;

/// Refuses recipes a well-formed plugin cannot return, and recipes for an
/// architecture the plugin may not emulate (not declared, or not granted).
pub fn check(plugin: &str, recipes: &[ImageRecipe], allowed: &Capabilities) -> Result<(), CallError> {
    let malformed = |problem: String| CallError::Malformed { plugin: plugin.into(), call: "image", problem };
    if !recipes.is_empty() && !allowed.container {
        return Err(malformed(
            "it returned image recipes but may not use containers (not declared or not granted)".into(),
        ));
    }
    for (i, r) in recipes.iter().enumerate() {
        if r.name.is_empty() || recipes[..i].iter().any(|p| p.name == r.name) {
            return Err(malformed(format!("image recipe name `{}` is empty or repeated", r.name)));
        }
        // The architecture the recipe needs emulated on this (amd64) host.
        let emulated = TargetPlatform::parse(&r.platform).arch().filter(|a| a.binfmt.is_some());
        if let Some(arch) = emulated.filter(|a| !allowed.emulation.iter().any(|e| e == a.name)) {
            return Err(malformed(format!(
                "access denied: image `{}` is for {} but emulation of {} was not declared or not granted",
                r.name, r.platform, arch.name
            )));
        }
    }
    Ok(())
}
