//! Sizes as people write them: `1024`, `512K`, `8G`, `1.5T` (binary units;
//! a trailing `B`/`iB` is accepted, case does not matter).

use std::fmt;
use std::str::FromStr;

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl Size {
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for Size {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim().to_ascii_uppercase();
        let t = t.strip_suffix("IB").or_else(|| t.strip_suffix('B')).unwrap_or(&t);
        let (number, shift) = match t.chars().last() {
            Some('K') => (&t[..t.len() - 1], 10),
            Some('M') => (&t[..t.len() - 1], 20),
            Some('G') => (&t[..t.len() - 1], 30),
            Some('T') => (&t[..t.len() - 1], 40),
            _ => (t, 0),
        };
        let bad = || format!("`{text}` is not a size: write e.g. 512M, 8G or 1024");
        let value: f64 = number.trim().parse().map_err(|_| bad())?;
        if !value.is_finite() || value < 0.0 {
            return Err(bad());
        }
        let bytes = value * (1u64 << shift) as f64;
        if bytes > u64::MAX as f64 {
            return Err(bad());
        }
        Ok(Size(bytes as u64))
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] {
            if self.0 >= 1 << shift && self.0.is_multiple_of(1 << shift) {
                return write!(f, "{}{unit}", self.0 >> shift);
            }
        }
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Size;

    #[test]
    fn reads_and_writes_sizes() {
        assert_eq!("8G".parse::<Size>().unwrap(), Size(8 << 30));
        assert_eq!("512mib".parse::<Size>().unwrap(), Size(512 << 20));
        assert_eq!("1.5K".parse::<Size>().unwrap(), Size(1536));
        assert_eq!("1024".parse::<Size>().unwrap(), Size(1024));
        assert!("lots".parse::<Size>().is_err());
        assert!("-1G".parse::<Size>().is_err());
        assert_eq!(Size(64 << 30).to_string(), "64G");
        assert_eq!(Size(1000).to_string(), "1000");
    }
}
