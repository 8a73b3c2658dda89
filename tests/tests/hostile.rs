//! Hostile plugins attacking the sandbox for real (SECURITY.md lists each
//! guarantee and the test here that proves it). Every test runs a guest from
//! `tests/guests/hostile-*` (or a plugin, store or project file an attacker
//! could ship) against the real Docker engine and a real store, and asserts
//! three things: the attack is refused with a clear error and exit status,
//! nothing outside the lent trees was read, written or retagged (marker files
//! and image ids checked before and after), and no container is left.
//!
//! One module per hole, named after it, in `tests/tests/hostile/` (declared
//! with `#[path]`: this file is the test binary's root).

#[path = "hostile/artifacts.rs"]
mod artifacts;
#[path = "hostile/common.rs"]
mod common;
#[path = "hostile/compile_cache.rs"]
mod compile_cache;
#[path = "hostile/gpu_env.rs"]
mod gpu_env;
#[path = "hostile/image_network.rs"]
mod image_network;
#[path = "hostile/images.rs"]
mod images;
#[path = "hostile/output_files.rs"]
mod output_files;
#[path = "hostile/plugin_memory.rs"]
mod plugin_memory;
#[path = "hostile/poisoning.rs"]
mod poisoning;
#[path = "hostile/privileges.rs"]
mod privileges;
#[path = "hostile/reaping.rs"]
mod reaping;
#[path = "hostile/sources.rs"]
mod sources;
#[path = "hostile/step_logs.rs"]
mod step_logs;
#[path = "hostile/step_summary.rs"]
mod step_summary;
#[path = "hostile/store_contents.rs"]
mod store_contents;
#[path = "hostile/terminal.rs"]
mod terminal;
