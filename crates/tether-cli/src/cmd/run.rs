//! `tether run`: a drop-in for GNU `timeout`, on a contained tree. Invoked through a link named
//! `timeout`, it takes GNU's positional form `timeout [OPTION] DURATION COMMAND [ARG]...` with
//! GNU's option syntax ([`super::run_gnu`]), `--help` and `--version`.
//!
//! Its own errors (usage, bad duration or signal, a report file it cannot write) exit 125, as
//! GNU's do; the library's [`tether::run::RunOutcome`] decides every other exit code. This module
//! formats: the `-v` lines, run's error messages, the JSON report, and ending the process the
//! way the report says (by the command's signal, or with its code).

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use clap::Parser;
use tether::contain::ContainMode;
use tether::run::{
    gnu_exit, gnu_spawn_exit, parse_signal, parse_timeout, raise_exit_signal, signal_name, GnuExit,
    RunEvent, EXIT_CANCELED,
};
use tether::signal::Signal;
use tether::Command;
use tether_report::{tagged, ErrorReport, RunReport};

use super::run_gnu::{self, Item};
use crate::output::{self, escape, Ctx};

pub const HELP: &str = "Runs COMMAND with a time limit, exactly like GNU timeout: when the limit passes, \
the signal (TERM) is sent, followed by SIGCONT, and KILL after --kill-after if it is still running. \
Durations: 5, 1.5, 2m, 1d, 2.34e+5d, 0x1p-3, inf (GNU) or 500ms, 1h30m (Go); 0 or no --timeout means no \
limit; values too large for a clock mean no limit in practice. -s 0 (or EXIT) sends nothing, so only \
--kill-after ends the command. Signals tether receives (TERM, INT, HUP, QUIT, USR1, USR2 and the -s \
signal) are passed on to the command's tree; a SIGALRM received counts as the limit passing (so an \
outer `timeout -s ALRM` times out an inner one). A signal the caller ignored (trap '' PIPE, nohup) \
stays ignored in the command, except the -s signal.

Unlike GNU timeout, the command runs contained (--contain auto: a cgroup v2 leaf when possible, otherwise \
a new session whose parent, tether's watchdog, is a child subreaper), so nothing it started outlives run: whatever the command \
leaves behind when it exits is killed, and if tether itself is killed (even with SIGKILL), the watchdog \
that launched the command sends the signal (-s, as GNU timeout sets it as the parent-death signal) to the \
whole tree, then KILL to whatever is left after --kill-after, or after 1 s when none was given. run returns as soon as the tree is gone, never waiting out --kill-after for nothing. \
--foreground runs the command uncontained in tether's process group, as GNU does (only the command is \
signalled); it cannot be combined with --contain other than none, and --contain none means the same.

Output: tether prints nothing on stdout but, with --json, a tether.run/v1 report once the command has \
ended (the command's own stdout goes to the same stream unless redirected); --report FILE writes the same \
report to FILE instead (replaced atomically; checked before the command starts), - for stderr.

With --pidfile FILE, the command's identity (PID, start time, boot id, executable, command line) is \
written to FILE as a tether PID file (JSON, replaced atomically) once the command has started, and FILE \
is locked while it runs (`tether alive --pidfile FILE` reads it; the lock shows that run is alive). When \
the command ends, FILE is removed if it still names the command (a file another writer put in its place \
is kept). run refuses to start when FILE names a process that is running, or exists but is not a PID \
file (remove it or give another path); a stale FILE is replaced.

Invoked through a link named `timeout`, tether takes GNU's syntax (timeout [OPTION] DURATION COMMAND \
[ARG]...) and prints GNU's --help and --version layout.

Exit codes (GNU timeout's): 124 the limit passed (unless --preserve-status); 125 tether run itself failed \
(usage, bad duration or signal, conflicting options, a report file it cannot write, a --pidfile that \
names a running process or cannot be written); 126 COMMAND found but \
cannot be invoked; 127 COMMAND not found; 137 KILL had to be sent (tether ends by SIGKILL, as GNU timeout \
does); when COMMAND dies of signal N, tether ends by the same signal (a shell sees 128+N); otherwise the \
exit status of COMMAND.";

/// `tether run [OPTIONS] [--] CMD [ARG...]`.
#[derive(Parser, Debug)]
#[command(name = "tether run", disable_version_flag = true, infer_long_args = true, after_help = HELP)]
pub struct Args {
    /// Time limit (5, 1.5, 2m, 1d, 500ms, 1h30m; 0 = none).
    #[arg(long, short = 't', value_name = "D")]
    pub timeout: Option<String>,
    #[command(flatten)]
    pub common: Common,
    /// Command and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

/// `tether run` parsed on its own (before the main parser), where `--json` is its option.
#[derive(Parser, Debug)]
#[command(name = "tether run", disable_version_flag = true, infer_long_args = true, after_help = HELP)]
struct RunCli {
    #[command(flatten)]
    args: Args,
    /// Print the tether.run/v1 report on stdout once the command has ended.
    #[arg(long)]
    json: bool,
}

/// Options of `tether run`.
#[derive(clap::Args, Debug)]
pub struct Common {
    /// Signal to send when the limit passes (name or number; 0 or EXIT sends nothing).
    #[arg(short = 's', long, default_value = "TERM", value_name = "SIG")]
    pub signal: String,
    /// Also send KILL if the command is still running this long after the first signal.
    #[arg(short = 'k', long, value_name = "D")]
    pub kill_after: Option<String>,
    /// Exit with the command's status even when the limit passed.
    #[arg(long)]
    pub preserve_status: bool,
    /// Run uncontained in tether's process group (for commands that read the terminal);
    /// only the command itself is signalled.
    #[arg(long)]
    pub foreground: bool,
    /// Say on stderr when a signal is sent.
    #[arg(short, long)]
    pub verbose: bool,
    /// Containment: auto (default), cgroup, group (session + subreaper) or none.
    #[arg(long, value_name = "MODE")]
    pub contain: Option<String>,
    /// Write the tether.run/v1 JSON report to FILE (`-` = stderr).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write the command's identity to this PID file while it runs (locked; removed at the end
    /// if it still names the command).
    #[arg(long, value_name = "FILE")]
    pub pidfile: Option<PathBuf>,
}

/// Everything a run needs, from either syntax.
struct Invocation {
    /// `timeout` or `tether run`: the prefix of diagnostics.
    prog: &'static str,
    timeout: Option<String>,
    common: Common,
    command: Vec<OsString>,
    json: bool,
}

/// Take over before the main parser when invoked as `timeout` or as `tether [--json] run`, so
/// that usage errors exit 125 (not 2) as GNU's do. Returns only for other commands.
pub fn intercept() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    if argv0 == "timeout" {
        output::set_program("timeout", EXIT_CANCELED);
        gnu_main(&args[1..]);
    }
    // `tether --json run ...`: the global option before the command name.
    let globals = args
        .iter()
        .skip(1)
        .take_while(|a| a.as_os_str() == "--json")
        .count();
    if args.get(1 + globals).is_some_and(|a| a == "run") {
        output::set_program("tether run", EXIT_CANCELED);
        let rest = &args[2 + globals..];
        let json = globals > 0;
        let cli = std::iter::once(OsString::from("tether run")).chain(rest.iter().cloned());
        let parsed = RunCli::try_parse_from(cli)
            .unwrap_or_else(|e| clap_usage_error(e, json || json_in_options(rest)));
        execute(Invocation {
            prog: "tether run",
            timeout: parsed.args.timeout,
            common: parsed.args.common,
            command: parsed.args.command,
            json: json || parsed.json,
        });
    }
}

/// `tether run` reached through the main parser (only `tether help run` and the like).
pub fn run(a: Args, ctx: &Ctx) -> tether::Result<i32> {
    output::set_program("tether run", EXIT_CANCELED);
    execute(Invocation {
        prog: "tether run",
        timeout: a.timeout,
        common: a.common,
        command: a.command,
        json: ctx.json,
    })
}

/// The `timeout` link: GNU's syntax, options acted on in order.
fn gnu_main(args: &[OsString]) -> ! {
    const PROG: &str = "timeout";
    let parsed = run_gnu::parse(args);
    let json = parsed
        .items
        .iter()
        .any(|i| matches!(i, Item::Opt("json", _)));
    let mut common = Common {
        signal: "TERM".into(),
        kill_after: None,
        preserve_status: false,
        foreground: false,
        verbose: false,
        contain: None,
        report: None,
        pidfile: None,
    };
    for item in parsed.items {
        let (name, value) = match item {
            Item::Error(msg) => usage_error(PROG, Some(&msg), json),
            Item::Opt(name, value) => (name, value.unwrap_or_default()),
        };
        let text = value.to_string_lossy().into_owned();
        match name {
            "help" => {
                outln!("{}", gnu_help());
                output::exit(0);
            }
            "version" => {
                outln!("{}", gnu_version());
                output::exit(0);
            }
            // Checked here, in order, as GNU does: the first bad option is the one reported.
            "kill-after" => {
                check(PROG, parse_timeout(&text), json);
                common.kill_after = Some(text);
            }
            "signal" => {
                check(PROG, parse_signal(&text), json);
                common.signal = text;
            }
            "verbose" => common.verbose = true,
            "foreground" => common.foreground = true,
            "preserve-status" => common.preserve_status = true,
            "contain" => common.contain = Some(text),
            "report" => common.report = Some(PathBuf::from(value)),
            _ => {}
        }
    }
    let mut operands = parsed.operands.into_iter();
    let (Some(duration), Some(first)) = (operands.next(), operands.next()) else {
        // GNU says only "Try ..." when an operand is missing.
        usage_error(PROG, None, json)
    };
    let command: Vec<OsString> = std::iter::once(first).chain(operands).collect();
    execute(Invocation {
        prog: PROG,
        timeout: Some(duration.to_string_lossy().into_owned()),
        common,
        command,
        json,
    })
}

fn check<T>(prog: &str, r: tether::Result<T>, json: bool) {
    if let Err(e) = r {
        usage_error(prog, Some(e.message()), json);
    }
}

/// A usage error: the message, GNU's "Try ... --help" line, a tether.error/v1 document with
/// `--json`, exit 125.
fn usage_error(prog: &str, msg: Option<&str>, json: bool) -> ! {
    if json {
        let text = msg.unwrap_or("missing operand");
        output::print_report(&ErrorReport::from(&tether::Error::invalid(text)));
    }
    if let Some(m) = msg {
        diag!("{prog}: {m}");
    }
    diag!("Try '{prog} --help' for more information.");
    output::exit(EXIT_CANCELED);
}

/// A clap error of `tether run`: help and version print and exit 0; anything else is a usage
/// error with clap's one-line message.
fn clap_usage_error(e: clap::Error, json: bool) -> ! {
    if !e.use_stderr() {
        output::clap_message(&e);
        output::exit(0);
    }
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    let msg = first.strip_prefix("error: ").unwrap_or(first);
    usage_error("tether run", Some(msg), json)
}

/// Whether `--json` is among the options of `tether run` (before the command), for usage
/// errors, where clap could not say.
fn json_in_options(args: &[OsString]) -> bool {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" || !a.starts_with(b"-") || a == b"-" {
            return false;
        }
        if a == b"--json" {
            return true;
        }
        let takes_value = matches!(
            a,
            b"-t"
                | b"-s"
                | b"-k"
                | b"--timeout"
                | b"--signal"
                | b"--kill-after"
                | b"--contain"
                | b"--report"
                | b"--pidfile"
        );
        i += if takes_value { 2 } else { 1 };
    }
    false
}

/// Validate, run, report, and end the process as the report says.
fn execute(inv: Invocation) -> ! {
    let prog = inv.prog;
    let c = inv.common;
    let usage = |msg: &str| -> ! { usage_error(prog, Some(msg), inv.json) };
    let timeout = match inv.timeout.as_deref().map(parse_timeout) {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => usage(e.message()),
        None => None,
    };
    let kill_after = match c.kill_after.as_deref().map(parse_timeout) {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => usage(e.message()),
        None => None,
    };
    let signal: Option<Signal> = parse_signal(&c.signal).unwrap_or_else(|e| usage(e.message()));
    let mode: ContainMode = match c.contain.as_deref().map(str::parse) {
        Some(Ok(m)) => m,
        Some(Err(e)) => usage(e.message()),
        None => ContainMode::Auto,
    };
    if c.foreground && c.contain.is_some() && mode != ContainMode::None {
        usage(&format!(
            "--foreground runs the command uncontained in this process group; it cannot be \
             combined with --contain {} (drop one of them)",
            c.contain.as_deref().unwrap_or_default()
        ));
    }
    // Checked before anything runs: a report that cannot be written is an error now, not a
    // surprise after the command has done its work.
    let sink = match c.report.as_deref().map(ReportSink::open) {
        Some(Ok(s)) => Some(s),
        Some(Err(msg)) => fail(prog, &msg, inv.json),
        None => None,
    };
    // Also before anything runs: a PID file that names a running process, or that cannot be
    // written, stops the run here.
    let mut pending = match c.pidfile.as_deref().map(tether::pidfile::prepare) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => fail(prog, e.message(), inv.json),
        None => None,
    };
    let mut owned = None;
    let name = inv
        .command
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let began = std::time::Instant::now();
    let mode = if c.foreground {
        ContainMode::None
    } else {
        mode
    };
    let mut cmd = Command::new(&inv.command[0]);
    cmd.args(&inv.command[1..])
        .contain(mode)
        .timeout_signal(signal)
        .forward_signals(true)
        // The tether process owns all its children, so every orphan adopted is the tree's.
        .adopt_children(true);
    if let Some(t) = timeout {
        cmd.timeout(t);
    }
    if let Some(k) = kill_after {
        cmd.kill_after(k);
    }
    if mode != ContainMode::None {
        // Should the watchdog be killed on its own, orphans of the tree come here and are still
        // found (see `become_subreaper`). Without it (a sandbox that forbids it) the watchdog
        // still holds the tree.
        let _ = tether::contain::become_subreaper();
    }
    let verbose = c.verbose;
    let result = cmd.status_with_events(&mut |ev| match ev {
        RunEvent::Started { pid } => {
            if let Some(p) = pending.take() {
                match p.commit(*pid) {
                    Ok(o) => owned = Some(o),
                    // The command has already ended: there is nothing to name.
                    Err(e) if e.kind() == tether::ErrorKind::NotFound => {}
                    Err(e) => diag!("{prog}: {}", escape(e.message())),
                }
            }
        }
        RunEvent::Sending { signal, .. } if verbose => {
            // A closed or full stderr is ignored (diag!): it never ends the run.
            diag!(
                "{prog}: sending signal {} to command '{}'",
                signal_name(*signal),
                escape(&name)
            );
        }
        _ => {}
    });
    // Removed (if it still names the command) before anything is reported: whoever reads the
    // report, or sees run end, finds the file gone.
    if let Some(Err(e)) = owned.map(tether::pidfile::Owned::release) {
        diag!("{prog}: {}", escape(e.message()));
    }
    let (report, exit) = match &result {
        Ok(outcome) => {
            if let Some(e) = &outcome.error {
                diag!("{prog}: {}", escape(e.message()));
            }
            if outcome.child_exit.is_some_and(|e| e.core_dumped) {
                diag!("{prog}: the monitored command dumped core");
            }
            let exit = gnu_exit(outcome, c.preserve_status);
            (RunReport::new(outcome, exit), exit)
        }
        Err(e) => {
            diag!("{prog}: {}", escape(e.message()));
            let exit = gnu_spawn_exit(e);
            (
                RunReport::not_started(&inv.command, e, exit, began.elapsed()),
                exit,
            )
        }
    };
    if let Some(sink) = sink {
        if let Err(msg) = sink.write(&report) {
            diag!("{prog}: {msg}");
        }
    }
    if inv.json {
        output::print_report(&report);
    }
    end_as(exit)
}

/// One of run's own failures (not a usage error): the message, a tether.error/v1 document with
/// `--json`, exit 125.
fn fail(prog: &str, msg: &str, json: bool) -> ! {
    if json {
        output::print_report(&ErrorReport::from(&tether::Error::invalid(msg)));
    }
    diag!("{prog}: {msg}");
    output::exit(EXIT_CANCELED);
}

/// End this process the way GNU `timeout` would: by the signal when there is one (falling back
/// to exit 128+N if the signal does not end it, as for PID 1), else with the code. Stdout is
/// flushed first.
fn end_as(exit: GnuExit) -> ! {
    // A failed write of the report is run's own failure (125), before any signal is re-raised.
    output::end_output();
    if let Some(sig) = exit.signal {
        raise_exit_signal(sig);
    }
    output::exit(exit.code)
}

/// Where `--report` goes, opened before the command starts.
enum ReportSink {
    /// `-`: stderr.
    Stderr,
    /// Written in place: not a regular file (a terminal, a pipe such as `>(jq .)`,
    /// /dev/stderr), or a file in a directory where no temporary file can be made (`truncate`).
    Direct {
        file: File,
        path: PathBuf,
        truncate: bool,
    },
    /// A regular file or a new one: written to a temporary file in the same directory, which
    /// then replaces it at once, so that a reader never sees half a report.
    Atomic {
        tmp: PathBuf,
        file: File,
        target: PathBuf,
    },
}

impl ReportSink {
    fn open(path: &Path) -> Result<ReportSink, String> {
        if path.as_os_str() == "-" {
            return Ok(ReportSink::Stderr);
        }
        let cannot = |e: &dyn std::fmt::Display| {
            format!(
                "cannot write the report to {}: {e} (give --report a file in a directory you \
                 may write to, or - for stderr)",
                escape(&path.to_string_lossy())
            )
        };
        let plain = |e: std::io::Error| cannot(&output::plain_io_error(&e));
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Err(cannot(&"it is a directory")),
            Ok(m) if !m.is_file() => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(plain)?;
                return Ok(ReportSink::Direct {
                    file,
                    path: path.to_path_buf(),
                    truncate: false,
                });
            }
            _ => {}
        }
        // Replace what a symbolic link points to, not the link.
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let base = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "report".into());
        let tmp = dir.join(format!(".{base}.tether-{}", std::process::id()));
        let file = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => f,
            Err(e) => {
                // An existing file we may write, in a directory we may not: write it in place.
                return match std::fs::OpenOptions::new().write(true).open(&target) {
                    Ok(file) => Ok(ReportSink::Direct {
                        file,
                        path: target,
                        truncate: true,
                    }),
                    Err(_) => Err(plain(e)),
                };
            }
        };
        // A report replacing an existing file keeps that file's permissions.
        if let Ok(m) = std::fs::metadata(&target) {
            let _ = file.set_permissions(m.permissions());
        }
        Ok(ReportSink::Atomic { tmp, file, target })
    }

    fn write(self, r: &RunReport) -> Result<(), String> {
        let text = serde_json::to_string_pretty(&tagged(r)).unwrap_or_default() + "\n";
        let failed = |p: &Path, e: std::io::Error| {
            format!(
                "writing the report to {}: {}",
                escape(&p.to_string_lossy()),
                output::plain_io_error(&e)
            )
        };
        match self {
            ReportSink::Stderr => {
                let _ = std::io::stderr().write_all(text.as_bytes());
                Ok(())
            }
            ReportSink::Direct {
                mut file,
                path,
                truncate,
            } => {
                let res = if truncate { file.set_len(0) } else { Ok(()) };
                res.and_then(|()| file.write_all(text.as_bytes()))
                    .map_err(|e| failed(&path, e))
            }
            ReportSink::Atomic {
                tmp,
                mut file,
                target,
            } => {
                let res = file
                    .write_all(text.as_bytes())
                    .and_then(|()| file.sync_all())
                    .and_then(|()| std::fs::rename(&tmp, &target));
                if res.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                }
                res.map_err(|e| failed(&target, e))
            }
        }
    }
}

/// `timeout --help`: GNU's layout, GNU's options plus tether's own.
fn gnu_help() -> &'static str {
    "Usage: timeout [OPTION] DURATION COMMAND [ARG]...
  or:  timeout [OPTION]
Run COMMAND, and end it and what it started if it outlives DURATION.

Mandatory arguments to long options are mandatory for short options too.
      --preserve-status
                 exit with COMMAND's own status, also when the time limit
                   passed
      --foreground
                 keep COMMAND in this process group, so that it can read the
                   terminal and get its signals; only COMMAND itself is
                   signalled, and what it started is left running
  -k, --kill-after=DURATION
                 send KILL too if COMMAND is still running this long after
                   the first signal
  -s, --signal=SIGNAL
                 the signal to send when the time limit passes (default TERM):
                   a name such as 'HUP' or a number, 0 to send none;
                   'kill -l' lists them
  -v, --verbose  say on stderr which signal is sent, when it is sent
      --contain=MODE
                 how COMMAND's processes are held together: auto (default),
                   cgroup, group (session + subreaper) or none
      --report=FILE
                 write a JSON report (tether.run/v1) to FILE, - for stderr
      --json     print the JSON report on stdout once COMMAND has ended
      --help        display this help and exit
      --version     output version information and exit

DURATION is a number, in seconds unless followed by 's', 'm' (minutes), 'h'
(hours) or 'd' (days); decimal, exponent and hexadecimal forms are accepted
(1.5, 2.34e+5d, 0x1p-3), as are Go forms (500ms, 1h30m). 0 means no limit.

When the limit passes, TERM (or SIGNAL) is sent to COMMAND and everything it
started, followed by CONT. A command that catches or ignores the signal keeps
running; --kill-after (or -s KILL) ends it regardless.

Exit status:
  124  if the time limit passed, without --preserve-status
  125  if timeout itself failed
  126  if COMMAND was found but could not be run
  127  if COMMAND was not found
  137  if COMMAND (or timeout itself) was sent KILL (128+9)
  -    COMMAND's own exit status otherwise

timeout is tether's drop-in for GNU timeout; see 'tether run --help'."
}

/// `timeout --version`: GNU's layout.
fn gnu_version() -> String {
    format!(
        "timeout (tether) {}
Copyright the tether authors.
License: MIT or Apache-2.0, at your option.
This is free software: you may change and share it.
It comes with no warranty, to the extent permitted by law.

Part of tether, process primitives that never signal the wrong process.",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_found_among_the_options_only() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(json_in_options(&a(&[
            "--timeout",
            "5",
            "--json",
            "--",
            "x"
        ])));
        assert!(json_in_options(&a(&["-s", "--json", "--json"])));
        assert!(!json_in_options(&a(&["-s", "--json", "cmd"])));
        assert!(!json_in_options(&a(&["--", "cmd", "--json"])));
        assert!(!json_in_options(&a(&["cmd", "--json"])));
    }
}
