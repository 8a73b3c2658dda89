//! What hostbuild's seed platforms share: the CMake build flow (configure,
//! compile with ccache, ctest with a JUnit report), finding the binaries and
//! license files a build produced, and small helpers. A library for
//! platforms, not a plugin of its own.

pub mod cmake;
pub mod cuda;
pub mod elf;
pub mod junit;

use hostbuild_sdk::host::workspace::{self, EntryKind, Tree};
use hostbuild_sdk::{Artifact, ArtifactRole, Error, Result};

/// Quotes one word for `sh`.
pub fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `debian12` or `ubuntu22.04` from an os-release file (`ID` + `VERSION_ID`).
pub fn os_name(os_release: &str) -> String {
    let field = |k: &str| {
        os_release.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix('=')).map(|v| v.trim_matches('"').to_string())
    };
    format!("{}{}", field("ID").unwrap_or_default(), field("VERSION_ID").unwrap_or_default())
}

/// Copies the source's top-level license files (LICENSE*, LICENCE*,
/// COPYING*, NOTICE*) into `licenses/` of the output tree and returns them.
pub fn licenses(props: impl Fn(Artifact) -> Artifact) -> Result<Vec<Artifact>> {
    let mut found = Vec::new();
    for entry in workspace::list(Tree::Source, "").unwrap_or_default() {
        let upper = entry.name.to_ascii_uppercase();
        if entry.kind == EntryKind::File
            && ["LICENSE", "LICENCE", "COPYING", "NOTICE"].iter().any(|p| upper.starts_with(p))
        {
            let text = workspace::read(Tree::Source, &entry.name).map_err(|e| Error::failed(format!("{e:?}")))?;
            let dest = format!("licenses/{}", entry.name);
            workspace::write(&dest, &text).map_err(|e| Error::failed(format!("{e:?}")))?;
            found.push(props(Artifact::new(&dest, ArtifactRole::License)));
        }
    }
    Ok(found)
}

/// Runs `visit` on every file under `dir` of the output tree, skipping
/// hidden directories and CMake's own `CMakeFiles`.
pub fn walk_output(dir: &str, mut visit: impl FnMut(&str, &workspace::Entry) -> Result<()>) -> Result<()> {
    let mut pending = vec![dir.to_string()];
    while let Some(dir) = pending.pop() {
        let entries =
            workspace::list(Tree::Output, &dir).map_err(|e| Error::failed(format!("listing {dir}: {e:?}")))?;
        for entry in entries {
            let path = format!("{dir}/{}", entry.name);
            match entry.kind {
                EntryKind::Directory if entry.name != "CMakeFiles" && !entry.name.starts_with('.') => {
                    pending.push(path)
                }
                EntryKind::File => visit(&path, &entry)?,
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn os_name_and_quoting() {
        assert_eq!(super::os_name("PRETTY_NAME=\"Debian\"\nID=debian\nVERSION_ID=\"12\"\n"), "debian12");
        assert_eq!(super::os_name("ID=ubuntu\nVERSION_ID=\"22.04\"\n"), "ubuntu22.04");
        assert_eq!(super::quote("it's"), r"'it'\''s'");
    }
}
