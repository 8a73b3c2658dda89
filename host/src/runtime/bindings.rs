//! The single `bindgen!` of the host: the `hostbuild:platform` world.
//!
//! Every import is `async` (container steps and storage are I/O) and
//! `trappable` (a host-side bug traps the plugin instead of lying to it).

wasmtime::component::bindgen!({
    world: "platform",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});

pub use self::hostbuild::platform::{artifacts, container, host_info, log, types, workspace};
pub use exports::hostbuild::platform::plugin;
