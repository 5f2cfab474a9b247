//! Output helpers: the one way to write to stdout and stderr, JSON reports, aligned tables,
//! human units, and escaping of text that comes from other processes.
//!
//! Every byte a command prints on stdout goes through [`write_out`] (the [`outln!`] and
//! [`out!`] macros), and every diagnostic through [`diag!`], so that write errors are handled
//! in one place and never panic (`println!` and `eprintln!` panic when a write fails):
//!
//! - a closed pipe on stdout (EPIPE) is not an error: output stops quietly and the command
//!   exits with the status it would have had;
//! - any other stdout error (e.g. ENOSPC on /dev/full) prints one `tether: write error: ...`
//!   line on stderr at once, output stops, and the command exits 1 when it ends ([`exit`])
//!   (`run` and the `timeout` link say `tether run:` / `timeout:` and exit 125, as GNU
//!   `timeout` does: see [`set_program`]);
//!   the command still finishes, so that what it did and any error of its own are reported;
//! - errors writing to stderr are ignored (there is nowhere left to report them).

use std::borrow::Cow;
use std::io::Write;
use std::sync::Mutex;

use tether_report::{tagged, Report};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Options every command sees.
pub struct Ctx {
    /// `--json` was given.
    pub json: bool,
}

/// Exit code after a stdout write error other than a closed pipe (unless [`set_program`]
/// says otherwise).
pub const EXIT_WRITE_ERROR: i32 = 1;

struct Out {
    buf: Vec<u8>,
    /// Output has stopped (a closed pipe or a write error): everything further is discarded.
    closed: bool,
    /// A write error other than a closed pipe happened: the exit status becomes `fail_code`.
    failed: bool,
    /// Who says "write error" ...
    prog: &'static str,
    /// ... and the exit status after one.
    fail_code: i32,
}

static OUT: Mutex<Out> = Mutex::new(Out {
    buf: Vec::new(),
    closed: false,
    failed: false,
    prog: "tether",
    fail_code: EXIT_WRITE_ERROR,
});

/// The name that prefixes the write-error line and the exit status after a write error, for
/// commands with their own conventions: `set_program("timeout", 125)` makes a failed write say
/// `timeout: write error: …` and exit 125, as GNU `timeout` does.
// Called by `cmd::run` (its own help, version and `--json` report): wired in at the merge with
// the `run` changes of the same phase.
pub fn set_program(prog: &'static str, write_error_code: i32) {
    let mut o = OUT.lock().unwrap_or_else(|p| p.into_inner());
    o.prog = prog;
    o.fail_code = write_error_code;
}

/// Buffer size at which stdout is flushed before more is added.
const FLUSH_AT: usize = 64 * 1024;

/// Append formatted text to stdout (buffered; see the module docs for errors).
pub fn write_out(args: std::fmt::Arguments<'_>) {
    let mut o = OUT.lock().unwrap_or_else(|p| p.into_inner());
    if o.closed {
        return;
    }
    let _ = o.buf.write_fmt(args);
    if o.buf.len() >= FLUSH_AT {
        flush_locked(&mut o);
    }
}

/// Whether output has stopped (a closed pipe or a write error): a follower can stop.
pub fn is_closed() -> bool {
    OUT.lock().unwrap_or_else(|p| p.into_inner()).closed
}

/// Append raw bytes to stdout.
pub fn write_out_bytes(bytes: &[u8]) {
    let mut o = OUT.lock().unwrap_or_else(|p| p.into_inner());
    if o.closed {
        return;
    }
    o.buf.extend_from_slice(bytes);
    if o.buf.len() >= FLUSH_AT {
        flush_locked(&mut o);
    }
}

/// Write what is buffered. A closed pipe ends output quietly; other errors print one line on
/// stderr and make [`exit`] exit with [`EXIT_WRITE_ERROR`] (see [`set_program`]).
pub fn flush() {
    let mut o = OUT.lock().unwrap_or_else(|p| p.into_inner());
    flush_locked(&mut o);
}

fn flush_locked(o: &mut Out) {
    if o.closed || o.buf.is_empty() {
        o.buf.clear();
        return;
    }
    let res = {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&o.buf).and_then(|()| stdout.flush())
    };
    o.buf.clear();
    if let Err(e) = res {
        stdout_failed(o, &e);
    }
}

/// A stdout write failed: output stops; a closed pipe is quiet, anything else is said once.
fn stdout_failed(o: &mut Out, e: &std::io::Error) {
    o.closed = true;
    if e.kind() != std::io::ErrorKind::BrokenPipe && !o.failed {
        o.failed = true;
        let line = format!("{}: write error: {}\n", o.prog, plain_io_error(e));
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// Print clap's help, version or argument error (in colour where clap would use it) under the
/// rules of this module: help and version go to stdout, where a closed pipe is quiet and any
/// other write error exits [`EXIT_WRITE_ERROR`]; argument errors go to stderr.
pub fn clap_message(e: &clap::Error) {
    let mut o = OUT.lock().unwrap_or_else(|p| p.into_inner());
    flush_locked(&mut o);
    if o.closed && !e.use_stderr() {
        return;
    }
    // clap writes through std's line-buffered stdout: flush it to see every error.
    let res = e.print().and_then(|()| std::io::stdout().flush());
    if let Err(err) = res {
        if !e.use_stderr() {
            stdout_failed(&mut o, &err);
        }
    }
}

/// Flush stdout and, if a write to it failed (other than on a closed pipe), exit now with the
/// failure code (see [`set_program`]). For a command that ends otherwise than through [`exit`]:
/// `run` ends as its command did, by re-raising the command's signal.
// Called by `cmd::run` after its `--json` report: wired in at the merge with the `run` changes.
pub fn end_output() {
    let mut o = OUT.lock().unwrap_or_else(|p| p.into_inner());
    flush_locked(&mut o);
    if o.failed {
        std::process::exit(o.fail_code);
    }
}

/// Flush stdout, then exit with `code`, or with [`EXIT_WRITE_ERROR`] (see [`set_program`]) if a
/// write to stdout failed (other than on a closed pipe). Every way out of the CLI goes through
/// here (`run`'s too, once the command has ended).
pub fn exit(code: i32) -> ! {
    let mut o = OUT.lock().unwrap_or_else(|p| p.into_inner());
    flush_locked(&mut o);
    std::process::exit(if o.failed { o.fail_code } else { code })
}

/// An I/O error's text without Rust's " (os error N)" suffix.
pub fn plain_io_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// `println!` for stdout that never panics (see the module docs).
macro_rules! outln {
    () => { $crate::output::write_out_bytes(b"\n") };
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for stdout that never panics (see the module docs).
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_out(format_args!($($arg)*)) };
}

/// `eprintln!` that never panics: a line on stderr, write errors ignored. What is buffered for
/// stdout is written first, so that on a terminal the two streams appear in the order printed.
macro_rules! diag {
    ($($arg:tt)*) => { $crate::output::write_diag(format_args!($($arg)*)) };
}

/// One line on stderr (see [`diag!`]).
pub fn write_diag(args: std::fmt::Arguments<'_>) {
    flush();
    // One write, so that lines from several processes sharing stderr do not interleave.
    let line = format!("{args}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// Print a report as one JSON document on stdout.
pub fn print_report<R: Report>(r: &R) {
    let mut o = OUT.lock().unwrap_or_else(|p| p.into_inner());
    if o.closed {
        return;
    }
    let _ = serde_json::to_writer_pretty(&mut o.buf, &tagged(r));
    o.buf.push(b'\n');
    if o.buf.len() >= FLUSH_AT {
        flush_locked(&mut o);
    }
}

/// Text from another process (a name, a command line, a path) made safe for a terminal:
/// control characters (C0, DEL, C1) and the Unicode controls that reorder or hide text are
/// shown as escapes (`\n`, `\t`, `\x1b`, `\u{202e}`), so a process name can neither drive
/// the terminal nor forge a line of a table. JSON output is never escaped this way.
///
/// ```text
/// "x\x1b[2J\nFAKE" is shown as x\x1b[2J\nFAKE
/// ```
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        // Bidirectional overrides and isolates, and zero-width characters that hide text.
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// A table with left- or right-aligned columns; the last column is never padded. Every cell is
/// escaped (see [`escape`]) when the table is written, so that no cell can drive the terminal
/// or forge a row, whichever command filled it.
pub struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
    no_headers: bool,
}

impl Table {
    /// A table with these headers; `right[i]` right-aligns column `i` (numbers).
    pub fn new(headers: Vec<&'static str>, right: Vec<bool>) -> Self {
        Table {
            headers,
            right,
            rows: Vec::new(),
            no_headers: false,
        }
    }

    /// Leave out the header line (`ps --no-headers`).
    pub fn without_headers(mut self) -> Self {
        self.no_headers = true;
        self
    }

    /// Add a row.
    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The table as text, one line per row, each ending in a newline.
    pub fn render(&self) -> String {
        let n = self.headers.len();
        let rows: Vec<Vec<Cow<'_, str>>> = self
            .rows
            .iter()
            .map(|r| r.iter().take(n).map(|c| escape(c)).collect())
            .collect();
        let mut width: Vec<usize> = if self.no_headers {
            vec![0; n]
        } else {
            self.headers.iter().map(|h| h.width()).collect()
        };
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.width());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &mut dyn Iterator<Item = &str>| {
            let start = out.len();
            for (i, c) in cells.enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let pad = width[i].saturating_sub(c.width());
                if self.right[i] {
                    out.extend(std::iter::repeat_n(' ', pad));
                    out.push_str(c);
                } else {
                    out.push_str(c);
                    if i + 1 < n {
                        out.extend(std::iter::repeat_n(' ', pad));
                    }
                }
            }
            out.truncate(start + out[start..].trim_end().len());
            out.push('\n');
        };
        if !self.no_headers {
            line(&mut self.headers.iter().copied());
        }
        for r in &rows {
            line(&mut r.iter().map(|c| c.as_ref()));
        }
        out
    }

    /// Write the table to `out`.
    pub fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(self.render().as_bytes())
    }

    /// Write to stdout (see the module docs for errors).
    pub fn print(&self) {
        write_out_bytes(self.render().as_bytes());
    }
}

/// Where human output is cut, like procps `ps`: the terminal's width (`COLUMNS` when set, else
/// the window size, else 80) when stdout is a terminal; `None` (never cut) when it is not.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0);
    let from_tty = || {
        // SAFETY: TIOCGWINSZ fills the winsize we own; stdout is a terminal.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
        (ok && ws.ws_col > 0).then_some(ws.ws_col as usize)
    };
    Some(from_env.or_else(from_tty).unwrap_or(80))
}

/// Cut every line of `text` to `width` terminal columns (wide characters count two).
pub fn fit(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        let mut used = 0;
        for c in body.chars() {
            used += c.width().unwrap_or(0);
            if used > width {
                break;
            }
            out.push(c);
        }
        out.push_str(nl);
    }
    out
}

/// A count with its noun: `1 process`, `3 processes`.
pub fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
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

    #[test]
    fn table_escapes_cells_and_can_drop_headers() {
        let mut t = Table::new(vec!["PID", "NAME"], vec![true, false]).without_headers();
        t.push(vec!["7".into(), "x\u{1b}[2J\nFAKE 1 root".into()]);
        t.push(vec!["12".into(), "日本".into()]);
        assert_eq!(t.render(), " 7 x\\x1b[2J\\nFAKE 1 root\n12 日本\n");
    }

    #[test]
    fn fit_cuts_each_line_to_columns() {
        assert_eq!(fit("abcdef\nab\n", 4), "abcd\nab\n");
        assert_eq!(fit("日本語\n", 5), "日本\n");
        assert_eq!(fit("└─ 12 x", 4), "└─ 1");
        assert_eq!(fit("no newline", 2), "no");
    }

    #[test]
    fn escaping() {
        assert!(matches!(escape("sleep 60"), Cow::Borrowed(_)));
        assert_eq!(escape("x\u{1b}[2J\nFAKE 1 root"), "x\\x1b[2J\\nFAKE 1 root");
        assert_eq!(escape("a\tb\u{7f}\u{85}"), "a\\tb\\x7f\\u{85}");
        assert_eq!(escape("evil\u{202e}txt"), "evil\\u{202e}txt");
        assert_eq!(escape("ünïcode ok"), "ünïcode ok");
    }
}
