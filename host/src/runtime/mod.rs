//! The plugin runtime: one engine, a compile cache, the one `bindgen!`,
//! limits, and instances of loaded plugins.

pub mod bindings;
mod cache;
mod convert;
mod engine;
mod instance;
mod limits;
mod load;

pub use cache::{private_dir, CacheError, CacheOutcome, ModuleCache};
pub use engine::{engine, WASMTIME_VERSION};
pub use instance::{CallError, HostState, Plugin};
pub use limits::{Limits, MemoryLimitExceeded, TimeLimitExceeded};
pub use load::{compatible, load_component, LoadError, LoadedComponent, HOST_WIT_VERSION};
