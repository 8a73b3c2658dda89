//! hostbuild: a build host whose platforms are sandboxed WebAssembly
//! components. Module map: `cli` (clap definitions), `commands` (one file
//! per subcommand), `runtime` (engine, compile cache, bindings, limits),
//! `capabilities` (one folder per WIT interface), `description` and
//! `options` (what a plugin declares, checked), `diagnostics` (error →
//! message, hint, exit status).

pub mod artifact;
pub mod capabilities;
pub mod cli;
pub mod commands;
pub mod description;
pub mod diagnostics;
pub mod options;
pub mod project;
pub mod registry;
pub mod runtime;
