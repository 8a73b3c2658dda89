use crate::bindings::hostbuild::platform::types as t;

/// Result of a platform's functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a platform gave up; the host shows it to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An option value the platform cannot use.
    InvalidOption(String),
    /// A step exited non-zero.
    StepFailed { step: String, exit_code: i32, tail: Vec<String> },
    /// The platform cannot do this here.
    Unsupported(String),
    /// Anything else, as one sentence.
    Failed(String),
}

impl Error {
    /// Any other failure, as one sentence.
    pub fn failed(message: impl Into<String>) -> Self {
        Error::Failed(message.into())
    }

    pub(crate) fn into_wit(self) -> t::PluginError {
        match self {
            Error::InvalidOption(m) => t::PluginError::InvalidOption(m),
            Error::StepFailed { step, exit_code, tail } => {
                t::PluginError::StepFailed(t::StepFailure { step, exit_code, tail })
            }
            Error::Unsupported(m) => t::PluginError::Unsupported(m),
            Error::Failed(m) => t::PluginError::Failed(m),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidOption(m) => write!(f, "invalid option: {m}"),
            Error::StepFailed { step, exit_code, .. } => write!(f, "step `{step}` exited with {exit_code}"),
            Error::Unsupported(m) => write!(f, "unsupported: {m}"),
            Error::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}
