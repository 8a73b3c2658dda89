use crate::bindings::hostbuild::platform::types as t;

/// How to build one container image: a Dockerfile plus context files.
#[derive(Debug, Clone)]
pub struct ImageRecipe {
    name: String,
    base_image: String,
    dockerfile: String,
    context: Vec<t::ContextFile>,
    build_args: Vec<(String, String)>,
    platform: String,
}

impl ImageRecipe {
    /// An image named `name` (steps refer to it by this name) starting
    /// `FROM base_image`, for `linux/amd64`, with a Dockerfile of just `FROM`.
    pub fn new(name: &str, base_image: &str) -> Self {
        Self {
            name: name.into(),
            base_image: base_image.into(),
            dockerfile: format!("FROM {base_image}\n"),
            context: Vec::new(),
            build_args: Vec::new(),
            platform: "linux/amd64".into(),
        }
    }
    /// Appends Dockerfile instructions after the `FROM` line.
    pub fn run(mut self, instructions: &str) -> Self {
        self.dockerfile.push_str(instructions);
        if !instructions.ends_with('\n') {
            self.dockerfile.push('\n');
        }
        self
    }
    /// Replaces the whole Dockerfile, e.g. for a multi-stage build. It should
    /// still start `FROM` the base image given to [`ImageRecipe::new`], whose
    /// id is part of the image's cache key.
    pub fn replace_dockerfile(mut self, text: &str) -> Self {
        self.dockerfile = text.into();
        self
    }
    /// Target platform, e.g. `linux/arm/v7`.
    pub fn platform(mut self, platform: &str) -> Self {
        self.platform = platform.into();
        self
    }
    /// Adds a file to the build context, for `COPY`.
    pub fn file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Self {
        self.context.push(t::ContextFile { path: path.into(), contents: contents.into(), executable: false });
        self
    }
    /// Adds an executable file to the build context.
    pub fn script(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Self {
        self.context.push(t::ContextFile { path: path.into(), contents: contents.into(), executable: true });
        self
    }
    pub fn build_arg(mut self, name: &str, value: &str) -> Self {
        self.build_args.push((name.into(), value.into()));
        self
    }
    /// The Dockerfile text as it stands.
    pub fn dockerfile(&self) -> &str {
        &self.dockerfile
    }

    pub(crate) fn into_wit(self) -> t::ImageRecipe {
        t::ImageRecipe {
            name: self.name,
            dockerfile: self.dockerfile,
            context: self.context,
            build_args: self.build_args,
            platform: self.platform,
            base_image: self.base_image,
        }
    }
}
