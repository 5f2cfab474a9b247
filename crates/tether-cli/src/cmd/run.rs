//! `tether run`: a drop-in for GNU `timeout`, on a contained tree. Invoked through a link named
//! `timeout`, it takes GNU's positional form `timeout [OPTION] DURATION COMMAND [ARG]...`.
//!
//! Its own errors (usage, bad duration or signal) exit 125, as GNU's do; the library's
//! [`tether::run::RunReport`] decides every other exit code.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;
use tether::contain::{ContainMode, SpawnSpec};
use tether::report::tagged;
use tether::run::{parse_timeout, run as run_command, RunOptions, RunReport, EXIT_CANCELED};
use tether::signal::Signal;

use crate::output::Ctx;

pub const HELP: &str = "Runs COMMAND with a time limit, exactly like GNU timeout: when the limit passes, \
the signal (TERM) is sent, followed by SIGCONT, and KILL after --kill-after if it is still running. \
Durations: 5, 1.5, 2m, 1d (GNU) or 500ms, 1h30m (Go); 0 or no --timeout means no limit. Signals tether \
receives (TERM, INT, HUP, QUIT, USR1, USR2) are passed on to the command's tree.

Unlike GNU timeout, the command runs contained (--contain auto: a cgroup v2 leaf when possible, otherwise \
a new session with tether as child subreaper), so nothing it started outlives run: whatever the command \
leaves behind when it exits is killed, and if tether itself is killed (even with SIGKILL), the watchdog \
that launched the command sends the signal (-s, as GNU timeout sets it as the parent-death signal) to the \
whole tree, then KILL to whatever is left after --kill-after, or after 1 s when none was given. run returns as soon as the tree is gone, never waiting out --kill-after for nothing. \
--foreground runs the command uncontained in tether's process group, as GNU does (only the command is \
signalled). Nothing is printed on stdout; --report FILE (or - for stderr) writes a tether.run/v1 JSON report.

Exit codes (GNU timeout's): 124 the limit passed (unless --preserve-status); 125 tether run itself failed \
(usage, bad duration or signal); 126 COMMAND found but cannot be invoked; 127 COMMAND not found; \
137 KILL had to be sent (tether ends by SIGKILL, as GNU timeout does); when COMMAND dies of signal N, \
tether ends by the same signal (a shell sees 128+N); otherwise the exit status of COMMAND.";

/// `tether run [OPTIONS] [--] CMD [ARG...]`.
#[derive(Parser, Debug)]
#[command(name = "tether run", disable_version_flag = true, after_help = HELP)]
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

/// GNU form: `timeout [OPTION] DURATION COMMAND [ARG]...`.
#[derive(Parser, Debug)]
#[command(name = "timeout", disable_version_flag = true, after_help = HELP)]
struct GnuArgs {
    #[command(flatten)]
    common: Common,
    /// Time limit.
    #[arg(value_name = "DURATION")]
    duration: String,
    /// Command and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Options shared by both forms.
#[derive(clap::Args, Debug)]
pub struct Common {
    /// Signal to send when the limit passes (name or number).
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
    /// Containment: auto, cgroup, group (session + subreaper) or none.
    #[arg(long, default_value = "auto", value_name = "MODE")]
    pub contain: String,
    /// Write a tether.run/v1 JSON report to FILE (`-` = stderr).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// Take over before the main parser when invoked as `timeout` or as `tether run`, so that usage
/// errors exit 125 (not 2) as GNU's do. Returns only for other commands.
pub fn intercept() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args
        .first()
        .map(|a| {
            PathBuf::from(a)
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    if argv0 == "timeout" {
        let parsed = GnuArgs::try_parse_from(&args).unwrap_or_else(|e| usage_error(e, "timeout"));
        execute(
            "timeout",
            Some(parsed.duration),
            parsed.common,
            parsed.command,
            None,
        );
    }
    if args.get(1).is_some_and(|a| a == "run") {
        let rest = std::iter::once(OsString::from("tether run")).chain(args[2..].iter().cloned());
        let parsed = Args::try_parse_from(rest).unwrap_or_else(|e| usage_error(e, "tether run"));
        execute(
            "tether run",
            parsed.timeout,
            parsed.common,
            parsed.command,
            None,
        );
    }
}

fn usage_error(e: clap::Error, prog: &str) -> ! {
    if !e.use_stderr() {
        let _ = e.print();
        std::process::exit(0);
    }
    let _ = e.print();
    diag!("Try '{prog} --help' for more information.");
    std::process::exit(EXIT_CANCELED);
}

fn fail(prog: &str, msg: &str) -> ! {
    diag!("{prog}: {msg}");
    diag!("Try '{prog} --help' for more information.");
    std::process::exit(EXIT_CANCELED);
}

/// `tether run` reached through the main parser (e.g. after a global `--json`, which then
/// writes the report to stderr unless `--report` says otherwise).
pub fn run(a: Args, ctx: &Ctx) -> tether::Result<i32> {
    let json_to = ctx.json.then(|| PathBuf::from("-"));
    execute("tether run", a.timeout, a.common, a.command, json_to)
}

fn execute(
    prog: &str,
    timeout: Option<String>,
    c: Common,
    command: Vec<OsString>,
    default_report: Option<PathBuf>,
) -> ! {
    let timeout = match timeout.as_deref().map(parse_timeout) {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => fail(prog, e.message()),
        None => None,
    };
    let kill_after = match c.kill_after.as_deref().map(parse_timeout) {
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => fail(prog, e.message()),
        None => None,
    };
    let signal: Signal = match c.signal.parse() {
        Ok(s) => s,
        Err(_) => fail(prog, &format!("'{}': invalid signal", c.signal)),
    };
    let mode: ContainMode = match c.contain.parse() {
        Ok(m) => m,
        Err(e) => fail(prog, e.message()),
    };
    let mut spec = SpawnSpec::new(command);
    spec.mode = mode;
    let opts = RunOptions {
        spec,
        timeout,
        signal,
        kill_after,
        preserve_status: c.preserve_status,
        foreground: c.foreground,
        verbose: c.verbose,
        program_name: prog.to_string(),
        forward_signals: true,
        // The tether process owns all its children, so every orphan adopted is the tree's.
        adopt_children: true,
    };
    let report = run_command(&opts);
    if let Some(path) = c.report.or(default_report) {
        write_report(&report, &path, prog);
    }
    report.exit_process()
}

fn write_report(r: &RunReport, path: &std::path::Path, prog: &str) {
    let text = serde_json::to_string_pretty(&tagged(r)).unwrap_or_default() + "\n";
    let res = if path.as_os_str() == "-" {
        use std::io::Write;
        std::io::stderr().write_all(text.as_bytes())
    } else {
        std::fs::write(path, text)
    };
    if let Err(e) = res {
        diag!("{prog}: writing the report to {}: {e}", path.display());
    }
}
