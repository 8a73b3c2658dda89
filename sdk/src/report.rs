use crate::bindings::hostbuild::platform::types as t;

pub use t::TestSummary;

/// What `build` reports on success.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    steps: Vec<String>,
    tests: Option<TestSummary>,
    notes: Vec<String>,
}

impl BuildReport {
    pub fn new() -> Self {
        Self::default()
    }
    /// Records that the step `name` ran.
    pub fn step(mut self, name: &str) -> Self {
        self.steps.push(name.into());
        self
    }
    pub fn tests(mut self, passed: u32, failed: u32, skipped: u32) -> Self {
        self.tests = Some(TestSummary { passed, failed, skipped });
        self
    }
    /// A line for the run summary.
    pub fn note(mut self, line: &str) -> Self {
        self.notes.push(line.into());
        self
    }

    pub(crate) fn into_wit(self) -> t::BuildReport {
        t::BuildReport { steps: self.steps, tests: self.tests, notes: self.notes }
    }
}
