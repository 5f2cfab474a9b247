//! `tether info PID|IDENTITY`: the full record of one process.

use tether::inspect::{Field, FieldSet};
use tether::{Process, ProcessRef, Result};
use tether_report::InfoReport;

use super::columns;
use crate::output::{print_report, Ctx};

pub const HELP: &str = "A PID must name a process: one that names nothing is \"no such process\", and the \
id of a thread is named as a thread of its process (both exit 1). An identity string is refused once its \
PID belongs to another process. A process of another user is shown like any other; the fields this user \
may not read (its exe, its environment) are named on stderr, and in JSON under `denied`.

Exit codes: 0 success; 1 no such process, a thread id, identity mismatch, the process exited while being \
read; 2 usage error (bad PID or identity string).";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A PID, or an identity string (refused when the PID now belongs to another process).
    pub target: String,
    /// Include the environment (capped at 64 KiB).
    #[arg(long)]
    pub env: bool,
}

/// Open the process a PID or an identity string names: an identity must still name the same
/// process; a PID must name a process (not nothing, not a thread).
pub fn open(target: &str) -> Result<Process> {
    Process::open_ref(&target.parse::<ProcessRef>()?)
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let p = open(&a.target)?;
    let mut fields = FieldSet::standard();
    if a.env {
        fields.insert(Field::Env);
    }
    let report = InfoReport::of(&p, fields)?;
    if let Some(note) = tether::inspect::denied_note([&report.process]) {
        diag!("tether: {note}");
    }
    if ctx.json {
        print_report(&report);
        return Ok(0);
    }
    let (process, ancestors) = (&report.process, &report.ancestors);
    let mut lines: Vec<(&str, String)> = Vec::new();
    for f in Field::ALL {
        if f == Field::Env || f == Field::Cmdline || !fields.has(f) {
            continue;
        }
        let label = match f {
            Field::Cpu => "cpu %",
            Field::CpuTime => "cpu time",
            _ => f.name(),
        };
        lines.push((label, columns::cell(process, f)));
    }
    if let (Some(u), Some(s)) = (process.cpu_user, process.cpu_system) {
        let (u, s) = (u.as_millis(), s.as_millis());
        lines.push(("cpu user/sys", format!("{u} ms / {s} ms")));
    }
    lines.push((
        "cmdline",
        format!("{:?}", process.cmdline.clone().unwrap_or_default()),
    ));
    lines.push((
        "ancestors",
        ancestors
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    ));
    if let Some(env) = &process.environ {
        lines.push((
            "environ",
            format!(
                "{} variables{}",
                env.len(),
                if process.environ_truncated == Some(true) {
                    " (truncated)"
                } else {
                    ""
                }
            ),
        ));
    }
    let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in lines {
        outln!("{k:>width$}: {v}");
    }
    if let Some(env) = &process.environ {
        for e in env {
            outln!("  {}", crate::output::escape(e));
        }
    }
    Ok(0)
}
