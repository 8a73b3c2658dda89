//! The README's plugin author guide example, verbatim.
include!(concat!(env!("OUT_DIR"), "/guide.rs"));
