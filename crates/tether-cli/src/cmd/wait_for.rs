//! `tether wait-for TARGET...`: wait until ports, URLs, files, log lines, exits, port owners or
//! commands are ready (or, with --reverse, no longer are).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use tether::duration::parse_duration;
use tether::ready::{
    parse_status_ranges, wait_for_labeled, watch_pidfile, FileOptions, HttpOptions, Outcome,
    Progress, Target, WaitOptions,
};
use tether::{Error, ProcessIdentity, Result};

use crate::exit;
use crate::output::{print_report, Ctx};

/// Exit code when the process of --pid/--pidfile died before the targets were ready.
pub const PROCESS_DIED: i32 = 3;

pub const HELP: &str = "Targets:
  host:port, :port, tcp://host:port   a TCP connect succeeds (:port is 127.0.0.1)
  http://..., https://...             a GET answers with a status in --status (default 200-399)
                                      and a body matching --body; certificates are verified
                                      unless --insecure
  file:PATH                           the path exists (--non-empty, --stable D)
  unix:PATH                           a Unix stream socket accepts a connection
  log:PATH=REGEX                      a line matching REGEX is appended (read from the file's
                                      current end; follows rotation and truncation)
  exit:PID|IDENTITY                   the process is gone (pidfd)
  owner:PORT[/tcp|/udp]=PID           the port is held by PID or a descendant of it
                                      (a stale server on the port does not count)
  cmd:SHELL COMMAND                   `sh -c COMMAND` exits 0

Files, Unix socket paths and logs are watched with inotify, exits through pidfds. Network
checks run at once and are retried after 1 ms, the delay doubling up to --interval; while nothing
listens on a local port, a sock_diag lookup (which makes no connection) runs in between, at least
every 10 ms, so an opening port is seen within milliseconds.
A progress line (elapsed time, last error per target) is shown when stderr is a terminal.

Exit codes:
  0    ready (with --reverse: no longer ready)
  1    a target can never become ready (e.g. the PID of owner: exited), or setup failed
  2    usage error (bad target, duration, regex, status list)
  3    the process of --pid/--pidfile died first
  124  --timeout passed";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to wait for (see below).
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Give up after this long (e.g. 30s, 1m, 500ms); 0 or absent: wait forever.
    #[arg(long, value_name = "D")]
    pub timeout: Option<String>,
    /// Longest delay between two network checks (backoff cap).
    #[arg(long, value_name = "D", default_value = "1s")]
    pub interval: String,
    /// Ready when any target is ready (default: all).
    #[arg(long)]
    pub any: bool,
    /// Wait until the targets are not ready (a port freed, a file gone).
    #[arg(long)]
    pub reverse: bool,
    /// Fail at once (exit 3) if this process (PID or identity) exits first.
    #[arg(long, value_name = "P", conflicts_with = "pidfile")]
    pub pid: Option<String>,
    /// Like --pid, with the PID read from this file.
    #[arg(long, value_name = "F")]
    pub pidfile: Option<PathBuf>,
    /// No progress line and no text output (the exit code tells).
    #[arg(long, short)]
    pub quiet: bool,
    /// Accepted HTTP statuses, e.g. 200, 200-299,304.
    #[arg(long, value_name = "LIST", default_value = "200-399")]
    pub status: String,
    /// HTTP body must match this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub body: Option<String>,
    /// Do not verify HTTPS certificates (verification is on by default).
    #[arg(long)]
    pub insecure: bool,
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

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let mut targets: Vec<Target> = Vec::new();
    for t in &a.targets {
        targets.push(t.parse()?);
    }
    let timeout = match &a.timeout {
        Some(s) => Some(duration("timeout", s)?).filter(|d| !d.is_zero()),
        None => None,
    };
    let interval = duration("interval", &a.interval)?;
    if interval.is_zero() {
        return Err(Error::invalid("--interval must be more than 0"));
    }
    let body = match &a.body {
        Some(b) => Some(
            regex::Regex::new(b).map_err(|e| Error::invalid(format!("--body: bad regex: {e}")))?,
        ),
        None => None,
    };
    let stable = a
        .stable
        .as_deref()
        .map(|s| duration("stable", s))
        .transpose()?;
    let watch: Option<ProcessIdentity> = match (&a.pid, &a.pidfile) {
        (Some(p), _) => Some(match tether::signal::Target::parse(p)? {
            tether::signal::Target::Identity(id) => id,
            t => ProcessIdentity::of(t.pid())?,
        }),
        (None, Some(f)) => Some(watch_pidfile(f)?),
        (None, None) => None,
    };
    let opts = WaitOptions {
        timeout,
        interval,
        any: a.any,
        reverse: a.reverse,
        watch,
        http: HttpOptions {
            status: parse_status_ranges(&a.status)?,
            body,
            insecure: a.insecure,
        },
        file: FileOptions {
            non_empty: a.non_empty,
            stable,
        },
        ..Default::default()
    };
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
                    Some(e) => format!("{}: {e}", t.target),
                    None => t.target.clone(),
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
        Outcome::Failed => exit::FAILED,
    };
    if ctx.json {
        print_report(&r);
        return Ok(code);
    }
    if a.quiet {
        return Ok(code);
    }
    let verb = if a.reverse { "not ready" } else { "ready" };
    for t in &r.targets {
        match (t.ready, t.time_to_ready_ms, &t.last_error) {
            (true, Some(ms), _) => diag!("{}: {verb} after {ms:.1} ms", t.target),
            (_, _, Some(e)) => diag!(
                "{}: not {verb} after {} attempts: {e}",
                t.target,
                t.attempts
            ),
            _ => diag!("{}: not {verb}", t.target),
        }
    }
    match r.outcome {
        Outcome::TimedOut => diag!("tether: timed out after {:.0} ms", r.elapsed_ms),
        Outcome::ProcessDied => diag!(
            "tether: the watched process {} exited first",
            r.watched.as_deref().unwrap_or("?")
        ),
        Outcome::Failed => diag!("tether: a target can never become ready"),
        Outcome::Ready => {}
    }
    Ok(code)
}
