//! `describe` spins forever: the host must stop it at its time limit.
use hostbuild_sdk::*;

struct LoopForever;

impl Platform for LoopForever {
    fn describe() -> Description {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    fn image(_: &Options) -> Result<Vec<ImageRecipe>> {
        Ok(Vec::new())
    }
}

export_platform!(LoopForever);
