//! `describe` allocates 1 MiB blocks forever: the host must stop it at its
//! memory limit.
use hostbuild_sdk::*;

struct AllocForever;

impl Platform for AllocForever {
    fn describe() -> Description {
        let mut blocks: Vec<Vec<u8>> = Vec::new();
        loop {
            blocks.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
    }
    fn image(_: &Options) -> Result<Vec<ImageRecipe>> {
        Ok(Vec::new())
    }
}

export_platform!(AllocForever);
