use crate::bindings::hostbuild::platform::types as t;

pub use t::CpuArch;

/// The kind of value an option takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionKind {
    Text,
    Boolean,
    Integer,
    Choice(Vec<String>),
}

/// One option the platform accepts (`--opt name=value`).
#[derive(Debug, Clone)]
pub struct OptionSpec {
    name: String,
    summary: String,
    kind: OptionKind,
    default: Option<String>,
}

impl OptionSpec {
    pub fn text(name: &str, summary: &str) -> Self {
        Self::new(name, summary, OptionKind::Text)
    }
    pub fn boolean(name: &str, summary: &str) -> Self {
        Self::new(name, summary, OptionKind::Boolean)
    }
    pub fn integer(name: &str, summary: &str) -> Self {
        Self::new(name, summary, OptionKind::Integer)
    }
    pub fn choice(name: &str, summary: &str, choices: &[&str]) -> Self {
        Self::new(name, summary, OptionKind::Choice(choices.iter().map(|c| c.to_string()).collect()))
    }
    fn new(name: &str, summary: &str, kind: OptionKind) -> Self {
        Self { name: name.into(), summary: summary.into(), kind, default: None }
    }
    /// Value used when the user gives none, written as a user would type it.
    pub fn default(mut self, value: &str) -> Self {
        self.default = Some(value.into());
        self
    }

    fn into_wit(self) -> t::OptionSpec {
        t::OptionSpec {
            name: self.name,
            summary: self.summary,
            kind: match self.kind {
                OptionKind::Text => t::OptionKind::Text,
                OptionKind::Boolean => t::OptionKind::Boolean,
                OptionKind::Integer => t::OptionKind::Integer,
                OptionKind::Choice(c) => t::OptionKind::Choice(c),
            },
            default: self.default,
        }
    }
}

/// What the platform asks the host to lend it.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    pub container: bool,
    pub emulation: Vec<CpuArch>,
    pub gpu: bool,
    pub network_during_build: bool,
    pub image_network: bool,
    pub publish: bool,
    pub env_vars: Vec<String>,
}

/// The answer of `describe`: who the platform is and what it needs.
#[derive(Debug, Clone)]
pub struct Description {
    name: String,
    version: String,
    summary: String,
    options: Vec<OptionSpec>,
    capabilities: Capabilities,
}

impl Description {
    /// `name` is kebab-case (output goes to `build.<name>/`), `version` semver.
    pub fn new(name: &str, version: &str, summary: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            summary: summary.into(),
            options: Vec::new(),
            capabilities: Capabilities::default(),
        }
    }
    pub fn option(mut self, spec: OptionSpec) -> Self {
        self.options.push(spec);
        self
    }
    /// Runs steps in containers.
    pub fn needs_container(mut self) -> Self {
        self.capabilities.container = true;
        self
    }
    /// Runs containers of `arch` under QEMU emulation.
    pub fn needs_emulation(mut self, arch: CpuArch) -> Self {
        self.capabilities.container = true;
        self.capabilities.emulation.push(arch);
        self
    }
    /// Asks for GPUs in some steps.
    pub fn needs_gpu(mut self) -> Self {
        self.capabilities.container = true;
        self.capabilities.gpu = true;
        self
    }
    /// Needs the network while steps run.
    pub fn needs_network(mut self) -> Self {
        self.capabilities.network_during_build = true;
        self
    }
    /// Needs the network while its images build (e.g. `RUN apt-get install`);
    /// without it, image builds have no network at all.
    pub fn needs_image_network(mut self) -> Self {
        self.capabilities.container = true;
        self.capabilities.image_network = true;
        self
    }
    /// Uses the artifact repository.
    pub fn needs_publish(mut self) -> Self {
        self.capabilities.publish = true;
        self
    }
    /// Reads this host environment variable through [`crate::host::env_var`].
    pub fn reads_env(mut self, name: &str) -> Self {
        self.capabilities.env_vars.push(name.into());
        self
    }

    pub(crate) fn into_wit(self) -> t::Description {
        let c = self.capabilities;
        t::Description {
            name: self.name,
            version: self.version,
            summary: self.summary,
            options: self.options.into_iter().map(OptionSpec::into_wit).collect(),
            capabilities: t::Capabilities {
                container: c.container,
                emulation: c.emulation,
                gpu: c.gpu,
                network_during_build: c.network_during_build,
                image_network: c.image_network,
                publish: c.publish,
                env_vars: c.env_vars,
            },
        }
    }
}
