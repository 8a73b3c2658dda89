//! What names a set, found as MXNet's artifact repository finds it; each is
//! overridable by a flag.
//!
//! - commit: `--git-sha`, then `HOSTBUILD_SHA`, `MXNET_SHA`, `GIT_COMMIT`,
//!   then `git rev-parse HEAD` in the source directory;
//! - os: `--os`, then the build image's os-release (a platform's `os`
//!   property), then this host's `/etc/os-release` (`ID` + `VERSION_ID`).

use std::path::Path;

/// Where the commit came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub value: String,
    pub source: String,
}

/// No commit could be determined.
#[derive(Debug, thiserror::Error)]
#[error("cannot tell which commit these artifacts belong to")]
pub struct NoCommit;

pub const COMMIT_VARS: [&str; 3] = ["HOSTBUILD_SHA", "MXNET_SHA", "GIT_COMMIT"];

/// The commit: flag, environment, then git in `source`.
pub fn commit(flag: Option<&str>, source: &Path) -> Result<Found, NoCommit> {
    if let Some(v) = flag.filter(|v| !v.is_empty()) {
        return Ok(Found { value: v.to_string(), source: "--git-sha".into() });
    }
    for var in COMMIT_VARS {
        if let Some(v) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
            return Ok(Found { value: v, source: var.into() });
        }
    }
    let out = std::process::Command::new("git").arg("-C").arg(source).args(["rev-parse", "HEAD"]).output();
    match out {
        Ok(o) if o.status.success() => Ok(Found {
            value: String::from_utf8_lossy(&o.stdout).trim().to_string(),
            source: format!("git rev-parse HEAD in {}", source.display()),
        }),
        _ => Err(NoCommit),
    }
}

/// `ID` + `VERSION_ID` of an os-release text, e.g. `debian12`.
pub fn os_from_release(text: &str) -> Option<String> {
    let field = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)?.strip_prefix('=')).map(|v| v.trim_matches('"'));
    let id = field("ID")?;
    Some(format!("{id}{}", field("VERSION_ID").unwrap_or_default()))
}

/// The os: flag, then what the build reported, then this host's.
pub fn os(flag: Option<&str>, from_build: Option<&str>) -> Found {
    if let Some(v) = flag.filter(|v| !v.is_empty()) {
        return Found { value: v.to_string(), source: "--os".into() };
    }
    if let Some(v) = from_build.filter(|v| !v.is_empty()) {
        return Found { value: v.to_string(), source: "the build image's os-release".into() };
    }
    let host = std::fs::read_to_string("/etc/os-release").ok().and_then(|t| os_from_release(&t));
    Found { value: host.unwrap_or_else(|| "unknown".into()), source: "this host's /etc/os-release".into() }
}

impl crate::diagnostics::Diagnose for NoCommit {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        let hint = format!(
            "pass --git-sha SHA, set one of {}, or run inside a git checkout (--source DIR)",
            COMMIT_VARS.join(", ")
        );
        (ExitStatus::Usage, Some(hint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release() {
        assert_eq!(os_from_release("NAME=\"Debian\"\nID=debian\nVERSION_ID=\"12\"\n").as_deref(), Some("debian12"));
        assert_eq!(os_from_release("ID=arch\n").as_deref(), Some("arch"));
        assert_eq!(os(Some("ubuntu22.04"), Some("debian12")).value, "ubuntu22.04");
        assert_eq!(os(None, Some("debian12")).source, "the build image's os-release");
    }
}
