//! The Docker engine as hostbuild uses it, whoever asks (the `container`
//! capability, `cache`, `clean`, `shell`, the registry): connecting
//! ([`engine`]), containers hostbuild owns and reaps ([`lifecycle`]),
//! plugin images built from recipes ([`images`]), and the names and labels
//! of what it keeps between runs ([`naming`]).

pub mod engine;
pub mod images;
pub mod lifecycle;
pub mod naming;

pub use engine::EngineUnreachable;

/// The engine could not do what the run needs.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Unreachable(#[from] EngineUnreachable),
    #[error("base image `{image}` is not on this machine (there is no registry to pull it from)")]
    MissingBaseImage { image: String },
    #[error("image `{image}` failed to build: {message}")]
    ImageBuild { image: String, message: String, tail: Vec<String> },
    #[error("image recipe `{image}` is invalid: {reason}")]
    InvalidRecipe { image: String, reason: String },
    #[error("{platform} containers need QEMU user emulation, but the binfmt_misc handler `{handler}` is not enabled")]
    NoEmulation { platform: String, handler: String },
    #[error("plugin `{plugin}` asks for GPUs, but the Docker engine has no NVIDIA runtime (it has: {runtimes})")]
    NoGpuRuntime { plugin: String, runtimes: String },
    #[error("the Docker engine failed: {0}")]
    Api(String),
}

impl crate::diagnostics::Diagnose for EngineError {
    fn diagnose(&self) -> (crate::diagnostics::ExitStatus, Option<String>) {
        use crate::diagnostics::{ExitStatus, PLUGIN_BUG, PREREQS};
        match self {
            EngineError::Unreachable(_) => (
                ExitStatus::Unavailable,
                Some(format!("start the engine (dockerd) or point DOCKER_HOST at one; {PREREQS}")),
            ),
            EngineError::MissingBaseImage { .. } => (
                ExitStatus::Unavailable,
                Some("make the offline base images with `cargo xtask images` (scripts/prereqs.sh does)".into()),
            ),
            EngineError::ImageBuild { message, tail, .. } => {
                let shown: Vec<&str> = tail.iter().rev().take(15).rev().map(String::as_str).collect();
                let mut hint = format!("last lines of the image build:\n  {}", shown.join("\n  "));
                if tls_refused(message, tail) {
                    hint.push_str(
                        "\n  the build could not verify a TLS certificate: behind a TLS-intercepting proxy, lend its \
                         CA to the images with --ca-bundle /etc/ssl/certs/ca-certificates.crt (or HOSTBUILD_CA_BUNDLE, \
                         or `ca-bundle` under [engine] in hostbuild.toml)",
                    );
                }
                (ExitStatus::StepFailed, Some(hint))
            }
            EngineError::InvalidRecipe { .. } => (ExitStatus::PluginFailed, Some(PLUGIN_BUG.into())),
            EngineError::NoEmulation { handler, .. } => (
                ExitStatus::Unavailable,
                Some(format!(
                    "apt-get install qemu-user-static binfmt-support && update-binfmts --enable {handler}; {PREREQS}"
                )),
            ),
            EngineError::NoGpuRuntime { .. } => (
                ExitStatus::Unavailable,
                Some(
                    "run on a machine with an NVIDIA GPU and nvidia-container-toolkit installed in the engine, \
                     or build without GPU access: `hostbuild run --no-gpu`"
                        .into(),
                ),
            ),
            EngineError::Api(_) => {
                (ExitStatus::Unavailable, Some(format!("`hostbuild doctor` checks the engine; {PREREQS}")))
            }
        }
    }
}

/// Whether an image build failed on a certificate it could not verify (pip,
/// curl, conda, apt and git each say it their way).
fn tls_refused(message: &str, tail: &[String]) -> bool {
    const SIGNS: &[&str] = &[
        "CERTIFICATE_VERIFY_FAILED",
        "certificate verify failed",
        "SSL certificate problem",
        "self-signed certificate in certificate chain",
        "self signed certificate in certificate chain",
        "unable to get local issuer certificate",
        "server certificate verification failed",
        "SSLCertVerificationError",
    ];
    std::iter::once(message).chain(tail.iter().map(String::as_str)).any(|l| SIGNS.iter().any(|s| l.contains(s)))
}
