//! `tether ps`: list processes.

use tether::inspect::{forest, snapshot, Field, FieldSet, Query};
use tether::{Error, Result};
use tether_report::{PsReport, PsTreeReport};

use super::columns;
use super::filters::FilterArgs;
use crate::output::{self, print_report, Ctx, Table};

/// Columns shown when `--fields` is not given.
const DEFAULT_FIELDS: &str = "pid,ppid,user,state,cpu,rss,elapsed,cmdline";

/// After the options in `--help`.
pub const HELP: &str = "On a terminal, lines are cut to its width (COLUMNS when set), as procps ps \
does; --wide, a pipe, a file or --json never cut. Names, command lines and other text the processes \
control are shown with control characters escaped (\\x1b, \\n); --json gives them exactly.

Exit codes: 0 success (also when nothing matches); 1 the process table could not be read; \
2 usage error (bad PID, field, sort key, state, size, regex or duration).";

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Columns (and so the /proc files read), comma-separated: pid, ppid, pgid, sid, tty, user,
    /// uid, state, cpu, cpu_time, rss, vsz, threads, start, elapsed, name, exe, cmdline,
    /// identity, env. Default: pid,ppid,user,state,cpu,rss,elapsed,cmdline (with --json: all
    /// but env).
    #[arg(long, value_name = "FIELD,...")]
    pub fields: Option<String>,
    /// Sort by these fields, the first deciding first; prefix a field with '-' for descending
    /// (e.g. --sort=-rss,pid).
    #[arg(
        long,
        value_name = "[-]FIELD,...",
        allow_hyphen_values = true,
        value_delimiter = ','
    )]
    pub sort: Vec<String>,
    /// Show parent/child relations as a tree.
    #[arg(long)]
    pub tree: bool,
    /// Measure CPU % over this interval instead of the lifetime average (e.g. 500ms).
    #[arg(long, value_name = "DURATION")]
    pub sample: Option<String>,
    /// Print no header line.
    #[arg(long)]
    pub no_headers: bool,
    /// Do not cut lines to the terminal's width.
    #[arg(long, short = 'w')]
    pub wide: bool,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let (mut fields, order) = match (&a.fields, ctx.json) {
        (Some(f), _) => FieldSet::parse_list(f)?,
        (None, true) => (FieldSet::standard(), Field::ALL.to_vec()),
        (None, false) => FieldSet::parse_list(DEFAULT_FIELDS)?,
    };
    let sort = a
        .sort
        .iter()
        .map(String::as_str)
        .map(parse_sort)
        .collect::<Result<Vec<_>>>()?;
    for (f, _) in &sort {
        fields.insert(*f);
    }
    if a.tree {
        fields.insert(Field::Ppid);
    }
    let cpu_sample = a
        .sample
        .as_deref()
        .map(tether::duration::parse_duration)
        .transpose()?;
    if cpu_sample.is_some() {
        fields.insert(Field::Cpu);
    }
    let mut read = fields;
    if fields.has(Field::Cmdline) {
        // Kernel threads have no command line; show `[name]` as ps does (stat is read anyway).
        read.insert(Field::Name);
    }
    // A thread id given to --pid: ps lists processes, so name the process it belongs to.
    let filter = a.filter.to_filter()?;
    for &pid in filter.pids.iter().flatten() {
        if let Some(tgid) = tether::inspect::thread_group_of(pid) {
            diag!("tether: PID {pid} is a thread of process {tgid}; ps lists processes (use --pid {tgid})");
        }
    }
    let mut q = Query::new(read, filter);
    q.cpu_sample = cpu_sample;
    let mut list = snapshot(&q)?;
    let denied = tether::inspect::denied_note(&list);
    if !sort.is_empty() {
        // Stable: processes equal in every key keep the snapshot's order (by PID).
        list.sort_by(|x, y| {
            sort.iter()
                .map(|&(f, desc)| {
                    let o = columns::compare(x, y, f);
                    if desc {
                        o.reverse()
                    } else {
                        o
                    }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    let columns: Vec<Field> = order.into_iter().filter(|f| fields.has(*f)).collect();
    match (a.tree, ctx.json) {
        (false, true) => print_report(&PsReport::from(list)),
        (true, true) => print_report(&PsTreeReport::from(forest(list))),
        (false, false) => {
            let mut t = Table::new(
                columns.iter().map(|f| columns::header(*f)).collect(),
                columns.iter().map(|f| columns::numeric(*f)).collect(),
            );
            if a.no_headers {
                t = t.without_headers();
            }
            for p in &list {
                t.push(columns.iter().map(|f| columns::cell(p, *f)).collect());
            }
            print_cut(&t.render(), a.wide);
        }
        (true, false) => print_cut(&super::tree::render_forest(&forest(list), &columns), a.wide),
    }
    if let Some(note) = denied {
        diag!("tether: {note}");
    }
    Ok(0)
}

/// Human output, cut to the terminal's width unless `wide` (see [`output::terminal_width`]).
fn print_cut(text: &str, wide: bool) {
    match output::terminal_width().filter(|_| !wide) {
        Some(w) => output::write_out_bytes(output::fit(text, w).as_bytes()),
        None => output::write_out_bytes(text.as_bytes()),
    }
}

/// `rss` or `-rss` (`+rss` is ascending too).
fn parse_sort(s: &str) -> Result<(Field, bool)> {
    let (name, desc) = match s.strip_prefix('-') {
        Some(n) => (n, true),
        None => (s.strip_prefix('+').unwrap_or(s), false),
    };
    let f: Field = name.parse()?;
    if f == Field::Env {
        return Err(Error::invalid("cannot sort by env"));
    }
    Ok((f, desc))
}
