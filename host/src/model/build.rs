//! A build: what the plugin is told (`BuildContext`), what it reports, the
//! artifacts it finds, and how it fails.

use super::OptionValue;

/// What `build` and `detect-artifacts` are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildContext {
    pub run_id: String,
    pub options: Vec<OptionValue>,
    /// The names of the images built from its recipes.
    pub images: Vec<String>,
}

/// Test counts a build reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestSummary {
    pub passed: u32,
    pub failed: u32,
    pub skipped: u32,
}

/// What `build` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildReport {
    pub steps: Vec<String>,
    pub tests: Option<TestSummary>,
    pub notes: Vec<String>,
}

/// What an artifact is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArtifactRole {
    Primary,
    License,
    Dependency,
    Wheel,
    Image,
    TestReport,
}

/// A file of the output tree (or an image) the plugin calls an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub path: String,
    pub role: ArtifactRole,
    pub properties: Vec<(String, String)>,
}

/// A step that failed, as the plugin reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    pub step: String,
    pub exit_code: i32,
    pub tail: Vec<String>,
}

/// How a plugin says it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginError {
    InvalidOption(String),
    StepFailed(StepFailure),
    Unsupported(String),
    Failed(String),
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginError::InvalidOption(m) => write!(f, "invalid option: {m}"),
            PluginError::StepFailed(s) => write!(f, "step `{}` exited with status {}", s.step, s.exit_code),
            PluginError::Unsupported(m) => write!(f, "unsupported: {m}"),
            PluginError::Failed(m) => f.write_str(m),
        }
    }
}
