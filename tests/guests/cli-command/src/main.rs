//! A plain `wasi:cli` command: a component of another world.
fn main() {
    println!("hello from a command");
}
