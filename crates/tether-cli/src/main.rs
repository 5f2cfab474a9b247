//! `tether`: process primitives on the command line. This crate parses arguments, formats
//! output and maps results to exit codes; every decision about processes is the library's.

#[macro_use]
mod output;
mod cmd;
mod exit;
mod startup;

use std::ffi::OsString;

use clap::{ArgMatches, Args as _};

// The unwinder std needs, linked in statically: libgcc_s is then not needed at run time
// (--as-needed drops it), which spares the loader one library to map, relocate and
// initialise on every start (part of `tether run`'s overhead, bench/contain.py).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[link(name = "gcc_eh", kind = "static")]
extern "C" {}

/// Runs before Rust's runtime sets SIGPIPE to ignored (glibc calls `.init_array` entries before
/// `main`): records the signal state tether inherited, so that `run` gives the command the same
/// (a caller's `trap '' PIPE` holds in the command). Two system calls.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static CAPTURE_INHERITED_SIGNALS: extern "C" fn() = {
    extern "C" fn capture() {
        tether::run::capture_inherited_signals();
    }
    capture
};

/// Options of `tether` itself, accepted before or after the command name.
#[derive(clap::Args)]
struct Global {
    /// Print JSON (with a `schema` id) instead of text.
    #[arg(long, global = true)]
    json: bool,
}

/// One subcommand: its name, its one-line description, what `--help` adds after the options,
/// how its arguments are declared and how it runs.
struct Sub {
    name: &'static str,
    about: &'static str,
    after_help: Option<&'static str>,
    args: fn(clap::Command) -> clap::Command,
    run: fn(&ArgMatches, &output::Ctx) -> Result<tether::Result<i32>, clap::Error>,
}

/// `name => module, "about", after_help;` for each subcommand, in the order `--help` lists them.
macro_rules! subcommands {
    ($($name:literal => $module:ident, $about:literal, $after:expr;)*) => {
        &[$(Sub {
            name: $name,
            about: $about,
            after_help: $after,
            args: <cmd::$module::Args as clap::Args>::augment_args,
            run: |m, ctx| {
                let a = <cmd::$module::Args as clap::FromArgMatches>::from_arg_matches(m)?;
                Ok(cmd::$module::run(a, ctx))
            },
        }),*]
    };
}

/// Every subcommand. Only the one being run is built (see [`parser`]).
const SUBCOMMANDS: &[Sub] = subcommands! {
    "ps" => ps, "List processes, with filters, columns and sorting",
        Some(cmd::ps::HELP);
    "tree" => tree, "Show a process and its descendants as a tree", Some(exit::GENERAL_HELP);
    "info" => info, "Show everything known about one process, including its identity string",
        Some(cmd::info::HELP);
    "kill" => kill,
        "Send a signal, re-checking each target's identity on a pidfd at the moment of sending",
        Some(cmd::kill::HELP);
    "signals" => signals, "List signal names and numbers, like `kill -l`",
        Some(cmd::signals::HELP);
    "ports" => ports, "List sockets (TCP, UDP, Unix) and every process holding each one",
        Some(cmd::ports::HELP);
    "who" => who, "Show the processes holding a port, with their identity strings",
        Some(cmd::who::HELP);
    "fds" => fds, "List the open files of a process, with positions, flags and socket addresses",
        Some(cmd::fds::HELP);
    "wait-for" => wait_for, "Wait until ports, URLs, files, log lines, exits or commands are ready",
        Some(cmd::wait_for::HELP);
    "wait" => wait, "Wait for any process (PID or identity) to exit, through a pidfd",
        Some(cmd::wait::HELP);
    "stop" => stop, "End a process and its whole tree: hold, signal, grace, kill what survives",
        Some(cmd::stop::HELP);
    "alive" => alive, "Whether a process runs: named by a PID file (stale is not alive), a PID or an identity",
        Some(cmd::alive::HELP);
    "run" => run,
        "Run a command with a time limit: GNU `timeout`, on a contained tree (exit codes 124-127)",
        Some(cmd::run::HELP);
    "start" => start, "Start a background job under its own small supervisor: restarts, logs, status; no daemon",
        Some(cmd::start::HELP);
    "status" => status, "Show the status of one job or of every job", Some(cmd::status::HELP);
    "list" => list, "List the jobs, one line each", Some(cmd::list::HELP);
    "logs" => logs, "Show (and follow) a job's stdout or stderr log", Some(cmd::logs::HELP);
    "restart" => restart, "Stop a job and start it again with the same spec", Some(cmd::restart::HELP);
    "rm" => rm, "Stop a job and remove its status and logs", Some(cmd::rm::HELP);
    "retry" => retry, "Run a command again until it succeeds: backoff, exit codes not worth retrying, deadline", Some(cmd::retry::HELP);
    "init" => init, "Run a command as init (PID 1) or subreaper: signals passed on, zombies reaped", Some(cmd::init::HELP);
};

/// The clap definition of one subcommand.
fn subcommand(s: &Sub) -> clap::Command {
    let c = (s.args)(clap::Command::new(s.name))
        .about(s.about)
        .long_about(None);
    match s.after_help {
        Some(h) => c.after_help(h),
        None => c,
    }
}

/// `tether` itself, with the given subcommands.
fn root<'a>(subs: impl IntoIterator<Item = &'a Sub>) -> clap::Command {
    Global::augment_args(clap::Command::new("tether"))
        .version(env!("CARGO_PKG_VERSION"))
        .about(env!("CARGO_PKG_DESCRIPTION"))
        .long_about(None)
        .after_help(exit::GENERAL_HELP)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommands(subs.into_iter().map(subcommand))
}

/// The whole command tree: every subcommand with all its arguments.
fn full_parser() -> clap::Command {
    root(SUBCOMMANDS)
}

/// The parser for this command line. Building clap's definition of every subcommand costs more
/// than the rest of a short command's start-up (`tether --version`), so when the command line
/// names a subcommand (after nothing but `--json`), only that one is built; `--version` alone
/// needs none. The full tree is built for `--help`, `help`, no command or an unknown one, so
/// that the command list and the "similar subcommand" tips stay complete. Messages, exit codes
/// and help texts are the same either way (the subcommand definitions are the same values).
fn parser(args: &[OsString]) -> clap::Command {
    let mut rest = args.iter().skip(1).filter(|a| *a != "--json");
    let Some(first) = rest.next() else {
        return full_parser();
    };
    if first == "--version" || first == "-V" {
        if rest.all(|a| a == "--version" || a == "-V") {
            return root([]);
        }
        return full_parser();
    }
    match SUBCOMMANDS.iter().find(|s| first == s.name) {
        Some(s) => root([s]),
        None => full_parser(),
    }
}

/// Whether `--json` was asked for anywhere before a `--` (used for usage errors, when clap has
/// not parsed the command line).
fn json_requested(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
}

fn main() {
    // `tether run` and a `timeout` link have GNU's exit codes (125 for usage errors).
    cmd::run::intercept();
    // A job's supervisor, started detached by `tether start` (see `tether::job`).
    {
        let args: Vec<OsString> = std::env::args_os().take(3).collect();
        if args.get(1).is_some_and(|a| a == cmd::job::SUPERVISOR_ARG) {
            output::exit(cmd::job::supervisor_main(&args));
        }
    }
    // `tether kill -9 PID` and the other forms of the shell's kill, before clap sees them.
    let args: Vec<OsString> = cmd::kill::shell_forms(std::env::args_os().collect());
    let json_asked = json_requested(&args);
    let matches = parser(&args)
        .try_get_matches_from(&args)
        .unwrap_or_else(|e| exit::clap_error(e, json_asked));
    let ctx = output::Ctx {
        json: matches.get_flag("json"),
    };
    let sub = matches
        .subcommand()
        .and_then(|(name, m)| SUBCOMMANDS.iter().find(|s| s.name == name).map(|s| (s, m)));
    let Some((sub, m)) = sub else {
        // clap requires a known subcommand, so this is not reached.
        let mut c = full_parser();
        exit::clap_error(
            c.error(
                clap::error::ErrorKind::MissingSubcommand,
                "no command given",
            ),
            json_asked,
        )
    };
    let result = (sub.run)(m, &ctx).unwrap_or_else(|e| exit::clap_error(e, json_asked));
    output::exit(exit::finish(result, &ctx));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<OsString> {
        std::iter::once("tether")
            .chain(s.split_whitespace())
            .map(OsString::from)
            .collect()
    }

    fn names(c: &clap::Command) -> Vec<String> {
        c.get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect()
    }

    #[test]
    fn only_the_named_subcommand_is_built() {
        assert_eq!(names(&parser(&argv("ps --pid 1"))), ["ps"]);
        assert_eq!(names(&parser(&argv("--json wait-for :80"))), ["wait-for"]);
        assert!(names(&parser(&argv("--version"))).is_empty());
        assert!(names(&parser(&argv("--json -V"))).is_empty());
        let all = SUBCOMMANDS.len();
        for full in [
            "",
            "--help",
            "help ps",
            "pss",
            "--bogus ps",
            "--version ps",
            "--json",
        ] {
            assert_eq!(names(&parser(&argv(full))).len(), all, "{full:?}");
        }
    }

    #[test]
    fn the_parser_definition_is_valid() {
        full_parser().debug_assert();
    }

    /// The flag dialect (README "Conventions"): long options are kebab-case, a short option
    /// means one thing everywhere (and the long option it stands for has it everywhere), some
    /// options never have one, and `--pid` is always a list. Checked over every argument of
    /// every subcommand, so that a new flag cannot break the convention unnoticed.
    #[test]
    fn short_options_follow_the_dialect() {
        const SHORT: &[(char, &str)] = &[
            ('s', "signal"),
            ('t', "timeout"),
            // retry's overall deadline, named as curl names it.
            ('t', "max-time"),
            ('k', "kill-after"),
            ('g', "group"),
            ('v', "verbose"),
            ('q', "quiet"),
            ('y', "yes"),
            ('f', "follow"),
            ('w', "wide"),
            ('l', "list"),
            ('L', "table"),
            ('h', "help"),
            ('V', "version"),
        ];
        const NO_SHORT: &[&str] = &["dry-run", "force", "grace", "json", "kill-signal"];
        let mut wrong = Vec::new();
        let mut c = full_parser();
        c.build();
        for sub in c.get_subcommands() {
            // Hidden options only point old spellings to the new ones (and refuse them).
            for a in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                let long = a.get_long().unwrap_or("");
                let where_ = format!("{} --{long}", sub.get_name());
                if !long.is_empty() && !is_kebab(long) {
                    wrong.push(format!("{where_}: long option not kebab-case"));
                }
                // A long option of the table carries its short form everywhere (-t for every
                // --timeout, as in run and wait).
                if let Some((s, _)) = SHORT.iter().find(|(_, l)| *l == long) {
                    if a.get_short() != Some(*s) {
                        wrong.push(format!("{where_}: has no -{s}"));
                    }
                }
                // --pid is a filter: a comma-separated list, repeatable.
                if long == "pid"
                    && !(matches!(a.get_action(), clap::ArgAction::Append)
                        && a.get_value_delimiter() == Some(','))
                {
                    wrong.push(format!("{where_}: not a list (PID,...)"));
                }
                let Some(short) = a.get_short() else {
                    continue;
                };
                if NO_SHORT.contains(&long) {
                    wrong.push(format!("{where_}: -{short} (no short form allowed)"));
                } else if short == 'n' {
                    // -n is a count: it takes a number, never a switch like --dry-run.
                    if !a.get_action().takes_values() {
                        wrong.push(format!("{where_}: -n must be a count, not a switch"));
                    }
                } else {
                    let meanings: Vec<&str> = SHORT
                        .iter()
                        .filter(|(s, _)| *s == short)
                        .map(|(_, l)| *l)
                        .collect();
                    if meanings.is_empty() {
                        wrong.push(format!("{where_}: -{short} is not in the dialect"));
                    } else if !meanings.contains(&long) {
                        let is = meanings.join(" or --");
                        wrong.push(format!("{where_}: -{short} is --{is}"));
                    }
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "flags off the dialect:\n{}",
            wrong.join("\n")
        );
    }

    fn is_kebab(s: &str) -> bool {
        s.split('-').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
    }

    #[test]
    fn every_subcommand_has_json_and_documents_exit_codes() {
        let mut c = full_parser();
        c.build();
        for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
            assert!(
                sub.get_arguments().any(|a| a.get_long() == Some("json")),
                "{} has no --json",
                sub.get_name()
            );
            let after = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                after.contains("Exit codes"),
                "{}: --help does not list its exit codes",
                sub.get_name()
            );
        }
    }
}
