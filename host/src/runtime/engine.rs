//! The process-wide wasmtime [`Engine`] and the thread that ticks its epoch.

use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{Config, Engine};

/// How often the epoch advances; the granularity of plugin time limits.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Version of the wasmtime crate the host is built with (kept in step with
/// the pin in the workspace `Cargo.toml`); part of the compile cache key.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// The one engine of this process, with its epoch ticker started.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let engine = Engine::new(&config()).expect("the engine configuration is valid");
        let ticker = engine.weak();
        std::thread::Builder::new()
            .name("hostbuild-epoch".into())
            .spawn(move || {
                while let Some(engine) = ticker.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .expect("can spawn the epoch thread");
        engine
    })
}

fn config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // One linear memory per core module: the limiter still sums all of a
    // component's memories, but a module cannot declare more.
    config.wasm_multi_memory(false);
    config
}
