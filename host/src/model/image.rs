//! The images a plugin asks for (`image`).

/// A file of an image's build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    pub path: String,
    pub contents: Vec<u8>,
    pub executable: bool,
}

/// One image to build: a Dockerfile, its context and build arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRecipe {
    /// The name steps refer to it by.
    pub name: String,
    pub dockerfile: String,
    pub context: Vec<ContextFile>,
    pub build_args: Vec<(String, String)>,
    /// Docker's platform, e.g. `linux/arm/v7`.
    pub platform: String,
    /// The image its first stage starts from.
    pub base_image: String,
}
