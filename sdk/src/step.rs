use crate::bindings::hostbuild::platform::container as c;
use crate::{Error, Result};

pub use c::{GpuRequest, StepOutcome, Volume};

/// One command run in a fresh container of one of the platform's images.
#[derive(Debug, Clone)]
pub struct Step {
    inner: c::Step,
}

impl Step {
    /// Runs `argv` in the image whose recipe is named `image`.
    pub fn new<I, S>(name: &str, image: &str, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            inner: c::Step {
                name: name.into(),
                image: image.into(),
                argv: argv.into_iter().map(Into::into).collect(),
                env: Vec::new(),
                workdir: None,
                mounts: Vec::new(),
                gpu: None,
            },
        }
    }
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.inner.env.push((key.into(), value.into()));
        self
    }
    pub fn workdir(mut self, dir: &str) -> Self {
        self.inner.workdir = Some(dir.into());
        self
    }
    /// Mounts a logical volume at `target` inside the container.
    pub fn mount(mut self, volume: Volume, target: &str) -> Self {
        self.inner.mounts.push(c::Mount { volume, target: target.into() });
        self
    }
    /// Asks for `count` GPUs (`None`: all) with the given driver capabilities.
    pub fn gpus(mut self, count: Option<u32>, capabilities: &[&str]) -> Self {
        self.inner.gpu = Some(GpuRequest { count, capabilities: capabilities.iter().map(|s| s.to_string()).collect() });
        self
    }

    /// Runs the step; a non-zero exit is returned as an outcome, not an error.
    pub fn run(&self) -> Result<StepOutcome> {
        c::run_step(&self.inner).map_err(|e| match e {
            c::ContainerError::Unavailable(m) => Error::Unsupported(m),
            c::ContainerError::Denied(m)
            | c::ContainerError::UnknownImage(m)
            | c::ContainerError::InvalidStep(m)
            | c::ContainerError::Failed(m) => Error::Failed(format!("step `{}`: {m}", self.inner.name)),
        })
    }

    /// Runs the step and turns a non-zero exit into [`Error::StepFailed`].
    pub fn run_checked(&self) -> Result<StepOutcome> {
        let outcome = self.run()?;
        if outcome.exit_code != 0 {
            return Err(Error::StepFailed {
                step: self.inner.name.clone(),
                exit_code: outcome.exit_code,
                tail: outcome.tail,
            });
        }
        Ok(outcome)
    }
}
