include!("../../container-steps/src/lib.rs");
