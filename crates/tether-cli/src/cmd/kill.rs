//! `tether kill`: identity-checked signals, to explicit targets or to what filters match.

use tether::inspect::{snapshot, Field, FieldSet, Query};
use tether::signal::{
    probe, probe_groups, send_all, send_groups, SendOutcome, SendState, Signal, SignalOptions,
};
use tether::{Error, Process, ProcessRef, Result};
use tether_report::KillReport;

use super::columns;
use super::filters::FilterArgs;
use crate::output::{print_report, Ctx, Table};

pub const HELP: &str = "Targets are PIDs or identity strings (from `tether info` or `tether ps --fields identity`). \
An identity string is re-checked on a pidfd at the moment of sending: if the PID now belongs to another \
process, nothing is signalled. All targets are validated before any is signalled, permission to signal \
included. Refused without --force: PID 1, tether itself, its ancestors (its parent, the shell or script that \
started it, ...), the leaders of its process group and session, and (with --group) its own process group \
or one holding an ancestor. A process that only shares tether's process group is not refused. With filters \
instead of targets, matching processes are only listed unless --yes is given.

The shell's forms work too: `tether kill -9 PID`, `-KILL`, `-SIGKILL`, `-s 9`, `-s KILL`. \
`tether kill -l` lists the signals (as `tether signals`; `-L` too); `tether kill -l 15` prints TERM, \
`tether kill -l TERM` prints 15, and `tether kill -l 143` (an exit status) prints TERM.

`tether kill -0 TARGET...` (or `-s 0`) sends nothing and asks whether each target exists: exit 0 when every \
one does, 1 naming the first that does not. A process of another user exists: where kill(1) reports \
\"Operation not permitted\" and exits 1, tether answers that it exists (psutil's pid_exists does the same), \
since permission says nothing about existence. A zombie exists until it is reaped, as for kill(2). The \
rails do not apply to -0, since nothing is sent.

Exit codes: 0 every target was signalled (or previewed, or exists with -0); 1 refused by a rail, not \
permitted, identity mismatch, no such process, nothing matched, or a target exited before the signal; \
2 usage error (bad signal, PID, identity string, regex).";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Signal to send, by name (TERM, SIGTERM, term, RTMIN+1) or number; 0 sends nothing and
    /// checks that the targets exist. `-9`, `-KILL`, `-SIGKILL` work as in the shell.
    #[arg(short, long, default_value = "TERM", value_name = "SIG")]
    pub signal: String,
    /// PIDs or identity strings (with -l: signal numbers, names or exit statuses).
    pub targets: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// With filters: really send (otherwise the matches are only listed).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Validate every target (permission included), send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Allow what the rails refuse: PID 1, tether itself, its ancestors, the leaders of its
    /// process group and session, and its own process group.
    #[arg(long)]
    pub force: bool,
    /// Refuse unless every target runs this executable.
    #[arg(long, value_name = "PATH")]
    pub require_exe: Option<std::path::PathBuf>,
    /// The targets are process group ids.
    #[arg(long, short = 'g')]
    pub group: bool,
    /// List signal names and numbers (`kill -l`), or translate the ones given.
    #[arg(short = 'l', long = "list", conflicts_with_all = ["yes", "dry_run", "force", "group"])]
    pub list: bool,
    /// The signal table, as `tether signals` prints it.
    #[arg(short = 'L', long = "table", conflicts_with_all = ["list", "yes", "dry_run", "force", "group"])]
    pub table: bool,
}

/// The shell's signal forms, rewritten for the parser: in the arguments of `kill`, the first
/// `-N`, `-NAME` or `-SIGNAME` (before `--`) becomes `-s N`/`-s NAME`, as in bash's kill. The
/// values of options that take one are never rewritten (`--cmdline -9` stays a regex).
pub fn shell_forms(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::Args as _;
    // The subcommand is the first argument that is not an option (only --json comes before it).
    let Some(k) = args
        .iter()
        .skip(1)
        .position(|a| !a.to_string_lossy().starts_with('-'))
        .map(|i| i + 1)
    else {
        return args;
    };
    if args[k] != "kill" {
        return args;
    }
    let cmd = Args::augment_args(clap::Command::new("kill"));
    let takes_value = |a: &str| {
        cmd.get_arguments().any(|arg| {
            arg.get_action().takes_values()
                && !arg.is_positional()
                && (arg.get_short().is_some_and(|c| a == format!("-{c}"))
                    || arg.get_long().is_some_and(|l| a == format!("--{l}")))
        })
    };
    let mut out: Vec<std::ffi::OsString> = args[..=k].to_vec();
    let mut rewritten = false;
    let mut i = k + 1;
    while i < args.len() {
        let a = args[i].to_string_lossy().into_owned();
        if a == "--" {
            out.extend_from_slice(&args[i..]);
            break;
        }
        if takes_value(&a) {
            out.extend_from_slice(&args[i..(i + 2).min(args.len())]);
            i += 2;
            continue;
        }
        match a.strip_prefix('-').filter(|_| !rewritten) {
            Some(spec) if is_signal_spec(spec) => {
                out.push("-s".into());
                out.push(spec.into());
                rewritten = true;
            }
            _ => out.push(args[i].clone()),
        }
        i += 1;
    }
    out
}

/// `9`, `0`, `KILL`, `SIGKILL`, `RTMIN+1`: a number (any: a bad one gets a clear error later),
/// or a signal name. Single letters are never signal names, so flags (`-y`, `-l`) stay flags.
fn is_signal_spec(s: &str) -> bool {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    s.len() > 1 && s.as_bytes()[0].is_ascii_alphabetic() && s.parse::<Signal>().is_ok()
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    if a.list || a.table {
        return list_signals(&a, ctx);
    }
    // Signal 0 is no signal: it asks whether the targets exist, and nothing is sent.
    let sig = match a.signal.trim().parse::<i32>() {
        Ok(0) => None,
        _ => Some(a.signal.parse::<Signal>()?),
    };
    let by_filter = a.filter.any();
    let (targets, preview) = match (a.targets.is_empty(), by_filter) {
        (false, true) => return Err(Error::invalid("give either targets or filters, not both")),
        (true, false) => {
            return Err(Error::invalid(
                "no target: give PIDs, identity strings or filters",
            ))
        }
        (false, false) => (explicit_targets(&a.targets, a.group)?, false),
        (true, true) => {
            if a.group {
                return Err(Error::invalid(
                    "--group takes explicit process group ids, not filters",
                ));
            }
            let t = filtered_targets(&a.filter, ctx)?;
            if t.is_empty() {
                if ctx.json {
                    print_report(&KillReport::new(sig, a.dry_run, true, &[]));
                }
                diag!("tether: no process matched");
                return Ok(1);
            }
            (t, !a.yes && sig.is_some())
        }
    };
    let mut opts = SignalOptions::default();
    opts.force = a.force;
    opts.require_exe = a.require_exe.clone();
    opts.dry_run = a.dry_run || preview;
    let outcomes = deliver(&targets, sig, &opts)?;
    let gone = outcomes
        .iter()
        .filter(|o| o.outcome == SendState::Gone)
        .count();
    if ctx.json {
        print_report(&KillReport::new(sig, a.dry_run, preview, &outcomes));
    } else {
        let sig_name = sig.map_or("signal 0".to_string(), |s| s.to_string());
        for o in &outcomes {
            let kind = if o.group { "process group " } else { "" };
            let id = o
                .identity
                .as_ref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default();
            match o.outcome {
                SendState::Exists if o.group => outln!("process group {}{id} exists", o.pid),
                SendState::Exists => outln!("process {}{id} exists", o.pid),
                SendState::Sent => outln!("sent {sig_name} to {kind}{}{id}", o.pid),
                SendState::WouldSend => outln!("would send {sig_name} to {kind}{}{id}", o.pid),
                SendState::Gone => outln!("exited before {sig_name}: {kind}{}{id}", o.pid),
                other => outln!("{other:?}: {kind}{}{id}", o.pid),
            }
        }
        if preview {
            let n = outcomes.len();
            diag!(
                "tether: preview only; add --yes to send {sig_name} to {}",
                if n == 1 {
                    "this process".to_string()
                } else {
                    format!("these {n} processes")
                }
            );
        }
    }
    Ok(if gone > 0 { 1 } else { 0 })
}

/// `kill -l [SIG...]` and `kill -L`: the signal table, or translations; an exit status above
/// 128 names the signal that caused it, as bash's `kill -l 143` does.
fn list_signals(a: &Args, ctx: &Ctx) -> Result<i32> {
    let signals = a
        .targets
        .iter()
        .map(|s| match s.trim().parse::<i32>() {
            Ok(n) if n > 128 && Signal::from_number(n - 128).is_ok() => (n - 128).to_string(),
            _ => s.clone(),
        })
        .collect();
    super::signals::run(super::signals::Args { signals }, ctx)
}

/// What `kill` signals: processes (by PID or identity), or process groups (`--group`).
enum Targets {
    Processes(Vec<ProcessRef>),
    Groups(Vec<u32>),
}

impl Targets {
    fn is_empty(&self) -> bool {
        match self {
            Targets::Processes(v) => v.is_empty(),
            Targets::Groups(v) => v.is_empty(),
        }
    }
}

/// Send `sig` (`None`: signal 0, a probe) to every target, or to none: the library validates
/// the whole batch before it sends anything; every process is opened (its identity verified)
/// first.
fn deliver(
    targets: &Targets,
    sig: Option<Signal>,
    opts: &SignalOptions,
) -> Result<Vec<SendOutcome>> {
    match targets {
        Targets::Groups(g) => match sig {
            Some(sig) => send_groups(g, sig, opts),
            None => probe_groups(g),
        },
        Targets::Processes(refs) => {
            let procs = refs
                .iter()
                .map(Process::open_ref)
                .collect::<Result<Vec<_>>>()?;
            match sig {
                Some(sig) => send_all(&procs, sig, opts),
                None => probe(&procs, opts),
            }
        }
    }
}

fn explicit_targets(list: &[String], group: bool) -> Result<Targets> {
    if !group {
        let refs = list.iter().map(|s| s.parse::<ProcessRef>());
        return refs.collect::<Result<_>>().map(Targets::Processes);
    }
    list.iter()
        .map(|s| match s.parse::<ProcessRef>()? {
            ProcessRef::Pid(p) => Ok(p),
            _ => Err(Error::invalid(format!(
                "--group takes process group ids, not '{s}'"
            ))),
        })
        .collect::<Result<_>>()
        .map(Targets::Groups)
}

/// What the filters match, as identities (so the send hits exactly the processes listed),
/// without tether itself. The preview table goes to stderr on a terminal-less run too, since it
/// is the point of a preview.
fn filtered_targets(f: &FilterArgs, ctx: &Ctx) -> Result<Targets> {
    let fields = FieldSet::of(&[Field::Identity, Field::Name, Field::User, Field::Cmdline]);
    let me = std::process::id();
    let list: Vec<_> = snapshot(&Query::new(fields, f.to_filter()?))?
        .into_iter()
        .filter(|p| p.pid != me)
        .collect();
    if !ctx.json && !list.is_empty() {
        let cols = [Field::Pid, Field::User, Field::Name, Field::Cmdline];
        let mut t = Table::new(
            cols.iter().map(|c| columns::header(*c)).collect(),
            cols.iter().map(|c| columns::numeric(*c)).collect(),
        );
        for p in &list {
            t.push(cols.iter().map(|c| columns::cell(p, *c)).collect());
        }
        let mut err = std::io::stderr().lock();
        let _ = t.write(&mut err);
    }
    Ok(Targets::Processes(
        list.into_iter()
            .filter_map(|p| p.identity)
            .map(ProcessRef::Identity)
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::shell_forms;

    fn rewrite(args: &[&str]) -> Vec<String> {
        shell_forms(args.iter().map(Into::into).collect())
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn shell_signal_forms_become_dash_s() {
        assert_eq!(
            rewrite(&["t", "kill", "-9", "5"]),
            ["t", "kill", "-s", "9", "5"]
        );
        assert_eq!(
            rewrite(&["t", "--json", "kill", "-SIGKILL", "5"]),
            ["t", "--json", "kill", "-s", "SIGKILL", "5"]
        );
        assert_eq!(
            rewrite(&["t", "kill", "-0", "5"]),
            ["t", "kill", "-s", "0", "5"]
        );
        // Only the first; flags stay flags; values of options stay values; `--` ends it all.
        assert_eq!(
            rewrite(&["t", "kill", "-HUP", "-TERM"]),
            ["t", "kill", "-s", "HUP", "-TERM"]
        );
        assert_eq!(
            rewrite(&["t", "kill", "-l", "-y"]),
            ["t", "kill", "-l", "-y"]
        );
        assert_eq!(
            rewrite(&["t", "kill", "--cmdline", "-9"]),
            ["t", "kill", "--cmdline", "-9"]
        );
        assert_eq!(
            rewrite(&["t", "kill", "-s", "-9"]),
            ["t", "kill", "-s", "-9"]
        );
        assert_eq!(
            rewrite(&["t", "kill", "--", "-9"]),
            ["t", "kill", "--", "-9"]
        );
        // Other commands are left alone.
        assert_eq!(rewrite(&["t", "stop", "-9"]), ["t", "stop", "-9"]);
        assert_eq!(rewrite(&["t"]), ["t"]);
    }
}
