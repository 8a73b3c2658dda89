//! Plugins installed with hostbuild (scripts/install.sh): the platforms of
//! this repository in `PREFIX/share/hostbuild/plugins/<name>.wasm`, beside
//! `PREFIX/bin/hostbuild`, so `hostbuild run armv7` finds one by name where
//! there is no project file. Like a file given on the command line, a
//! bundled plugin is granted what it declares: it came with the binary.
//! Beside them, the SDK crate that `hostbuild new` points new plugins at.

use std::path::{Path, PathBuf};

/// Where the bundled plugins of the running binary are, relative to it.
pub const DIR: &str = "share/hostbuild/plugins";

/// Where install.sh puts the packaged hostbuild-sdk crate, for new plugins.
pub const SDK_DIR: &str = "share/hostbuild/sdk";

/// `PREFIX/share/hostbuild/plugins` for the running `PREFIX/bin/hostbuild`
/// (links to the binary resolved), when it exists.
pub fn dir() -> Option<PathBuf> {
    installed(DIR).filter(|d| d.is_dir())
}

/// The SDK crate installed beside the binary (`PREFIX/share/hostbuild/sdk`).
pub fn sdk() -> Option<PathBuf> {
    installed(SDK_DIR).filter(|d| d.join("Cargo.toml").is_file())
}

fn installed(relative: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?.canonicalize().ok()?;
    Some(exe.parent()?.parent()?.join(relative))
}

/// The bundled plugin called `name`, if there is one.
pub fn find(name: &str) -> Option<PathBuf> {
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !plain {
        return None;
    }
    let path = dir()?.join(format!("{name}.wasm"));
    path.is_file().then_some(path)
}

/// Every `.wasm` file of `dir`, sorted.
pub fn components(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
        .collect();
    found.sort();
    found
}
