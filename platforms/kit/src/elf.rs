//! Just enough ELF and `ar` reading to tell what a build produced.

/// What one output file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// A 32-bit ARM ELF file; `dynamic` when it has a dynamic section.
    Arm {
        shared_object: bool,
        dynamic: bool,
    },
    /// An ELF file for another machine (e_machine given).
    OtherElf(u16),
    /// A static library (`ar` archive).
    Archive,
    Other,
}

const EM_ARM: u16 = 40;
const ET_DYN: u16 = 3;
const PT_DYNAMIC: u32 = 2;

pub fn classify(bytes: &[u8]) -> Binary {
    if bytes.starts_with(b"!<arch>\n") {
        return Binary::Archive;
    }
    if !bytes.starts_with(b"\x7fELF") || bytes.len() < 52 {
        return Binary::Other;
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u32_at = |o: usize| bytes.get(o..o + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let machine = u16_at(18);
    // 32-bit (class 1), little-endian (data 1), ARM.
    if bytes[4] != 1 || bytes[5] != 1 || machine != EM_ARM {
        return Binary::OtherElf(machine);
    }
    let (phoff, phentsize, phnum) = (u32_at(28).unwrap_or(0) as usize, u16_at(42) as usize, u16_at(44) as usize);
    let dynamic = (0..phnum).any(|i| u32_at(phoff + i * phentsize) == Some(PT_DYNAMIC));
    Binary::Arm { shared_object: u16_at(16) == ET_DYN, dynamic }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_headers() {
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
        assert_eq!(classify(&elf), Binary::Arm { shared_object: true, dynamic: true });
        elf[52] = 1;
        assert_eq!(classify(&elf), Binary::Arm { shared_object: true, dynamic: false });
        elf[18] = 62;
        assert_eq!(classify(&elf), Binary::OtherElf(62));
        assert_eq!(classify(b"!<arch>\nxyz"), Binary::Archive);
        assert_eq!(classify(b"text"), Binary::Other);
    }
}
