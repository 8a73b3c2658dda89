//! Quantities as people write them on command lines and in hostbuild.toml:
//! sizes (`1024`, `512K`, `8G`, `1.5T`: binary units, a trailing `B`/`iB`
//! accepted, any case) and durations (`90`, `90s`, `30m`, `2h`, `1d`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

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

/// `12 B`, `15.1 KiB`, `3.2 MiB`, `3.00 GiB`: a size for people to read.
pub fn readable(bytes: u64) -> String {
    match bytes {
        b if b < 1 << 10 => format!("{b} B"),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b if b < 1 << 30 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64),
    }
}

/// A duration: whole seconds, or a number with `s`, `m`, `h` or `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim().to_ascii_lowercase();
        let (number, unit) = match t.chars().last() {
            Some(c @ ('s' | 'm' | 'h' | 'd')) => (&t[..t.len() - 1], c),
            _ => (t.as_str(), 's'),
        };
        let bad = || format!("`{text}` is not a duration: write e.g. 90s, 30m, 2h or 1d");
        let value: f64 = number.trim().parse().map_err(|_| bad())?;
        let seconds = value
            * match unit {
                'm' => 60.0,
                'h' => 3600.0,
                'd' => 86400.0,
                _ => 1.0,
            };
        Duration::try_from_secs_f64(seconds).ok().filter(|d| !d.is_zero()).map(Span).ok_or_else(bad)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        match s {
            s if s >= 3600 && s % 3600 == 0 => write!(f, "{}h", s / 3600),
            s if s >= 60 && s % 60 == 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{readable, Size, Span};
    use std::time::Duration;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(readable(15472), "15.1 KiB");
        assert_eq!(readable(12), "12 B");
        assert_eq!(readable(3 << 30), "3.00 GiB");
    }

    #[test]
    fn reads_and_writes_durations() {
        assert_eq!("90".parse::<Span>().unwrap(), Span(Duration::from_secs(90)));
        assert_eq!("30m".parse::<Span>().unwrap(), Span(Duration::from_secs(1800)));
        assert_eq!("2H".parse::<Span>().unwrap().to_string(), "2h");
        assert_eq!("1.5s".parse::<Span>().unwrap(), Span(Duration::from_millis(1500)));
        assert!("0".parse::<Span>().is_err() && "soon".parse::<Span>().is_err() && "-1m".parse::<Span>().is_err());
    }

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
