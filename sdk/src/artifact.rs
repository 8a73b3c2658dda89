use crate::bindings::hostbuild::platform::types as t;

pub use t::ArtifactRole;

/// One file of the output tree the build produced.
#[derive(Debug, Clone)]
pub struct Artifact {
    path: String,
    role: ArtifactRole,
    properties: Vec<(String, String)>,
}

impl Artifact {
    /// `path` is relative to the output tree.
    pub fn new(path: &str, role: ArtifactRole) -> Self {
        Self { path: path.into(), role, properties: Vec::new() }
    }
    /// A property such as `variant`, `os`, `linkage`.
    pub fn property(mut self, key: &str, value: &str) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }

    pub(crate) fn into_wit(self) -> t::Artifact {
        t::Artifact { path: self.path, role: self.role, properties: self.properties }
    }
}
