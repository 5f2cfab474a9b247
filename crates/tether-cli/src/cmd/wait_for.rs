//! `tether wait-for TARGET... [-- CMD [ARGS]]`: wait until ports, URLs, files, log lines,
//! exits, port owners or commands are ready (or, with --reverse, no longer are), then
//! optionally become CMD.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use tether::duration::parse_duration;
use tether::ready::{
    exec, parse_header, parse_method, parse_status_ranges, wait_for_labeled, watch_pidfile,
    Outcome, Progress, Target, WaitForOutcome, WaitOptions, Watch,
};
use tether::{Error, ErrorKind, Result};
use tether_report::{fractional_ms, WaitForReport};

use crate::exit;
use crate::output::{escape, plural, print_report, Ctx};

/// Exit code when the watched process died before the targets were ready.
pub const PROCESS_DIED: i32 = 3;

pub const HELP: &str = "Targets:
  host:port, :port, tcp://host:port   a TCP connect succeeds (:port is 127.0.0.1; the port
                                      is 1-65535, optionally with /tcp)
  http://..., https://...             a request (--method, default GET; --header) answers with
                                      a status in --status (default 200-399) and a body matching
                                      --body; certificates are verified unless --insecure
  file:PATH                           the path exists (--non-empty, --stable D)
  unix:PATH                           a Unix stream socket accepts a connection
  log:PATH=REGEX                      a line matching REGEX is appended (read from the file's
                                      current end; follows rotation and truncation, and a line
                                      split across a rotation is matched whole)
  exit:PID|IDENTITY                   the process is gone (pidfd)
  owner:PORT[/tcp|/udp]=PID           the port is held by PID or a descendant of it
                                      (a stale server on the port does not count)
  cmd:SHELL COMMAND                   `sh -c COMMAND` exits 0

Options that apply to some targets only (--status, --body, --insecure, --method, --header for
http(s); --non-empty, --stable for file:; --attempt-timeout for tcp, http(s) and cmd:;
--interval for tcp, http(s), owner: and cmd:) are refused when no such target is given.

Files, Unix socket paths and logs are watched with inotify, exits through pidfds. Network
checks run at once and are retried after 1 ms, the delay doubling up to --interval; while nothing
listens on a local port, a sock_diag lookup (which makes no connection) runs in between, at least
every 10 ms, so an opening port is seen within milliseconds. Each connect or request may take
--attempt-timeout (default 5 s for connects, 10 s for requests; cmd: runs have no limit unless
it is given), never past --timeout.
A progress line (elapsed time, last error per target) is shown when stderr is a terminal.

With `-- CMD [ARGS]`, tether becomes CMD once the targets are ready (exec: same PID, CMD's exit
status is the exit status), as wait-for-it, dockerize and wait4x do; when they never become ready,
CMD is not run and the exit status says why. Not with --json (CMD's output would follow the report
on stdout).

Exit codes:
  0    ready (with --reverse: no longer ready)
  1    a target can never become ready (e.g. the PID of owner: exited), or setup failed
       (e.g. the --watch-pidfile file cannot be read)
  2    usage error (bad target, port, duration, regex, status list, header, option that applies
       to no given target)
  3    the --watch-pid/--watch-pidfile process died first (or was not running at the start)
  124  --timeout passed
  126, 127  with -- CMD: CMD could not be executed, or was not found";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to wait for (see below).
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Once ready, execute this command in place of tether (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<OsString>,
    /// Give up after this long (e.g. 30s, 1m, 500ms); 0 or absent: wait forever.
    #[arg(long, short = 't', value_name = "D")]
    pub timeout: Option<String>,
    /// Longest delay between two network checks or command runs (backoff cap; default 1s).
    #[arg(long, value_name = "D")]
    pub interval: Option<String>,
    /// Longest time one connect, request or command run may take.
    #[arg(long, value_name = "D")]
    pub attempt_timeout: Option<String>,
    /// Ready when any target is ready (default: all).
    #[arg(long)]
    pub any: bool,
    /// Wait until the targets are not ready (a port freed, a file gone).
    #[arg(long)]
    pub reverse: bool,
    /// Fail at once (exit 3) if this process (PID or identity) exits first.
    #[arg(long, value_name = "PID|IDENTITY", conflicts_with = "watch_pidfile")]
    pub watch_pid: Option<String>,
    /// Like --watch-pid, with the PID read from this file.
    #[arg(long, value_name = "FILE")]
    pub watch_pidfile: Option<PathBuf>,
    /// The former names of --watch-pid and --watch-pidfile, refused with a pointer to them
    /// (elsewhere --pid is a filter and --pidfile names the target).
    #[arg(long, hide = true, value_name = "P")]
    pub pid: Option<String>,
    #[arg(long, hide = true, value_name = "F")]
    pub pidfile: Option<String>,
    /// No progress line and no text output (the exit code tells).
    #[arg(long, short)]
    pub quiet: bool,
    /// Accepted HTTP statuses (100-599), e.g. 200, 200-299,304 (default 200-399).
    #[arg(long, value_name = "LIST")]
    pub status: Option<String>,
    /// HTTP body must match this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub body: Option<String>,
    /// Do not verify HTTPS certificates (verification is on by default).
    #[arg(long)]
    pub insecure: bool,
    /// HTTP method: GET (default), HEAD, POST, PUT, DELETE, OPTIONS or PATCH (no request body).
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,
    /// HTTP request header 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "'NAME: VALUE'")]
    pub headers: Vec<String>,
    /// file: targets must be non-empty.
    #[arg(long)]
    pub non_empty: bool,
    /// file: targets must not have changed size for this long.
    #[arg(long, value_name = "D")]
    pub stable: Option<String>,
}

fn duration(what: &str, s: &str) -> Result<Duration> {
    parse_duration(s).map_err(|e| Error::invalid(format!("--{what}: {}", e.message())))
}

/// Refuse options that apply to no given target (they would be ignored silently).
fn check_applicable(a: &Args, targets: &[Target]) -> Result<()> {
    let has = |kinds: &[&str]| targets.iter().any(|t| kinds.contains(&t.kind().as_str()));
    let given = |opts: &[(&str, bool)]| -> Vec<String> {
        opts.iter()
            .filter(|(_, g)| *g)
            .map(|(n, _)| format!("--{n}"))
            .collect()
    };
    let rules: [(Vec<String>, &[&str], &str); 4] = [
        (
            given(&[
                ("status", a.status.is_some()),
                ("body", a.body.is_some()),
                ("insecure", a.insecure),
                ("method", a.method.is_some()),
                ("header", !a.headers.is_empty()),
            ]),
            &["http"],
            "http:// or https:// targets",
        ),
        (
            given(&[("non-empty", a.non_empty), ("stable", a.stable.is_some())]),
            &["file"],
            "file: targets",
        ),
        (
            given(&[("attempt-timeout", a.attempt_timeout.is_some())]),
            &["tcp", "http", "cmd"],
            "tcp, http(s) and cmd: targets",
        ),
        (
            given(&[("interval", a.interval.is_some())]),
            &["tcp", "http", "owner", "cmd"],
            "tcp, http(s), owner: and cmd: targets",
        ),
    ];
    for (opts, kinds, what) in rules {
        if !opts.is_empty() && !has(kinds) {
            let (list, verb) = if opts.len() == 1 {
                (opts[0].clone(), "applies")
            } else {
                (opts.join(", "), "apply")
            };
            return Err(Error::invalid(format!(
                "{list} {verb} only to {what}, and none is given"
            )));
        }
    }
    Ok(())
}

fn build_options(a: &Args, targets: &[Target], ctx: &Ctx) -> Result<WaitOptions> {
    if a.pid.is_some() || a.pidfile.is_some() {
        return Err(Error::invalid(
            "--pid and --pidfile are not wait-for options: the process whose death ends the \
             wait is given with --watch-pid PID|IDENTITY or --watch-pidfile FILE",
        ));
    }
    check_applicable(a, targets)?;
    if !a.command.is_empty() && ctx.json {
        return Err(Error::invalid(
            "--json cannot be combined with -- CMD: CMD's output would follow the report on \
             stdout; run `tether wait-for --json ... && CMD` instead",
        ));
    }
    let timeout = match &a.timeout {
        Some(s) => Some(duration("timeout", s)?).filter(|d| !d.is_zero()),
        None => None,
    };
    let interval = duration("interval", a.interval.as_deref().unwrap_or("1s"))?;
    if interval.is_zero() {
        return Err(Error::invalid("--interval must be more than 0"));
    }
    let attempt_timeout = match &a.attempt_timeout {
        Some(s) => {
            let d = duration("attempt-timeout", s)?;
            if d.is_zero() {
                return Err(Error::invalid("--attempt-timeout must be more than 0"));
            }
            Some(d)
        }
        None => None,
    };
    let body = match &a.body {
        Some(b) => Some(
            regex::Regex::new(b).map_err(|e| Error::invalid(format!("--body: bad regex: {e}")))?,
        ),
        None => None,
    };
    let method = match &a.method {
        Some(m) => parse_method(m)?,
        None => "GET".to_string(),
    };
    if method == "HEAD" && body.is_some() {
        return Err(Error::invalid(
            "--body cannot be checked with --method HEAD: a HEAD answer has no body",
        ));
    }
    let headers = a
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>>>()?;
    let stable = a
        .stable
        .as_deref()
        .map(|s| duration("stable", s))
        .transpose()?;
    let watch = match (&a.watch_pid, &a.watch_pidfile) {
        (Some(p), _) => Some(Watch::from(p.parse::<tether::ProcessRef>()?)),
        (None, Some(f)) => Some(watch_pidfile(f)?),
        (None, None) => None,
    };
    let mut o = WaitOptions::default();
    o.timeout = timeout;
    o.interval = interval;
    o.attempt_timeout = attempt_timeout;
    o.any = a.any;
    o.reverse = a.reverse;
    o.watch = watch;
    if let Some(s) = &a.status {
        o.http.status = parse_status_ranges(s)?;
    }
    o.http.body = body;
    o.http.insecure = a.insecure;
    o.http.method = method;
    o.http.headers = headers;
    o.file.non_empty = a.non_empty;
    o.file.stable = stable;
    Ok(o)
}

/// The human lines on stderr: one per target, then why the wait ended.
fn print_human(r: &WaitForOutcome, reverse: bool) {
    let watched = || r.watched.as_ref().map_or("?".into(), Watch::to_string);
    if r.outcome == Outcome::ProcessDied && r.targets.iter().all(|t| t.attempts == 0) {
        diag!(
            "tether: the watched process {} was not running when the wait started",
            watched()
        );
        return;
    }
    for t in &r.targets {
        let name = escape(&t.target);
        let tries = plural(t.attempts, "attempt", "attempts");
        match (
            t.ready,
            t.time_to_ready.map(fractional_ms),
            &t.last_error,
            reverse,
        ) {
            (true, Some(ms), _, false) => diag!("{name}: ready after {ms:.1} ms"),
            (true, Some(ms), _, true) => diag!("{name}: no longer ready after {ms:.1} ms"),
            (_, _, Some(e), false) => {
                diag!("{name}: not ready after {tries}: {}", escape(e))
            }
            (_, _, _, true) => diag!("{name}: still ready after {tries}"),
            _ => diag!("{name}: not ready after {tries}"),
        }
    }
    match r.outcome {
        Outcome::TimedOut => diag!("tether: timed out after {:.0} ms", fractional_ms(r.elapsed)),
        Outcome::ProcessDied => diag!("tether: the watched process {} exited first", watched()),
        Outcome::Failed => diag!("tether: a target can never become ready"),
        _ => {}
    }
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let mut targets: Vec<Target> = Vec::new();
    for t in &a.targets {
        targets.push(t.parse()?);
    }
    let opts = build_options(&a, &targets, ctx)?;
    let labels: Vec<String> = a.targets.clone();
    let show_progress = !a.quiet && std::io::stderr().is_terminal();
    let bar = show_progress.then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b
    });
    let mut on_progress = |p: &Progress| {
        if let Some(b) = &bar {
            let waiting: Vec<String> = p
                .targets
                .iter()
                .filter(|t| !t.ready)
                .map(|t| match &t.last_error {
                    Some(e) => format!("{}: {}", escape(&t.target), escape(e)),
                    None => escape(&t.target).into_owned(),
                })
                .collect();
            b.set_message(format!(
                "{:.1}s waiting for {}",
                p.elapsed.as_secs_f64(),
                waiting.join("; ")
            ));
            b.tick();
        }
    };
    let cb: Option<&mut dyn FnMut(&Progress)> = if show_progress {
        Some(&mut on_progress)
    } else {
        None
    };
    let r = wait_for_labeled(targets, labels, &opts, cb)?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let code = match r.outcome {
        Outcome::Ready => exit::OK,
        Outcome::TimedOut => exit::TIMEOUT,
        Outcome::ProcessDied => PROCESS_DIED,
        _ => exit::FAILED,
    };
    if ctx.json {
        print_report(&WaitForReport::from(&r));
    } else if !a.quiet {
        print_human(&r, a.reverse);
    }
    if code != exit::OK || a.command.is_empty() {
        return Ok(code);
    }
    // Ready: become CMD. Anything buffered for stdout goes out first.
    crate::output::flush();
    let e = exec(&a.command);
    diag!("tether: {}", e.message());
    Ok(if e.kind() == ErrorKind::NotFound {
        tether::run::EXIT_ENOENT
    } else {
        tether::run::EXIT_CANNOT_INVOKE
    })
}
