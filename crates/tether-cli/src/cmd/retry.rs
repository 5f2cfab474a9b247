//! `tether retry`: run a command again until it succeeds. The library ([`tether::retry`])
//! decides what is retried and when; this parses, says each attempt on stderr, prints the
//! JSON report and ends with the last attempt's code.

use std::ffi::OsString;
use std::time::Duration;

use tether::duration::parse_duration;
use tether::retry::{
    self, Attempt, Backoff, CodeSet, Ending, Limit, Next, Phase, RetryEvent, RetryOptions,
    StopRule, DEFAULT_KILL_AFTER,
};
use tether::run::raise_exit_signal;
use tether::signal::Signal;
use tether::{Command, Error, Result};
use tether_report::RetryReport;

use crate::output::{self, escape, plural, print_report, Ctx};

pub const HELP: &str = "Runs COMMAND; while it fails with an exit code worth retrying, waits and \
runs it again, up to --attempts times (default 3; 0 = no limit) and within --max-time (the overall \
deadline, delays included: no delay is started that would end past it, and an attempt still \
running when it passes is ended like a timed-out one; one that ignores TERM gets KILL after \
--kill-after, which is the most the whole can overrun --max-time).

Delays: --delay (default 1s) before the first retry, then growing by --backoff: fixed (the same \
every time), linear (delay x n) or exponential (delay x 2^(n-1), the default), capped by \
--max-delay (0 = no cap). --jitter spreads each delay at random over its upper half [d/2, d], so \
that many clients failing at once do not retry in step.

Which codes are retried: by default every non-zero code except those that mean \"do not retry\": \
2 (usage error), 126 (not executable), 127 (not found), 130 (interrupted by SIGINT) and 143 \
(terminated by SIGTERM). An attempt killed by signal N has code 128+N, one ended by \
--attempt-timeout (or --max-time) 124. --retry-on CODES retries only the codes listed (also one \
of the defaults, e.g. --retry-on 2); --stop-on CODES never retries the codes listed, on top of the \
defaults, and wins over --retry-on (a code in both is a usage error). CODES: a list of codes and \
ranges, 1-255, e.g. 1,6-7,28 (both options repeatable). For curl: --retry-on 6,7,28,35,52,55,56 \
retries network failures, and --stop-on 22 stops on HTTP errors with curl --fail.

Each attempt runs contained (nothing it starts outlives it); --attempt-timeout limits each one \
as `tether run` does (TERM, then KILL after --kill-after, default 5s; 0 = never). Signals: TERM, INT, HUP and \
QUIT received while an attempt runs are passed on to its tree (KILL after --kill-after) and stop \
the retries: tether retry then exits with that attempt's code (ending by the same signal when the \
attempt died of it, so a shell sees 130 after Ctrl-C). Received while waiting between attempts, \
they end the wait and tether retry ends by that signal (128+N).

Each attempt that fails is reported on stderr (\"tether retry: attempt 2/5 exited with 7; \
retrying in 400 ms\"); -q says nothing but errors. --json prints a tether.retry/v1 report on \
stdout at the end: every attempt (code, signal, limit, start, duration, delay after it) and the \
outcome (succeeded, exhausted, not_retried, max_time, interrupted). COMMAND's own stdout goes \
to the same stream unless redirected.

Exit codes: the last attempt's code (0 when one succeeded; 124 when a limit ended it; 128+N \
when signal N killed it; 126 COMMAND cannot be invoked; 127 COMMAND not found; 125 it could not \
be started otherwise); 128+N when signal N was received between attempts; 2 usage error (bad \
option, duration or code list) before any attempt; 1 tether retry itself failed.";

/// `tether retry [OPTIONS] [--] CMD [ARG...]`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Attempts at most, the first included (0 = no limit).
    #[arg(short = 'n', long, default_value = "3", value_name = "N")]
    pub attempts: u32,
    /// Overall deadline, delays included (5, 1.5, 2m, 500ms; 0 = none).
    #[arg(short = 't', long, value_name = "D")]
    pub max_time: Option<String>,
    /// How delays grow: fixed, linear or exponential.
    #[arg(long, default_value = "exponential", value_name = "KIND")]
    pub backoff: String,
    /// Delay before the first retry (default 1s).
    #[arg(long, value_name = "D")]
    pub delay: Option<String>,
    /// Cap on each delay (0 = none).
    #[arg(long, value_name = "D")]
    pub max_delay: Option<String>,
    /// Spread each delay at random over [d/2, d].
    #[arg(long)]
    pub jitter: bool,
    /// Retry only these exit codes (e.g. 1,6-7,28; repeatable).
    #[arg(long, value_name = "CODES")]
    pub retry_on: Vec<String>,
    /// Never retry these exit codes, on top of 2,126,127,130,143 (repeatable).
    #[arg(long, value_name = "CODES")]
    pub stop_on: Vec<String>,
    /// Time limit of each attempt (0 = none); a timed-out attempt has code 124.
    #[arg(long, value_name = "D")]
    pub attempt_timeout: Option<String>,
    /// KILL an attempt still running this long after TERM (timeout or signal passed on;
    /// default 5s, 0 = never).
    #[arg(short = 'k', long, value_name = "D")]
    pub kill_after: Option<String>,
    /// Say nothing on stderr but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// Command and its arguments.
    #[arg(required = true, trailing_var_arg = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<i32> {
    let opts = options(&a)?;
    let mut cmd = Command::new(&a.command[0]);
    cmd.args(&a.command[1..]);
    let quiet = a.quiet;
    let outcome = retry::run(&mut cmd, &opts, &mut |ev| {
        if !quiet {
            say(ev, opts.attempts);
        }
    })?;
    if ctx.json {
        print_report(&RetryReport::new(&a.command, &opts, &outcome));
    }
    // After Ctrl-C (or TERM), end by the signal when that is what the code says, so that a
    // calling shell stops too, as it does when any program it runs dies of SIGINT.
    if let Ending::Interrupted { signal, .. } = outcome.ending {
        if outcome.exit_code == 128 + signal.number() {
            output::end_output();
            raise_exit_signal(signal.number());
        }
    }
    Ok(outcome.exit_code)
}

/// The library's options from the command line.
fn options(a: &Args) -> Result<RetryOptions> {
    let mut o = RetryOptions::default();
    o.attempts = a.attempts;
    o.max_time = limit("max-time", a.max_time.as_deref())?;
    o.attempt_timeout = limit("attempt-timeout", a.attempt_timeout.as_deref())?;
    o.schedule.backoff = a.backoff.parse::<Backoff>()?;
    if let Some(d) = &a.delay {
        o.schedule.delay = duration("delay", d)?;
    }
    o.schedule.max_delay = limit("max-delay", a.max_delay.as_deref())?;
    o.schedule.jitter = a.jitter;
    o.kill_after = match &a.kill_after {
        Some(k) => duration("kill-after", k)?,
        None => DEFAULT_KILL_AFTER,
    };
    o.retry_on = codes("retry-on", &a.retry_on)?;
    o.stop_on = codes("stop-on", &a.stop_on)?.unwrap_or_default();
    o.handle_signals = true;
    o.validate()
        .map_err(|e| Error::invalid(format!("--retry-on and --stop-on: {}", e.message())))?;
    Ok(o)
}

/// A duration option, its error naming the option.
fn duration(flag: &str, s: &str) -> Result<Duration> {
    parse_duration(s).map_err(|e| Error::invalid(format!("--{flag}: {}", e.message())))
}

/// An optional limit: `0` is none.
fn limit(flag: &str, s: Option<&str>) -> Result<Option<Duration>> {
    let d = s.map(|s| duration(flag, s)).transpose()?;
    Ok(d.filter(|d| !d.is_zero()))
}

/// A repeatable code-list option (`None` when not given).
fn codes(flag: &str, lists: &[String]) -> Result<Option<CodeSet>> {
    if lists.is_empty() {
        return Ok(None);
    }
    let mut all = CodeSet::new();
    for l in lists {
        let set: CodeSet = l
            .parse()
            .map_err(|e: Error| Error::invalid(format!("--{flag}: {}", e.message())))?;
        all.extend(&set);
    }
    Ok(Some(all))
}

/// The stderr line of an event.
fn say(ev: &RetryEvent<'_>, max: u32) {
    match ev {
        RetryEvent::Ended { attempt, next } => {
            if attempt.code == 0 && attempt.number == 1 {
                return;
            }
            let what = format!(
                "tether retry: attempt {} {}",
                of(attempt.number, max),
                how(attempt)
            );
            match next {
                Next::Retry(d) => diag!("{what}; retrying in {}", human(*d)),
                Next::End(ending) => diag!("{what}{}", why_end(*ending, attempt)),
            }
        }
        RetryEvent::Interrupted { signal } => diag!(
            "tether retry: received SIG{} while waiting to retry; stopping",
            signal.name()
        ),
        _ => {}
    }
}

/// `2/5`, or `2` without a limit.
fn of(n: u32, max: u32) -> String {
    if max == 0 {
        n.to_string()
    } else {
        format!("{n}/{max}")
    }
}

/// How an attempt ended: `exited with 7`, `was killed by SIGKILL (137)`, ….
fn how(a: &Attempt) -> String {
    if let Some(e) = &a.spawn_error {
        return format!("could not start ({}): {}", a.code, escape(e.message()));
    }
    match a.limit {
        Some(Limit::AttemptTimeout) => return format!("timed out ({})", a.code),
        Some(Limit::MaxTime) => {
            return format!("was ended at the --max-time deadline ({})", a.code)
        }
        _ => {}
    }
    if a.code == 0 {
        return "succeeded".to_string();
    }
    if let Some(sig) = a.signal() {
        let name = Signal::from_number(sig).map_or_else(|_| sig.to_string(), Signal::name);
        return format!("was killed by SIG{name} ({})", a.code);
    }
    if let Some(e) = a.run.as_ref().and_then(|r| r.error.as_ref()) {
        return format!(
            "could not be waited for ({}): {}",
            a.code,
            escape(e.message())
        );
    }
    format!("exited with {}", a.code)
}

/// Why nothing follows an attempt, as the end of its line.
fn why_end(ending: Ending, a: &Attempt) -> String {
    let code = a.code;
    match ending {
        Ending::Succeeded => String::new(),
        Ending::Exhausted => format!(
            "; giving up after {}",
            plural(a.number, "attempt", "attempts")
        ),
        Ending::NotRetried(StopRule::Default) => format!(
            "; not retrying: exit code {code} means {} (to retry it, use --retry-on {code})",
            meaning(code)
        ),
        Ending::NotRetried(StopRule::StopOn) => {
            format!("; not retrying: exit code {code} is in --stop-on")
        }
        Ending::NotRetried(_) => format!("; not retrying: exit code {code} is not in --retry-on"),
        Ending::MaxTime if a.limit == Some(Limit::MaxTime) => "; giving up".to_string(),
        Ending::MaxTime => "; giving up: the next delay would end past --max-time".to_string(),
        Ending::Interrupted { signal, during } => {
            let when = match during {
                Phase::Attempt => "while it ran",
                Phase::Delay => "while waiting",
            };
            format!("; stopping: received SIG{} {when}", signal.name())
        }
        _ => String::new(),
    }
}

/// What a default stop code means.
fn meaning(code: i32) -> &'static str {
    match code {
        2 => "a usage error",
        126 => "the command cannot be invoked",
        127 => "the command was not found",
        130 => "interrupted (SIGINT)",
        143 => "terminated (SIGTERM)",
        _ => "do not retry",
    }
}

/// `400 ms`, `1.5 s`, `2m05s`.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        let s = format!("{:.1}", d.as_secs_f64());
        format!("{} s", s.strip_suffix(".0").unwrap_or(&s))
    } else {
        output::age(u64::try_from(ms).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_read_well() {
        assert_eq!(human(Duration::from_millis(400)), "400 ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(human(Duration::from_secs(2)), "2 s");
        assert_eq!(human(Duration::from_secs(125)), "2m05s");
        assert_eq!(of(2, 5), "2/5");
        assert_eq!(of(2, 0), "2");
        assert_eq!(plural(1u32, "attempt", "attempts"), "1 attempt");
        assert_eq!(plural(3u32, "attempt", "attempts"), "3 attempts");
    }
}
