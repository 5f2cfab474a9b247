//! Byte sizes as people type them: `4096`, `512K`, `100M`, `1.5G` (binary units, like `ps`).

use crate::error::{Error, Result};

/// Parse a size in bytes; suffixes `K`, `M`, `G`, `T` (powers of 1024), optionally followed by
/// `B` or `iB`, any case.
///
/// ```
/// assert_eq!(tether::size::parse_size("1.5K").unwrap(), 1536);
/// assert_eq!(tether::size::parse_size("100MiB").unwrap(), 100 << 20);
/// ```
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let bad = || {
        Error::invalid(format!(
            "invalid size '{s}' (use e.g. 4096, 512K, 100M, 1.5G)"
        ))
    };
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.to_ascii_uppercase();
    let unit = unit.trim_end_matches("IB").trim_end_matches('B');
    let mult = match unit {
        "" => 1u64,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(bad()),
    };
    let bytes = v * mult as f64;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}
