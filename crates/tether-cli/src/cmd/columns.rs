//! How each field looks in a table, and how it sorts.

use std::cmp::Ordering;

use tether::inspect::{Field, ProcessInfo};

use crate::output;

/// Column header of a field.
pub fn header(f: Field) -> &'static str {
    match f {
        Field::Pid => "PID",
        Field::Ppid => "PPID",
        Field::Pgid => "PGID",
        Field::Sid => "SID",
        Field::Tty => "TTY",
        Field::Name => "NAME",
        Field::Exe => "EXE",
        Field::Cmdline => "COMMAND",
        Field::State => "S",
        Field::Uid => "UID",
        Field::User => "USER",
        Field::Start => "START",
        Field::Elapsed => "ELAPSED",
        Field::Rss => "RSS",
        Field::Vsz => "VSZ",
        Field::CpuTime => "TIME",
        Field::Cpu => "%CPU",
        Field::Threads => "THR",
        Field::Env => "ENV",
        Field::Identity => "IDENTITY",
        // A field added to the library after this table: its name until it gets a header.
        _ => f.name(),
    }
}

/// Whether the column holds numbers (right-aligned).
pub fn numeric(f: Field) -> bool {
    matches!(
        f,
        Field::Pid
            | Field::Ppid
            | Field::Pgid
            | Field::Sid
            | Field::Uid
            | Field::Elapsed
            | Field::Rss
            | Field::Vsz
            | Field::CpuTime
            | Field::Cpu
            | Field::Threads
    )
}

/// The cell text of a field; `-` when the field could not be read. Text that the process
/// controls (name, command line, paths, environment, user names) is escaped for the terminal.
pub fn cell(p: &ProcessInfo, f: Field) -> String {
    let text = raw_cell(p, f);
    match f {
        Field::Name | Field::Exe | Field::Cmdline | Field::User | Field::Env | Field::Tty => {
            output::escape(&text).into_owned()
        }
        _ => text,
    }
}

fn raw_cell(p: &ProcessInfo, f: Field) -> String {
    fn or_dash<T: ToString>(v: Option<T>) -> String {
        v.map_or_else(|| "-".to_string(), |v| v.to_string())
    }
    match f {
        Field::Pid => p.pid.to_string(),
        Field::Ppid => or_dash(p.ppid),
        Field::Pgid => or_dash(p.pgid),
        Field::Sid => or_dash(p.sid),
        Field::Tty => p.tty.clone().unwrap_or_else(|| "?".into()),
        Field::Name => or_dash(p.name.as_ref()),
        Field::Exe => or_dash(p.exe.as_ref()),
        Field::Cmdline => p.command(),
        Field::State => or_dash(p.state.map(|s| s.letter())),
        Field::Uid => or_dash(p.uid),
        Field::User => or_dash(p.user.as_ref()),
        Field::Start => or_dash(p.start_time.map(|t| output::timestamp(unix_ms(t)))),
        Field::Elapsed => or_dash(p.elapsed.map(|d| output::age(d.as_millis() as u64))),
        Field::Rss => or_dash(p.rss_bytes.map(output::bytes)),
        Field::Vsz => or_dash(p.vsize_bytes.map(output::bytes)),
        Field::CpuTime => or_dash(cpu_ms(p).map(output::cpu_time)),
        Field::Cpu => or_dash(p.cpu_percent.map(|c| format!("{c:.1}"))),
        Field::Threads => or_dash(p.threads),
        Field::Env => or_dash(p.environ.as_ref().map(|e| e.join(" "))),
        Field::Identity => or_dash(p.identity.as_ref()),
        _ => "-".to_string(),
    }
}

fn cpu_ms(p: &ProcessInfo) -> Option<u64> {
    Some((p.cpu_user? + p.cpu_system?).as_millis() as u64)
}

/// Unix time in milliseconds.
fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

/// Order two processes by a field; absent values sort first.
pub fn compare(a: &ProcessInfo, b: &ProcessInfo, f: Field) -> Ordering {
    fn o<T: PartialOrd>(x: Option<T>, y: Option<T>) -> Ordering {
        x.partial_cmp(&y).unwrap_or(Ordering::Equal)
    }
    match f {
        Field::Pid => a.pid.cmp(&b.pid),
        Field::Ppid => o(a.ppid, b.ppid),
        Field::Pgid => o(a.pgid, b.pgid),
        Field::Sid => o(a.sid, b.sid),
        Field::Tty => o(a.tty.as_ref(), b.tty.as_ref()),
        Field::Name => o(a.name.as_ref(), b.name.as_ref()),
        Field::Exe => o(a.exe.as_ref(), b.exe.as_ref()),
        Field::Cmdline => a.command().cmp(&b.command()),
        Field::State => o(a.state.map(|s| s.letter()), b.state.map(|s| s.letter())),
        Field::Uid => o(a.uid, b.uid),
        Field::User => o(a.user.as_ref(), b.user.as_ref()),
        Field::Start => o(a.start_ticks, b.start_ticks),
        Field::Elapsed => o(a.elapsed, b.elapsed),
        Field::Rss => o(a.rss_bytes, b.rss_bytes),
        Field::Vsz => o(a.vsize_bytes, b.vsize_bytes),
        Field::CpuTime => o(cpu_ms(a), cpu_ms(b)),
        Field::Cpu => o(a.cpu_percent, b.cpu_percent),
        Field::Threads => o(a.threads, b.threads),
        Field::Env => o(
            a.environ.as_ref().map(Vec::len),
            b.environ.as_ref().map(Vec::len),
        ),
        // As the strings the column shows.
        Field::Identity => o(
            a.identity.as_ref().map(ToString::to_string),
            b.identity.as_ref().map(ToString::to_string),
        ),
        _ => Ordering::Equal,
    }
}
