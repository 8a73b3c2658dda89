//! The CPU architectures hostbuild builds for, from one table
//! (`architectures.tsv` at the top of the checkout, also read by
//! `cargo xtask images` and `scripts/prereqs.sh`), and [`TargetPlatform`]:
//! a Docker image platform (`linux/arm/v7`) parsed once.

use std::sync::LazyLock;

/// One architecture and every name it goes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arch {
    /// The grant word and `cpu-arch` case: `arm`.
    pub name: &'static str,
    /// In base-image and per-architecture image tags: `armv7`.
    pub short: &'static str,
    /// Docker's image platform: `linux/arm/v7`.
    pub docker: &'static str,
    /// `docker inspect`'s `Architecture/Variant` of its images: `arm/v7`.
    pub image: &'static str,
    /// Debian's name, for mmdebstrap and arch-test: `armhf`.
    pub debian: &'static str,
    /// What engines and Swarm nodes report (`uname -m`): `armv7l`.
    pub uname: &'static str,
    /// The binfmt_misc handler it needs on an amd64 host, if any.
    pub binfmt: Option<&'static str>,
}

impl Arch {
    /// hostbuild's offline Debian base image for it (`cargo xtask images`).
    pub fn base_image(&self) -> String {
        format!("hostbuild/bookworm:{}", self.short)
    }
}

const TABLE: &str = include_str!("../../architectures.tsv");

static ARCHES: LazyLock<Vec<Arch>> = LazyLock::new(|| parse_table(TABLE));

fn parse_table(table: &'static str) -> Vec<Arch> {
    table
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|line| {
            let f: Vec<&'static str> = line.split_whitespace().collect();
            let [name, short, docker, image, debian, uname, binfmt] = f[..] else { return None };
            Some(Arch { name, short, docker, image, debian, uname, binfmt: (binfmt != "-").then_some(binfmt) })
        })
        .collect()
}

/// Every architecture, in table order.
pub fn all() -> &'static [Arch] {
    &ARCHES
}

/// The architecture with this grant word (`arm`), if hostbuild knows it.
pub fn by_name(name: &str) -> Option<&'static Arch> {
    all().iter().find(|a| a.name == name)
}

/// A Docker image platform, `os/architecture[/variant]`, as recipes and
/// images name it (`linux/arm/v7`, `linux/arm64`, `linux/amd64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPlatform {
    os: String,
    architecture: String,
    variant: Option<String>,
}

impl TargetPlatform {
    /// Parses `os/architecture[/variant]`; any missing part is empty.
    pub fn parse(platform: &str) -> Self {
        let mut parts = platform.splitn(3, '/');
        let os = parts.next().unwrap_or_default().to_string();
        let architecture = parts.next().unwrap_or_default().to_string();
        let variant = parts.next().map(str::to_string);
        Self { os, architecture, variant }
    }

    /// The known architecture it runs on: `arm` for `linux/arm/v7`, `arm64`
    /// for `linux/arm64` or `linux/aarch64`.
    pub fn arch(&self) -> Option<&'static Arch> {
        let a = self.architecture.as_str();
        all().iter().find(|k| {
            let docker = TargetPlatform::parse(k.docker);
            docker.architecture == a || k.uname == a
        })
    }

    /// The binfmt handler it needs on an amd64 host, if any.
    pub fn binfmt(&self) -> Option<&'static str> {
        self.arch().and_then(|a| a.binfmt)
    }

    /// `armv7`, `arm64`, `amd64`: the known short name, else architecture
    /// and variant run together (`ppc64le`, `arm/v6` → `armv6`).
    pub fn short(&self) -> String {
        match (self.arch(), &self.variant) {
            (Some(a), None) => a.short.to_string(),
            (Some(a), Some(v)) if TargetPlatform::parse(a.docker).variant.as_deref() == Some(v.as_str()) => {
                a.short.to_string()
            }
            _ => format!("{}{}", self.architecture, self.variant.as_deref().unwrap_or_default()),
        }
    }

    /// The OCI index's `platform` object: `{"architecture": "arm", "os":
    /// "linux", "variant": "v7"}`.
    pub fn oci(&self) -> OciPlatform<'_> {
        OciPlatform { architecture: &self.architecture, os: &self.os, variant: self.variant.as_deref() }
    }

    /// What a Swarm node of this architecture reports (`uname -m`);
    /// `x86_64` when unknown.
    pub fn uname(&self) -> &'static str {
        match self.arch() {
            Some(a) => a.uname,
            None if self.architecture == "386" => "i386",
            None => "x86_64",
        }
    }
}

/// A platform as OCI image indexes write it.
#[derive(Debug, serde::Serialize)]
pub struct OciPlatform<'a> {
    pub architecture: &'a str,
    pub os: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<&'a str>,
}

impl std::fmt::Display for TargetPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

/// Whether the binfmt_misc handler is registered and enabled.
pub fn binfmt_enabled(handler: &str) -> bool {
    std::fs::read_to_string(std::path::Path::new("/proc/sys/fs/binfmt_misc").join(handler))
        .is_ok_and(|s| s.lines().next() == Some("enabled"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_line() {
        let lines = TABLE.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).count();
        assert_eq!(all().len(), lines, "a line of architectures.tsv does not have seven fields");
        assert_eq!(by_name("arm").map(|a| a.base_image()).as_deref(), Some("hostbuild/bookworm:armv7"));
    }

    #[test]
    fn platforms_name_their_architecture() {
        let p = |s| TargetPlatform::parse(s);
        assert_eq!(p("linux/arm/v7").arch().map(|a| a.name), Some("arm"));
        assert_eq!(p("linux/arm64").binfmt(), Some("qemu-aarch64"));
        assert_eq!(p("linux/aarch64").binfmt(), Some("qemu-aarch64"));
        assert_eq!(p("linux/arm/v7").binfmt(), Some("qemu-arm"));
        assert_eq!(p("linux/amd64").binfmt(), None);
        assert_eq!(p("linux/arm/v7").short(), "armv7");
        assert_eq!(p("linux/arm64").short(), "arm64");
        assert_eq!(p("linux/ppc64le").short(), "ppc64le");
        assert_eq!(p("linux/arm/v7").uname(), "armv7l");
        assert_eq!(p("linux/386").uname(), "i386");
        assert_eq!(p("linux/arm/v7").to_string(), "linux/arm/v7");
        let oci = |s| serde_json::to_value(p(s).oci()).unwrap();
        assert_eq!(oci("linux/arm/v7"), serde_json::json!({"architecture": "arm", "os": "linux", "variant": "v7"}));
        assert_eq!(oci("linux/amd64"), serde_json::json!({"architecture": "amd64", "os": "linux"}));
    }
}
