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
