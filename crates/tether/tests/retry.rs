//! `tether::retry`: attempts counted, delays observed, the codes that stop retrying (the
//! defaults, `stop_on`, `retry_on`), the overall deadline bounding the whole, the attempt
//! timeout giving 124. Each attempt is a short `sh` that appends a line to a file of the test's
//! own, so that the attempts actually made are counted from outside the library. Timing checks
//! are lower bounds plus generous upper bounds (other builds share the machine).

use std::path::Path;
use std::time::Duration;

use tether::retry::{
    self, Backoff, Ending, Limit, Next, RetryEvent, RetryOptions, RetryOutcome, StopRule,
};
use tether::Command;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Options with a fixed, short delay.
fn opts(attempts: u32, delay: u64) -> RetryOptions {
    let mut o = RetryOptions::default();
    o.attempts = attempts;
    o.schedule.backoff = Backoff::Fixed;
    o.schedule.delay = ms(delay);
    o
}

/// Retry `sh -c "echo x >> LOG; SCRIPT"`; returns the outcome and the attempts the log saw.
fn retry_sh(o: &RetryOptions, script: &str) -> (RetryOutcome, usize) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("echo x >> '{}'; {script}", log.display())]);
    let outcome = retry::run(&mut cmd, o, &mut |_| {}).unwrap();
    (outcome, lines(&log))
}

fn lines(p: &Path) -> usize {
    std::fs::read_to_string(p).map_or(0, |s| s.lines().count())
}

#[test]
fn makes_exactly_the_attempts_allowed() {
    let (o, seen) = retry_sh(&opts(4, 5), "exit 7");
    assert_eq!(seen, 4);
    assert_eq!(o.attempts.len(), 4);
    assert_eq!(o.ending, Ending::Exhausted);
    assert_eq!(o.exit_code, 7);
    let numbers: Vec<u32> = o.attempts.iter().map(|a| a.number).collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
    let delays: Vec<Option<Duration>> = o.attempts.iter().map(|a| a.delay).collect();
    assert_eq!(delays, [Some(ms(5)), Some(ms(5)), Some(ms(5)), None]);
    assert!(o.attempts.iter().all(|a| a.code == 7 && a.run.is_some()));
}

#[test]
fn stops_at_the_first_success() {
    let dir = tempfile::tempdir().unwrap();
    let n = dir.path().join("n");
    // Exits 1 twice, then 0.
    let script = format!(
        "c=$(cat '{0}' 2>/dev/null || echo 0); c=$((c+1)); echo $c > '{0}'; [ $c -ge 3 ]",
        n.display()
    );
    let (o, seen) = retry_sh(&opts(10, 5), &script);
    assert_eq!(seen, 3);
    assert_eq!(o.ending, Ending::Succeeded);
    assert_eq!(o.exit_code, 0);
    let codes: Vec<i32> = o.attempts.iter().map(|a| a.code).collect();
    assert_eq!(codes, [1, 1, 0]);
}

#[test]
fn zero_attempts_means_until_success() {
    let dir = tempfile::tempdir().unwrap();
    let n = dir.path().join("n");
    let script = format!(
        "c=$(cat '{0}' 2>/dev/null || echo 0); c=$((c+1)); echo $c > '{0}'; [ $c -ge 6 ]",
        n.display()
    );
    let (o, seen) = retry_sh(&opts(0, 1), &script);
    assert_eq!((seen, o.ending), (6, Ending::Succeeded));
}

#[test]
fn the_do_not_retry_codes_stop_at_once() {
    for code in [2, 126, 127, 130, 143] {
        let (o, seen) = retry_sh(&opts(5, 1), &format!("exit {code}"));
        assert_eq!(seen, 1, "exit {code}");
        assert_eq!(o.ending, Ending::NotRetried(StopRule::Default), "{code}");
        assert_eq!(o.exit_code, code);
    }
    // Killed by SIGINT or SIGTERM: 128+N, not retried either; by SIGKILL: retried.
    for (sig, code) in [("INT", 130), ("TERM", 143)] {
        let (o, seen) = retry_sh(&opts(5, 1), &format!("kill -{sig} $$"));
        assert_eq!((seen, o.exit_code), (1, code), "{sig}");
        assert_eq!(o.attempts[0].signal(), Some(code - 128));
        assert_eq!(o.ending, Ending::NotRetried(StopRule::Default));
    }
    let (o, seen) = retry_sh(&opts(3, 1), "kill -KILL $$");
    assert_eq!((seen, o.exit_code, o.ending), (3, 137, Ending::Exhausted));
}

#[test]
fn a_command_not_found_is_one_attempt_with_127() {
    let mut cmd = Command::new("/nonexistent/tether-retry-x");
    let o = retry::run(&mut cmd, &opts(5, 1), &mut |_| {}).unwrap();
    assert_eq!(o.attempts.len(), 1);
    assert_eq!(o.exit_code, 127);
    assert!(o.attempts[0].spawn_error.is_some() && o.attempts[0].run.is_none());
    assert_eq!(o.ending, Ending::NotRetried(StopRule::Default));
}

#[test]
fn stop_on_and_retry_on_decide() {
    let mut o = opts(4, 1);
    o.stop_on = "22".parse().unwrap();
    let (r, seen) = retry_sh(&o, "exit 22");
    assert_eq!((seen, r.ending), (1, Ending::NotRetried(StopRule::StopOn)));
    let (_, seen) = retry_sh(&o, "exit 2");
    assert_eq!(seen, 1, "the defaults stay with --stop-on");

    let mut o = opts(3, 1);
    o.retry_on = Some("2,6-7".parse().unwrap());
    let (r, seen) = retry_sh(&o, "exit 2");
    assert_eq!(
        (seen, r.ending),
        (3, Ending::Exhausted),
        "retry_on beats a default"
    );
    let (r, seen) = retry_sh(&o, "exit 1");
    assert_eq!(
        (seen, r.ending),
        (1, Ending::NotRetried(StopRule::NotRetryOn))
    );

    o.stop_on = "7".parse().unwrap();
    let mut cmd = Command::new("true");
    let e = retry::run(&mut cmd, &o, &mut |_| {}).unwrap_err();
    assert_eq!(e.kind(), tether::ErrorKind::InvalidArgument);
}

#[test]
fn delays_separate_the_attempts() {
    let mut o = opts(4, 100);
    o.schedule.backoff = Backoff::Exponential;
    let (r, _) = retry_sh(&o, "exit 1");
    let planned: Vec<Option<Duration>> = r.attempts.iter().map(|a| a.delay).collect();
    assert_eq!(planned, [Some(ms(100)), Some(ms(200)), Some(ms(400)), None]);
    for w in r.attempts.windows(2) {
        let gap = w[1].started_at - w[0].started_at;
        let delay = w[0].delay.unwrap();
        assert!(gap >= w[0].duration + delay, "{gap:?} < {delay:?}");
        assert!(gap < delay + Duration::from_secs(10), "{gap:?}");
    }
}

#[test]
fn max_time_ends_a_running_attempt_like_a_timeout() {
    let mut o = opts(5, 1);
    o.max_time = Some(ms(300));
    let (r, seen) = retry_sh(&o, "sleep 30");
    // (Under heavy load the shell may be ended before it logs itself.)
    assert!(seen <= 1 && r.attempts.len() == 1, "{seen} {r:?}");
    assert_eq!(r.ending, Ending::MaxTime);
    assert_eq!(r.exit_code, 124);
    assert_eq!(r.attempts[0].limit, Some(Limit::MaxTime));
    assert!(r.elapsed >= ms(300), "{:?}", r.elapsed);
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
}

#[test]
fn max_time_bounds_the_delays_too() {
    let mut o = opts(0, 150);
    o.max_time = Some(ms(1000));
    let (r, seen) = retry_sh(&o, "exit 1");
    assert_eq!(r.ending, Ending::MaxTime);
    // An attempt started just before the deadline may be ended before its shell logs itself.
    let last = r.attempts.last().unwrap();
    if seen != r.attempts.len() {
        assert_eq!(
            (seen + 1, last.limit),
            (r.attempts.len(), Some(Limit::MaxTime))
        );
    }
    assert!(seen >= 2, "{seen}");
    // No delay was started that would end past the deadline.
    for a in &r.attempts {
        if let Some(d) = a.delay {
            assert!(a.started_at + a.duration + d < ms(1000), "{a:?}");
        }
    }
    assert!(
        r.elapsed < ms(1000) + Duration::from_secs(5),
        "{:?}",
        r.elapsed
    );
}

#[test]
fn attempt_timeout_gives_124_and_may_be_retried() {
    let mut o = opts(2, 1);
    o.attempt_timeout = Some(ms(200));
    let (r, seen) = retry_sh(&o, "sleep 30");
    assert!(seen <= 2 && r.attempts.len() == 2, "{seen} {r:?}");
    assert_eq!(r.ending, Ending::Exhausted);
    for a in &r.attempts {
        assert_eq!((a.code, a.limit), (124, Some(Limit::AttemptTimeout)));
        assert!(a.run.as_ref().unwrap().timed_out);
    }
    assert_eq!(r.exit_code, 124);
    o.stop_on = "124".parse().unwrap();
    let (r, seen) = retry_sh(&o, "sleep 30");
    assert!(seen <= 1 && r.attempts.len() == 1, "{seen} {r:?}");
    assert_eq!(r.ending, Ending::NotRetried(StopRule::StopOn));
}

#[test]
fn events_say_each_start_and_end() {
    let mut events = Vec::new();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exit 5"]);
    let o = retry::run(&mut cmd, &opts(2, 1), &mut |ev| match ev {
        RetryEvent::Started { number, pid } => {
            assert!(*pid > 0);
            events.push(format!("start {number}"));
        }
        RetryEvent::Ended { attempt, next } => events.push(format!(
            "end {} {} {}",
            attempt.number,
            attempt.code,
            match next {
                Next::Retry(d) => format!("retry {}", d.as_millis()),
                Next::End(e) => e.as_str().to_string(),
            }
        )),
        _ => events.push("other".into()),
    })
    .unwrap();
    assert_eq!(o.exit_code, 5);
    assert_eq!(
        events,
        ["start 1", "end 1 5 retry 1", "start 2", "end 2 5 exhausted"]
    );
}

#[test]
fn an_attempt_that_ignores_term_gets_kill_after_the_grace() {
    let mut o = opts(1, 1);
    // Long enough for the shell to set its trap first, also under load.
    o.attempt_timeout = Some(ms(1000));
    o.kill_after = ms(200);
    let (r, seen) = retry_sh(&o, "trap '' TERM; sleep 30");
    assert_eq!((seen, r.exit_code), (1, 124));
    let run = r.attempts[0].run.as_ref().unwrap();
    assert!(run.timed_out && run.escalated, "{run:?}");
    assert_eq!(r.attempts[0].limit, Some(Limit::AttemptTimeout));
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
}

#[test]
fn cancel_ends_a_running_attempt_and_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let cancel = tether::ready::Cancel::new().unwrap();
    let mut o = opts(5, 5);
    o.cancel = Some(cancel.clone());
    // The attempt starts a grandchild; both must be gone once the retry returns.
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        &format!("sleep 60 & echo $$ $! > '{}'; wait", pids.display()),
    ]);
    let canceller = std::thread::spawn(move || {
        while lines(&pids) == 0 {
            std::thread::sleep(ms(5));
        }
        let pids = std::fs::read_to_string(&pids).unwrap();
        cancel.cancel();
        pids
    });
    let t = std::time::Instant::now();
    let outcome = retry::run(&mut cmd, &o, &mut |_| {}).unwrap();
    let pids = canceller.join().unwrap();
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert_eq!(
        outcome.ending,
        Ending::Cancelled {
            during: retry::Phase::Attempt
        }
    );
    assert_eq!(outcome.attempts.len(), 1);
    for pid in pids.split_whitespace() {
        let gone = !Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            });
        assert!(gone, "process {pid} of the cancelled attempt still runs");
    }
}

#[test]
fn cancel_ends_the_wait_between_attempts() {
    let cancel = tether::ready::Cancel::new().unwrap();
    let mut o = opts(5, 60_000);
    o.cancel = Some(cancel.clone());
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "exit 3"]);
    let t = std::time::Instant::now();
    let outcome = retry::run(&mut cmd, &o, &mut |ev| {
        if let RetryEvent::Ended { .. } = ev {
            cancel.cancel();
        }
    })
    .unwrap();
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    assert_eq!(
        outcome.ending,
        Ending::Cancelled {
            during: retry::Phase::Delay
        }
    );
    assert_eq!(outcome.exit_code, 3);
    assert_eq!(outcome.attempts.len(), 1);
}
