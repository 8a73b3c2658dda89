//! `describe` panics, which traps: the host must say so and show the message.
use hostbuild_sdk::*;

struct Trap;

impl Platform for Trap {
    fn describe() -> Description {
        panic!("the trap guest panics on purpose");
    }
    fn image(_: &Options) -> Result<Vec<ImageRecipe>> {
        Ok(Vec::new())
    }
}

export_platform!(Trap);
