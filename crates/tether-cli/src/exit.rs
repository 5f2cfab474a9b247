//! Exit codes and error printing, shared by every command but `run` (which follows GNU timeout).

use tether::{Error, ErrorKind};
use tether_report::ErrorReport;

use crate::output::{self, print_report, Ctx};

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

/// What the CLI adds to a refusal by a safety rail: the library decides, and does not know the
/// flag that overrides it.
pub const FORCE_HINT: &str = "(use --force to override)";

/// The exit code of a library error.
pub fn code_of(e: &Error) -> i32 {
    match e.kind() {
        ErrorKind::InvalidArgument => USAGE,
        ErrorKind::TimedOut => TIMEOUT,
        _ => FAILED,
    }
}

/// The error as the CLI reports it: a rail's refusal says how to override it.
fn with_hint(e: &Error) -> Error {
    match e.kind() {
        ErrorKind::Refused => Error::new(e.kind(), format!("{} {FORCE_HINT}", e.message())),
        _ => e.clone(),
    }
}

/// Print an error (as JSON on stdout with `--json`, and always as a line on stderr) and
/// return the exit code. The stderr line is escaped: messages may quote names and paths that
/// other processes control.
pub fn report_error(e: &Error, ctx: &Ctx) -> i32 {
    // JSON carries the library's words (programs read `kind`); the hint is for people.
    if ctx.json {
        print_report(&ErrorReport::from(e));
    }
    diag!("tether: {}", output::escape(with_hint(e).message()));
    code_of(e)
}

/// Turn a command's result into the process exit code.
pub fn finish(result: tether::Result<i32>, ctx: &Ctx) -> i32 {
    match result {
        Ok(code) => code,
        Err(e) => report_error(&e, ctx),
    }
}

/// Help and version (exit 0), or an argument error (exit 2): clap's text, printed under the
/// same write-error rules as all output, never a panic. With `json`, an argument error is also
/// a `tether.error/v1` document on stdout.
pub fn clap_error(e: clap::Error, json: bool) -> ! {
    if !e.use_stderr() {
        output::clap_message(&e);
        output::exit(OK);
    }
    if json {
        print_usage_error_json(&e);
    }
    output::clap_message(&e);
    output::exit(USAGE)
}

/// Print an argument error as a `tether.error/v1` document (kind `invalid_argument`) on stdout.
pub fn print_usage_error_json(e: &clap::Error) {
    print_report(&ErrorReport::from(&Error::invalid(usage_message(e))));
}

/// The one-line message of a clap error, without clap's `error: ` prefix, usage and tips.
pub fn usage_message(e: &clap::Error) -> String {
    use clap::error::ErrorKind as K;
    if matches!(
        e.kind(),
        K::DisplayHelpOnMissingArgumentOrSubcommand | K::MissingSubcommand
    ) {
        return "no command given (see 'tether --help')".to_string();
    }
    // The first paragraph ("the following required arguments were not provided:" continues on
    // the next lines), on one line.
    let text = e.render().to_string();
    let first: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let first = first.join(" ");
    first.strip_prefix("error: ").unwrap_or(&first).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_flag_other_errors_are_unchanged() {
        let r = with_hint(&Error::new(ErrorKind::Refused, "refusing: PID 1 is init"));
        assert_eq!(
            r.message(),
            "refusing: PID 1 is init (use --force to override)"
        );
        let n = with_hint(&Error::new(ErrorKind::NotFound, "no such process"));
        assert_eq!(n.message(), "no such process");
    }

    #[test]
    fn usage_message_is_clap_first_line() {
        let e = clap::Command::new("t")
            .try_get_matches_from(["t", "--bogus"])
            .unwrap_err();
        assert_eq!(usage_message(&e), "unexpected argument '--bogus' found");
        let e = clap::Command::new("t")
            .arg(clap::Arg::new("target").required(true))
            .try_get_matches_from(["t"])
            .unwrap_err();
        assert_eq!(
            usage_message(&e),
            "the following required arguments were not provided: <target>"
        );
    }
}
