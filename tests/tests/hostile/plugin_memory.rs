//! Hole 11 (plugin runtime): the memory limit covers all of a plugin's
//! memories and tables together, not each linear memory alone. A component
//! holds several core instances, each with its own memory (multi-memory is
//! off, so one per module); the attack adds more of them to a real
//! SDK-built component, so that every memory stays under the limit while
//! together they pass it.

use std::path::{Path, PathBuf};

use hostbuild_tests::{guest, Hostbuild, Run};

use super::common::{leb128, with_section};

/// A core module with `count` memories (more than one needs multi-memory)
/// of `pages` 64 KiB pages each.
fn memory_module(count: u32, pages: u32) -> Vec<u8> {
    let mut memory = leb128(count);
    for _ in 0..count {
        memory.push(0x00); // no maximum
        memory.extend(leb128(pages));
    }
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.push(0x05); // memory section
    module.extend(leb128(memory.len() as u32));
    module.extend(memory);
    module
}

/// How many core modules the component defines at its top level (the next
/// module's index).
fn top_level_modules(component: &[u8]) -> u32 {
    let (mut at, mut count) = (8, 0);
    while at < component.len() {
        let id = component[at];
        let (mut size, mut shift) = (0usize, 0);
        at += 1;
        loop {
            let byte = component[at];
            at += 1;
            size |= usize::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        count += u32::from(id == 1);
        at += size;
    }
    count
}

/// The hostile-plugin-memory guest plus `instances` core instances of a
/// module with `memories` memories of 20 MiB, written to `dir`.
fn with_extra_memories(dir: &Path, instances: u32, memories: u32) -> PathBuf {
    let component = std::fs::read(guest("hostile-plugin-memory")).unwrap();
    let module_index = top_level_modules(&component);
    assert!(module_index > 0, "the SDK component defines core modules");
    let component = with_section(&component, 1, &memory_module(memories, 320));
    // Core instance section: `instances` times `(instantiate module_index)`.
    let mut section = leb128(instances);
    for _ in 0..instances {
        section.push(0x00);
        section.extend(leb128(module_index));
        section.push(0x00); // no arguments
    }
    let component = with_section(&component, 2, &section);
    let path = dir.join(format!("hostile-plugin-memory-{instances}x{memories}.wasm"));
    std::fs::write(&path, component).unwrap();
    path
}

fn inspect(hb: &Hostbuild, plugin: &Path, limit_mib: &str) -> Run {
    hb.run(["inspect".as_ref(), plugin.as_os_str(), "--plugin-memory-limit".as_ref(), limit_mib.as_ref()])
}

#[test]
fn memories_of_several_core_instances_count_together() {
    let hb = Hostbuild::new();
    let dir = tempfile::tempdir().unwrap();
    // Alone, the guest grows its own memory to about 41 MiB: under 64.
    inspect(&hb, &guest("hostile-plugin-memory"), "64").expect(0, &[]);
    // Two more core instances with 20 MiB each: every memory under 64 MiB,
    // about 81 MiB together. The guest's growth in `describe` is refused.
    let attack = with_extra_memories(dir.path(), 2, 1);
    let run = inspect(&hb, &attack, "64");
    run.expect(6, &["plugin `hostile-plugin-memory-2x1` exceeded its memory limit of 64 MiB in `describe`", "hint:"]);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // It is a valid component that runs when the total fits.
    let fits = inspect(&hb, &attack, "128");
    fits.expect(0, &[]);
    assert!(fits.stdout.contains("Grew its memory by 40 MiB"), "{}", fits.stdout);
    // Four of them pass the limit while the component starts (80 MiB).
    let run = inspect(&hb, &with_extra_memories(dir.path(), 4, 1), "64");
    run.expect(6, &["needs more than its memory limit of 64 MiB just to start", "--plugin-memory-limit"]);
    // Two memories in one core module (multi-memory) are refused outright.
    let multi = with_extra_memories(dir.path(), 1, 2);
    inspect(&hb, &multi, "128").expect(4, &["multiple memories"]);
}
