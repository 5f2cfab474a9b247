//! Durations in the forms people type: GNU (`5`, `1.5`, `2m`, `1d`) and Go (`500ms`, `1h30m`).

use std::time::Duration;

use crate::error::{Error, Result};

/// Parse a duration. A bare number is seconds. Units: `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`, `d`;
/// several may follow each other (`1h30m`, `2m30.5s`). `0` is zero, which callers that take a
/// limit read as "no limit", as GNU `timeout` does.
///
/// ```
/// use std::time::Duration;
/// use tether::duration::parse_duration;
/// assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
/// assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
/// assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
/// assert!(parse_duration("5x").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = |why: &str| {
        Error::invalid(format!(
            "invalid duration '{s}': {why} (use e.g. 5, 1.5, 2m, 1d, 500ms, 1h30m)"
        ))
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(bad("empty"));
    }
    let mut rest = t;
    let mut total = 0f64;
    let mut first = true;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad("expected a number"));
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad("bad number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "" if first && rest.is_empty() => 1.0,
            "" => return Err(bad("missing unit")),
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(bad("unknown unit")),
        };
        total += value * scale;
        first = false;
    }
    if !total.is_finite() || total > 1e12 {
        return Err(bad("too large"));
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let ms = |s| parse_duration(s).unwrap().as_millis();
        assert_eq!(ms("0"), 0);
        assert_eq!(ms("5"), 5000);
        assert_eq!(ms("0.25"), 250);
        assert_eq!(ms(".5"), 500);
        assert_eq!(ms("2m"), 120_000);
        assert_eq!(ms("1d"), 86_400_000);
        assert_eq!(ms("1.5h"), 5_400_000);
        assert_eq!(ms("2m30s"), 150_000);
        assert_eq!(ms("10us"), 0);
        for bad in ["", "x", "5x", "-1", "1..2", "1h30", "s", "1e3", "inf"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
