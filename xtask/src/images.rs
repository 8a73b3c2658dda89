//! `cargo xtask images`: the offline Debian bookworm base images the recipes
//! start from, made with mmdebstrap from the mirror in this machine's apt
//! configuration (no image registry is needed), then `docker build` of
//! `FROM scratch` + `ADD rootfs.tar /` with the target `--platform`, which
//! records the right architecture in the image (`docker import` did not).
//! Idempotent: an image that exists with the right architecture is kept.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::hinted;

const PREREQS: &str = "run `bash scripts/prereqs.sh`: it installs mmdebstrap, arch-test and QEMU, starts dockerd and checks that armhf and arm64 binaries execute";

pub fn build_all(force: bool) -> Result<()> {
    let mut mirror = None;
    // One base image per line of architectures.tsv.
    for a in hostbuild::arch::all() {
        let (tag, arch, platform, expected) = (&a.base_image(), a.debian, a.docker, a.image);
        if !force && architecture(tag).as_deref() == Some(expected) {
            eprintln!("[xtask] {tag} is present ({expected})");
            continue;
        }
        if mirror.is_none() {
            mirror = Some(debian_mirror()?);
        }
        let mirror = mirror.as_deref().unwrap_or_default();
        eprintln!("[xtask] making {tag} ({platform}) from {mirror}");
        let dir = tempfile::tempdir_in(std::env::temp_dir())?;
        let rootfs = dir.path().join("rootfs.tar");
        bootstrap(arch, mirror, &rootfs)?;
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\nADD rootfs.tar /\nCMD [\"bash\"]\n")?;
        let status = Command::new("docker")
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "--quiet", "--platform", platform, "--label", "hostbuild.base=bookworm", "-t", tag])
            .arg(dir.path())
            .status()
            .map_err(|e| hinted("cannot run the docker CLI", PREREQS, Some(e.into())))?;
        if !status.success() {
            return Err(hinted(
                format!("docker build of {tag} failed"),
                format!("is dockerd running? {PREREQS}"),
                None,
            ));
        }
        let got = architecture(tag).unwrap_or_default();
        if got != expected {
            return Err(hinted(
                format!("{tag} was built with architecture {got}, expected {expected}"),
                format!("QEMU user emulation for {platform} may be missing; {PREREQS}"),
                None,
            ));
        }
    }
    Ok(())
}

/// `Architecture/Variant` of a local image, if it exists.
pub fn architecture(tag: &str) -> Option<String> {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Architecture}}/{{.Variant}}", tag])
        .output()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A minimal bookworm root filesystem as a tarball (retried: mirrors can be
/// caught mid-sync).
fn bootstrap(arch: &str, mirror: &str, out: &Path) -> Result<()> {
    let source = format!("deb {mirror} bookworm main");
    for attempt in 1..=3 {
        let status = Command::new("mmdebstrap")
            .args(["--quiet", "--variant=minbase", &format!("--arch={arch}"), "bookworm"])
            .arg(out)
            .arg(&source)
            .status()
            .map_err(|e| hinted("cannot run mmdebstrap", PREREQS, Some(e.into())))?;
        if status.success() {
            return Ok(());
        }
        eprintln!("[xtask] mmdebstrap for {arch} failed (attempt {attempt} of 3)");
    }
    Err(hinted(
        format!("mmdebstrap could not bootstrap bookworm for {arch} from {mirror}"),
        format!("the mmdebstrap output above says why; {PREREQS}"),
        None,
    ))
}

/// The first Debian mirror serving bookworm in the machine's apt sources.
fn debian_mirror() -> Result<String> {
    let mut texts = Vec::new();
    if let Ok(s) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push(s);
    }
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths.iter().filter(|p| p.extension().is_some_and(|e| e == "sources" || e == "list")) {
            texts.push(std::fs::read_to_string(p).unwrap_or_default());
        }
    }
    texts.iter().find_map(|t| mirror_in(t)).ok_or_else(|| {
        hinted(
            "no Debian bookworm mirror in /etc/apt/sources.list{,.d}",
            "add a Debian bookworm mirror to the machine's apt sources",
            None,
        )
    })
}

/// Finds a `bookworm` suite's URI in one-line or deb822 sources text.
fn mirror_in(text: &str) -> Option<String> {
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() == Some(&"deb") {
            let rest: Vec<&str> = words[1..].iter().filter(|w| !w.starts_with('[')).copied().collect();
            if rest.get(1) == Some(&"bookworm") {
                return rest.first().map(|u| u.to_string());
            }
        }
    }
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(str::trim))
        };
        if field("Suites").is_some_and(|s| s.split_whitespace().any(|x| x == "bookworm")) {
            if let Some(uri) = field("URIs").and_then(|u| u.split_whitespace().next()) {
                return Some(uri.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::mirror_in;

    #[test]
    fn reads_both_source_formats() {
        let deb822 =
            "Types: deb\nURIs: http://m.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\n\
                      Types: deb\nURIs: http://m.example/debian-security\nSuites: bookworm-security\n";
        assert_eq!(mirror_in(deb822).as_deref(), Some("http://m.example/debian"));
        let list = "# comment\ndeb [arch=amd64] http://m.example/debian bookworm main\n";
        assert_eq!(mirror_in(list).as_deref(), Some("http://m.example/debian"));
        assert_eq!(mirror_in("deb http://m.example/debian-security bookworm-security main"), None);
    }
}
