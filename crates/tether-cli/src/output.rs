//! Output helpers: JSON reports, aligned tables, human units.

use std::io::Write;

use tether::report::{tagged, Report};

/// Options every command sees.
pub struct Ctx {
    /// `--json` was given.
    pub json: bool,
}

/// Print a report as one JSON document on stdout.
pub fn print_report<R: Report>(r: &R) {
    // Block-buffered: stdout's own buffer flushes at every newline of the pretty output.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let _ = serde_json::to_writer_pretty(&mut out, &tagged(r));
    let _ = writeln!(out);
    let _ = out.flush();
}

/// A table with left- or right-aligned columns; the last column is never padded.
pub struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these headers; `right[i]` right-aligns column `i` (numbers).
    pub fn new(headers: Vec<&'static str>, right: Vec<bool>) -> Self {
        Table {
            headers,
            right,
            rows: Vec::new(),
        }
    }

    /// Add a row.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// Write the table to `out`.
    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        let n = self.headers.len();
        let mut width: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line =
            |cells: &mut dyn Iterator<Item = &str>, out: &mut dyn Write| -> std::io::Result<()> {
                let mut s = String::new();
                for (i, c) in cells.enumerate() {
                    if i > 0 {
                        s.push(' ');
                    }
                    let pad = width[i].saturating_sub(c.chars().count());
                    if i + 1 == n {
                        if self.right[i] {
                            s.extend(std::iter::repeat_n(' ', pad));
                        }
                        s.push_str(c);
                    } else if self.right[i] {
                        s.extend(std::iter::repeat_n(' ', pad));
                        s.push_str(c);
                    } else {
                        s.push_str(c);
                        s.extend(std::iter::repeat_n(' ', pad));
                    }
                }
                writeln!(out, "{}", s.trim_end())
            };
        line(&mut self.headers.iter().copied(), out)?;
        for r in &self.rows {
            line(&mut r.iter().map(String::as_str), out)?;
        }
        Ok(())
    }

    /// Write to stdout, ignoring a closed pipe.
    pub fn print(&self) {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let _ = self.write(&mut out);
        let _ = out.flush();
    }
}

/// Bytes as `12.3M`, like `ps`/`top` human units.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else if v < 10.0 {
        format!("{v:.1}{}", UNITS[u])
    } else {
        format!("{v:.0}{}", UNITS[u])
    }
}

/// Milliseconds as a compact age: `850ms`, `12s`, `3m04s`, `2h05m`, `3d04h`.
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0 => format!("{ms}ms"),
        1..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// CPU time in ms as `[[dd-]hh:]mm:ss`, like `ps` TIME.
pub fn cpu_time(ms: u64) -> String {
    let s = ms / 1000;
    let (d, h, m, sec) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{sec:02}")
    } else if h > 0 {
        format!("{h:02}:{m:02}:{sec:02}")
    } else {
        format!("{m:02}:{sec:02}")
    }
}

/// Unix milliseconds as local `YYYY-MM-DD HH:MM:SS` (UTC when the zone is unknown).
pub fn timestamp(ms: u64) -> String {
    let secs = (ms / 1000) as libc::time_t;
    // SAFETY: localtime_r writes into the tm we own.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return format!("@{}", ms / 1000);
        }
        tm
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(bytes(512), "512B");
        assert_eq!(bytes(1536), "1.5K");
        assert_eq!(bytes(50 * 1024 * 1024), "50M");
        assert_eq!(age(850), "850ms");
        assert_eq!(age(184_000), "3m04s");
        assert_eq!(cpu_time(3_723_000), "01:02:03");
        assert_eq!(cpu_time(65_000), "01:05");
    }

    #[test]
    fn table_alignment() {
        let mut t = Table::new(vec!["PID", "NAME"], vec![true, false]);
        t.push(vec!["7".into(), "a b".into()]);
        t.push(vec!["1234".into(), "x".into()]);
        let mut v = Vec::new();
        t.write(&mut v).unwrap();
        assert_eq!(
            String::from_utf8(v).unwrap(),
            " PID NAME\n   7 a b\n1234 x\n"
        );
    }
}
