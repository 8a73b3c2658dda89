//! The network as it is: TLS-intercepting proxies and HTTP proxies.
//!
//! Many companies reach PyPI, conda and apt mirrors through a proxy that
//! re-signs TLS with its own CA. The host trusts it (its bundle has the CA);
//! containers do not. `--ca-bundle FILE` (`HOSTBUILD_CA_BUNDLE`,
//! `[engine] ca-bundle`) lends that bundle to every image: it goes into each
//! recipe's build context and, after every `FROM` of the Dockerfile, into the
//! image's trust store (`update-ca-certificates` where the base has it) and
//! the variables that tools read (`SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE`,
//! `PIP_CERT`, `CURL_CA_BUNDLE`, `GIT_SSL_CAINFO`, `NODE_EXTRA_CA_CERTS`, and
//! conda's `ssl_verify` as `CONDA_SSL_VERIFY`). Plugins need no change, and
//! the recipe's content hash covers the bundle, so a new bundle rebuilds.
//!
//! The standard proxy variables of the host (`HTTP_PROXY`, `HTTPS_PROXY`,
//! `NO_PROXY`, `FTP_PROXY`, `ALL_PROXY`, lower case too) go to image builds as
//! Docker's predefined build args (which Docker keeps out of the image and its
//! cache key), and to steps that have network. Plugins never see them.

use std::path::{Path, PathBuf};

use crate::model::{ContextFile, ImageRecipe};

/// Where the bundle lands in every image.
pub const BUNDLE_IN_IMAGE: &str = "/usr/local/share/ca-certificates/hostbuild-ca-bundle.crt";
/// Its name in the build context.
const BUNDLE_IN_CONTEXT: &str = ".hostbuild/ca-bundle.crt";

/// The proxy variables Docker predefines as build args.
const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "NO_PROXY",
    "no_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Variables every image gets when a bundle is lent, all naming it.
const BUNDLE_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
    "CONDA_SSL_VERIFY",
];

/// The bundle cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read the CA bundle {}: {source}", .path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the CA bundle {} holds no PEM certificate", .path.display())]
    NotPem { path: PathBuf },
}

/// What the host lends every image build and networked step about the
/// network it is on.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    bundle: Option<Vec<u8>>,
    proxies: Vec<(String, String)>,
}

/// Largest bundle read (the Mozilla bundle is about 220 KiB).
const BUNDLE_LIMIT: u64 = 16 << 20;

impl Trust {
    /// The bundle at `bundle` (if any) and this process's proxy variables.
    pub fn new(bundle: Option<&Path>) -> Result<Self, TrustError> {
        let bundle = match bundle {
            Some(path) => Some(read_bundle(path)?),
            None => None,
        };
        let proxies = PROXY_VARS
            .iter()
            .filter_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()).map(|v| (k.to_string(), v)))
            .collect();
        Ok(Self { bundle, proxies })
    }

    /// Whether a bundle is lent.
    pub fn has_bundle(&self) -> bool {
        self.bundle.is_some()
    }

    /// The proxy variables, for image builds (as build args) and for steps
    /// with network (as environment).
    pub fn proxies(&self) -> &[(String, String)] {
        &self.proxies
    }

    /// The recipe as it is built: with the bundle in its context and, after
    /// every `FROM`, in the trust store and the variables tools read.
    pub fn apply(&self, recipe: &ImageRecipe) -> ImageRecipe {
        let Some(bundle) = &self.bundle else { return recipe.clone() };
        let mut out = recipe.clone();
        out.context.retain(|f| f.path != BUNDLE_IN_CONTEXT);
        out.context.push(ContextFile { path: BUNDLE_IN_CONTEXT.into(), contents: bundle.clone(), executable: false });
        out.dockerfile = with_trust(&recipe.dockerfile);
        out
    }
}

fn read_bundle(path: &Path) -> Result<Vec<u8>, TrustError> {
    use std::io::Read;
    let unreadable = |source| TrustError::Unreadable { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(BUNDLE_LIMIT).read_to_end(&mut bytes).map_err(unreadable)?;
    if !bytes.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(TrustError::NotPem { path: path.to_path_buf() });
    }
    Ok(bytes)
}

/// The Dockerfile with the trust lines after each `FROM` (multi-stage
/// builds start each stage afresh). A stage `FROM scratch` has no shell:
/// it gets the file and the variables only.
fn with_trust(dockerfile: &str) -> String {
    let env: Vec<String> = BUNDLE_VARS.iter().map(|v| format!("{v}={BUNDLE_IN_IMAGE}")).collect();
    let mut out = String::with_capacity(dockerfile.len() + 1024);
    let mut continued = false;
    for line in dockerfile.lines() {
        out.push_str(line);
        out.push('\n');
        let instruction = line.trim_start();
        let is_from = !continued && instruction.len() > 4 && instruction[..4].eq_ignore_ascii_case("FROM");
        continued = line.trim_end().ends_with('\\');
        if !is_from || continued {
            continue;
        }
        let image = instruction.split_whitespace().skip(1).find(|w| !w.starts_with("--"));
        let scratch = image.is_some_and(|image| image.eq_ignore_ascii_case("scratch"));
        out.push_str(&format!("COPY {BUNDLE_IN_CONTEXT} {BUNDLE_IN_IMAGE}\n"));
        if !scratch {
            out.push_str(
                "RUN if command -v update-ca-certificates >/dev/null 2>&1; then \
                 update-ca-certificates >/dev/null 2>&1 || true; fi\n",
            );
        }
        out.push_str(&format!("ENV {}\n", env.join(" ")));
    }
    out
}

impl crate::diagnostics::Diagnose for TrustError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::ExitStatus;
        let hint = "--ca-bundle (HOSTBUILD_CA_BUNDLE) names a PEM bundle such as /etc/ssl/certs/ca-certificates.crt";
        (ExitStatus::Usage, Some(hint.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(dockerfile: &str) -> ImageRecipe {
        ImageRecipe {
            name: "build".into(),
            dockerfile: dockerfile.into(),
            context: vec![],
            build_args: vec![],
            platform: "linux/amd64".into(),
            base_image: "base".into(),
        }
    }

    #[test]
    fn every_stage_trusts_the_bundle() {
        let trust = Trust { bundle: Some(b"-----BEGIN CERTIFICATE-----\nx\n".to_vec()), proxies: vec![] };
        let r = trust.apply(&recipe("FROM base AS build\nRUN pip install x\nFROM scratch\nCOPY --from=build /a /a\n"));
        assert_eq!(r.context.len(), 1);
        let lines: Vec<&str> = r.dockerfile.lines().collect();
        assert_eq!(lines[0], "FROM base AS build");
        assert!(lines[1].starts_with("COPY .hostbuild/ca-bundle.crt "));
        assert!(lines[2].contains("update-ca-certificates"));
        assert!(lines[3].starts_with("ENV SSL_CERT_FILE=") && lines[3].contains("PIP_CERT="));
        assert_eq!(lines[4], "RUN pip install x");
        assert_eq!(lines[5], "FROM scratch");
        assert!(lines[6].starts_with("COPY ") && lines[7].starts_with("ENV "), "no RUN in a scratch stage");
        // Nothing lent: the recipe is untouched.
        assert_eq!(Trust::default().apply(&recipe("FROM base\n")).dockerfile, "FROM base\n");
        let flagged = trust.apply(&recipe("FROM --platform=linux/arm64 scratch\n"));
        assert!(!flagged.dockerfile.contains("RUN"), "{}", flagged.dockerfile);
    }

    #[test]
    fn a_bundle_must_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("empty.pem"), "not a certificate").unwrap();
        assert!(matches!(Trust::new(Some(&dir.path().join("empty.pem"))), Err(TrustError::NotPem { .. })));
        assert!(matches!(Trust::new(Some(&dir.path().join("missing"))), Err(TrustError::Unreadable { .. })));
    }
}
