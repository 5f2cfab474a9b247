//! Exit codes and error printing, shared by every command but `run` (which follows GNU timeout).

use tether::{Error, ErrorKind};

use crate::output::{print_report, Ctx};

/// Success.
pub const OK: i32 = 0;
/// The operation failed: not found, refused, identity mismatch, not ready.
pub const FAILED: i32 = 1;
/// Usage error: bad arguments.
pub const USAGE: i32 = 2;
/// A deadline passed.
pub const TIMEOUT: i32 = 124;

/// The exit-code table shown in `--help`.
pub const GENERAL_HELP: &str =
    "Exit codes: 0 success; 1 the operation failed (not found, refused, identity mismatch); \
2 usage error (bad PID, signal, regex, duration or identity string); 124 a deadline passed.";

/// The exit code of a library error.
pub fn code_of(e: &Error) -> i32 {
    match e.kind() {
        ErrorKind::InvalidArgument => USAGE,
        ErrorKind::TimedOut => TIMEOUT,
        _ => FAILED,
    }
}

/// Print an error (as JSON on stdout with `--json`, and always as a line on stderr) and
/// return the exit code.
pub fn report_error(e: &Error, ctx: &Ctx) -> i32 {
    if ctx.json {
        print_report(&tether::report::ErrorReport::from(e));
    }
    // A rail's refusal can be overridden; the library says why, the CLI names the flag.
    let hint = if e.kind() == ErrorKind::Refused {
        " (use --force to override)"
    } else {
        ""
    };
    diag!("tether: {}{hint}", e.message());
    code_of(e)
}

/// Turn a command's result into the process exit code.
pub fn finish(result: tether::Result<i32>, ctx: &Ctx) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => report_error(&e, ctx),
    }
}

/// Argument errors exit 2 (help and version exit 0), without a panic or a backtrace.
pub fn clap_error(e: clap::Error) -> ! {
    let code = if e.use_stderr() { USAGE } else { OK };
    let _ = e.print();
    std::process::exit(code);
}
