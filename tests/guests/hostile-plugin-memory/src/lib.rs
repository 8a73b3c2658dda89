//! `describe` grows the plugin's own linear memory by 40 MiB, under any
//! limit of 64 MiB on its own. The hostile test adds two core instances
//! with 20 MiB memories each to the component (`plugin_memory.rs`): every
//! memory alone stays under the limit, together they pass it.
use hostbuild_sdk::*;

struct HostilePluginMemory;

/// What `describe` allocates and touches.
const GROWTH: usize = 40 << 20;

impl Platform for HostilePluginMemory {
    fn describe() -> Description {
        let block = std::hint::black_box(vec![1u8; GROWTH]);
        let summary = format!("Grew its memory by {} MiB", block.len() >> 20);
        Description::new("hostile-plugin-memory", "0.1.0", &summary)
    }

    fn image(_: &Options) -> Result<Vec<ImageRecipe>> {
        Ok(Vec::new())
    }

    fn build(_: &Context) -> Result<BuildReport> {
        Ok(BuildReport::new())
    }

    fn detect_artifacts(_: &Context) -> Result<Vec<Artifact>> {
        Ok(Vec::new())
    }
}

export_platform!(HostilePluginMemory);
