//! What a plugin says about itself (`describe`) and the options it is given.

/// How an option's value is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionKind {
    Text,
    Boolean,
    Integer,
    /// One of these words.
    Choice(Vec<String>),
}

/// One option a plugin accepts (`--opt NAME=VALUE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionSpec {
    pub name: String,
    pub summary: String,
    pub kind: OptionKind,
    pub default: Option<String>,
}

/// A typed option value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypedValue {
    Text(String),
    Boolean(bool),
    Integer(i64),
}

/// An option as the plugin is given it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionValue {
    pub name: String,
    pub value: TypedValue,
}

/// What a plugin may use: what it declared, or (`Grants::allow`) what it
/// declared and was granted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    pub container: bool,
    /// Architectures it runs under QEMU, by their names in
    /// `architectures.tsv` (`arm`, `arm64`).
    pub emulation: Vec<String>,
    pub gpu: bool,
    pub network_during_build: bool,
    pub image_network: bool,
    pub publish: bool,
    pub env_vars: Vec<String>,
}

/// A plugin's answer to `describe`, before `description::validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    pub name: String,
    pub version: String,
    pub summary: String,
    pub options: Vec<OptionSpec>,
    pub capabilities: Capabilities,
}
