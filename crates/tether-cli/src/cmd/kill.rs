//! `tether kill`: identity-checked signals, to explicit targets or to what filters match.

use tether::inspect::{snapshot, Field, FieldSet, Query};
use tether::report::KillReport;
use tether::signal::{send, SendOptions, SendOutcome, SendState, Signal, Target};
use tether::{Error, Result};

use super::columns;
use super::filters::FilterArgs;
use crate::output::{print_report, Ctx, Table};

pub const HELP: &str = "Targets are PIDs or identity strings (from `tether info` or `tether ps --fields identity`). \
An identity string is re-checked on a pidfd at the moment of sending: if the PID now belongs to another \
process, nothing is signalled. All targets are validated before any is signalled. PID 1, tether itself, \
its parent and its own process group are refused without --force. With filters instead of targets, \
matching processes are only listed unless --yes is given.

Exit codes: 0 every target was signalled (or previewed); 1 refused, identity mismatch, no such process, \
nothing matched, or a target exited before the signal; 2 usage error (bad signal, PID, identity string, regex).";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Signal to send, by name (TERM, SIGTERM, term, RTMIN+1) or number.
    #[arg(short, long, default_value = "TERM", value_name = "SIG")]
    pub signal: String,
    /// PIDs or identity strings.
    pub targets: Vec<String>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// With filters: really send (otherwise the matches are only listed).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Validate every target, send nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Allow PID 1, tether itself, its parent and its own process group.
    #[arg(long)]
    pub force: bool,
    /// Refuse unless every target runs this executable.
    #[arg(long, value_name = "PATH")]
    pub require_exe: Option<std::path::PathBuf>,
    /// The targets are process group ids.
    #[arg(long, short = 'g')]
    pub group: bool,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let sig: Signal = a.signal.parse()?;
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
                    print_report(&report(sig, &a, true, Vec::new()));
                }
                diag!("tether: no process matched");
                return Ok(1);
            }
            (t, !a.yes)
        }
    };
    let opts = SendOptions {
        force: a.force,
        require_exe: a.require_exe.clone(),
        dry_run: a.dry_run || preview,
    };
    let outcomes = send(&targets, sig, &opts)?;
    let gone = outcomes
        .iter()
        .filter(|o| o.outcome == SendState::Gone)
        .count();
    if ctx.json {
        print_report(&report(sig, &a, preview, outcomes));
    } else {
        for o in &outcomes {
            let what = match o.outcome {
                SendState::Sent => "sent",
                SendState::WouldSend => "would send",
                SendState::Gone => "exited before",
            };
            let kind = if o.group { "process group " } else { "" };
            let id = o
                .identity
                .as_deref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default();
            outln!("{what} {sig} to {kind}{}{id}", o.pid);
        }
        if preview {
            diag!(
                "tether: preview only; add --yes to send {sig} to these {} processes",
                outcomes.len()
            );
        }
    }
    Ok(if gone > 0 { 1 } else { 0 })
}

fn report(sig: Signal, a: &Args, preview: bool, targets: Vec<SendOutcome>) -> KillReport {
    KillReport {
        signal: sig.name(),
        signal_number: sig.number(),
        dry_run: a.dry_run,
        preview,
        targets,
    }
}

fn explicit_targets(list: &[String], group: bool) -> Result<Vec<Target>> {
    list.iter()
        .map(|s| {
            let t = Target::parse(s)?;
            match (group, t) {
                (true, Target::Pid(p)) => Ok(Target::Group(p)),
                (true, _) => Err(Error::invalid(format!(
                    "--group takes process group ids, not '{s}'"
                ))),
                (false, t) => Ok(t),
            }
        })
        .collect()
}

/// What the filters match, as identities (so the send hits exactly the processes listed),
/// without tether itself. The preview table goes to stderr on a terminal-less run too, since it
/// is the point of a preview.
fn filtered_targets(f: &FilterArgs, ctx: &Ctx) -> Result<Vec<Target>> {
    let fields = FieldSet::of(&[Field::Identity, Field::Name, Field::User, Field::Cmdline]);
    let me = std::process::id();
    let list: Vec<_> = snapshot(&Query {
        fields,
        filter: f.to_filter()?,
        cpu_sample: None,
    })?
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
    list.into_iter()
        .filter_map(|p| p.identity)
        .map(|id| id.parse().map(Target::Identity))
        .collect()
}
