//! Just enough ELF and `ar` reading to tell what a build produced.

/// What one output file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// A little-endian ELF file; `dynamic` when it has a dynamic section.
    Elf {
        machine: u16,
        shared_object: bool,
        dynamic: bool,
    },
    /// A static library (`ar` archive).
    Archive,
    Other,
}

pub const EM_ARM: u16 = 40;
pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;
const ET_DYN: u16 = 3;
const PT_DYNAMIC: u32 = 2;

pub fn classify(bytes: &[u8]) -> Binary {
    if bytes.starts_with(b"!<arch>\n") {
        return Binary::Archive;
    }
    // Little-endian (data 1) only: every machine hostbuild builds for.
    if !bytes.starts_with(b"\x7fELF") || bytes.len() < 64 || bytes[5] != 1 {
        return Binary::Other;
    }
    let u16_at = |o: usize| bytes.get(o..o + 2).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |o: usize| bytes.get(o..o + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let (phoff, phentsize, phnum) = match bytes[4] {
        1 => (u32_at(28).unwrap_or(0) as usize, u16_at(42) as usize, u16_at(44) as usize),
        2 => (u32_at(32).unwrap_or(0) as usize, u16_at(54) as usize, u16_at(56) as usize),
        _ => return Binary::Other,
    };
    let dynamic = (0..phnum).any(|i| u32_at(phoff + i * phentsize) == Some(PT_DYNAMIC));
    Binary::Elf { machine: u16_at(18), shared_object: u16_at(16) == ET_DYN, dynamic }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_32_bit_headers() {
        let mut elf = vec![0u8; 52 + 32];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 1;
        elf[5] = 1;
        elf[16] = 3;
        elf[18] = 40;
        elf[28] = 52;
        elf[42] = 32;
        elf[44] = 1;
        elf[52] = 2;
        assert_eq!(classify(&elf), Binary::Elf { machine: EM_ARM, shared_object: true, dynamic: true });
        elf[52] = 1;
        assert_eq!(classify(&elf), Binary::Elf { machine: EM_ARM, shared_object: true, dynamic: false });
        assert_eq!(classify(b"!<arch>\nxyz"), Binary::Archive);
        assert_eq!(classify(b"text"), Binary::Other);
    }

    #[test]
    fn reads_64_bit_headers() {
        let mut elf = vec![0u8; 64 + 56 * 2];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2;
        elf[5] = 1;
        elf[16] = 2;
        elf[18] = 62;
        elf[32] = 64;
        elf[54] = 56;
        elf[56] = 2;
        elf[64] = 6;
        assert_eq!(classify(&elf), Binary::Elf { machine: EM_X86_64, shared_object: false, dynamic: false });
        elf[64 + 56] = 2;
        assert_eq!(classify(&elf), Binary::Elf { machine: EM_X86_64, shared_object: false, dynamic: true });
    }
}
