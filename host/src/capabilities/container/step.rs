//! A step as the host sees it: the host-side twins of the WIT `container`
//! records, converted in the binding (`host.rs`).

/// A logical mount the host maps to a directory or volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Volume {
    /// The source tree, read-only unless `write-source` is granted.
    Source,
    /// The platform's output tree.
    Output,
    /// The platform's cache volume.
    Cache,
}

/// Where a volume appears inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub volume: Volume,
    pub target: String,
}

/// GPUs a step asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuRequest {
    /// `None`: all of them.
    pub count: Option<u32>,
    pub capabilities: Vec<String>,
}

/// One command run in a fresh container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    /// A recipe's name.
    pub image: String,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub mounts: Vec<Mount>,
    pub gpu: Option<GpuRequest>,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    pub exit_code: i32,
    /// Its last lines of output.
    pub tail: Vec<String>,
    pub duration_ms: u64,
}

/// Why a step could not run at all (told to the plugin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerError {
    /// No engine is reachable.
    Unavailable(String),
    /// Not declared or not granted.
    Denied(String),
    /// No recipe has that name.
    UnknownImage(String),
    /// The step is malformed.
    InvalidStep(String),
    /// The engine failed.
    Failed(String),
}

impl ContainerError {
    /// What it says, without its variant's name.
    pub fn message(&self) -> &str {
        match self {
            ContainerError::Unavailable(m)
            | ContainerError::Denied(m)
            | ContainerError::UnknownImage(m)
            | ContainerError::InvalidStep(m)
            | ContainerError::Failed(m) => m,
        }
    }
}
