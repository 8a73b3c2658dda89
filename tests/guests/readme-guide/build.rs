//! Copies the Rust example of the README's plugin author guide (the first
//! ```rust block that starts with `// src/lib.rs`) into OUT_DIR, so the
//! guide is compiled, and kept true, by every `cargo xtask plugins`.
use std::path::Path;

fn main() {
    // Read at run time: the compiled build script is shared by checkouts
    // at other paths through the common CARGO_TARGET_DIR.
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let readme = Path::new(&manifest_dir).join("../../../README.md");
    println!("cargo:rerun-if-changed={}", readme.display());
    let text = std::fs::read_to_string(&readme).expect("README.md is readable");
    let start = text.find("```rust\n// src/lib.rs").expect("the guide's example is in the README") + "```rust\n".len();
    let end = start + text[start..].find("```").expect("the example block is closed");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("guide.rs");
    std::fs::write(out, &text[start..end]).expect("OUT_DIR is writable");
}
