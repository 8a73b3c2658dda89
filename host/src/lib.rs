//! hostbuild: a build host whose platforms are sandboxed WebAssembly
//! components. Module map: `cli` (clap definitions), `commands` (one file
//! per subcommand), `runtime` (engine, compile cache, bindings, limits,
//! the conversion of generated WIT types), `model` (hostbuild's own types
//! for what plugins say),
//! `capabilities` (one folder per WIT interface: binding, backend trait,
//! backends), `docker` (the engine, owned containers, images, names),
//! `store` (object stores), `console` (stderr, live display, JSON events),
//! `arch` (the architecture table), `description` and `options` (what a
//! plugin declares, checked), `output_tree` (the trees a plugin's work
//! lands in, touched safely), `pipeline` (one platform's run: images,
//! build, checks, publishing), `diagnostics` (the `Diagnose` trait each
//! error type implements; error → message, hint, exit status).

pub mod arch;
pub mod artifact;
pub mod capabilities;
pub mod cli;
pub mod commands;
pub mod console;
pub mod description;
pub mod diagnostics;
pub mod docker;
pub mod interrupt;
pub mod model;
pub mod options;
pub mod output_tree;
pub mod pipeline;
pub mod project;
pub mod registry;
pub mod runtime;
pub mod store;
pub mod units;
