//! The per-job supervisor: a detached process (its own session) that holds the job's lock,
//! runs the command contained ([`crate::Command`]), writes its output to rotating logs,
//! applies the restart policy, and keeps `status.json` current. One per running job; it exits
//! when the job ends for good or is stopped.
//!
//! If the supervisor is killed (SIGKILL included), the command's watchdog ends the command's
//! whole tree (the containment's death signal), and the status, which still names the
//! supervisor, is read as `killed` by [`super::status`].

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::logs::{RotatingLog, Stream};
use super::spec::restart_schedule;
use super::state::{open_private_write, StateDir};
use super::status::{
    go_duration, rfc3339, JobState, JobStatus, RunRecord, SupervisorInfo, HISTORY_LEN,
};
use super::{JobSpec, LOCK_FILE, SPEC_FILE, STATUS_FILE, STOP_FILE};
use crate::error::{Error, ErrorKind, Result};
use crate::ready::{Outcome, Target, WaitForOutcome, WaitOptions, Watch};
use crate::signal::Signal;
use crate::sys::os::flock;
use crate::sys::os::supervise::{poll_fds, SignalFd};
use crate::terminate::StopOptions;
use crate::wait::ExitInfo;
use crate::{Child, Command, Process, ProcessRef, Stdio};

/// The grace a job's stop gets when none is given (the time its tree has between TERM and
/// KILL): 10 s, as `tether stop`.
pub const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);

/// The grace a job's tree gets when its start fails or is cancelled before it was ready.
pub const START_ABORT_GRACE: Duration = Duration::from_secs(5);

/// What the supervisor tells `start` on its report pipe (one JSON line).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Message {
    /// First, once the supervisor holds the job's lock: who supervises it (so that a start
    /// that is cancelled can wait for this supervisor to end the job).
    Supervising(Box<SupervisorInfo>),
    /// Running (and ready, when readiness was asked for).
    Started(Box<JobStatus>),
    /// Another supervisor holds the job: nothing was started.
    AlreadyRunning(Option<Box<JobStatus>>),
    /// The start failed; the job is not running.
    Failed {
        kind: String,
        message: String,
        status: Option<Box<JobStatus>>,
    },
}

/// What a stop request (`STATE/NAME/stop.json`, written by [`super::stop`]) says.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StopRequest {
    pub grace_ms: u64,
}

/// The error kind named by its stable string.
pub(crate) fn kind_from_str(s: &str) -> ErrorKind {
    match s {
        "not_found" => ErrorKind::NotFound,
        "permission_denied" => ErrorKind::PermissionDenied,
        "identity_mismatch" => ErrorKind::IdentityMismatch,
        "refused" => ErrorKind::Refused,
        "invalid_argument" => ErrorKind::InvalidArgument,
        "timed_out" => ErrorKind::TimedOut,
        "not_supported" => ErrorKind::NotSupported,
        _ => ErrorKind::System,
    }
}

/// The reason a job ends with when its start was cancelled.
pub(crate) const START_CANCELLED: &str =
    "the start was cancelled (its caller closed the pipe) before the job was ready";

/// The report to `start`: at most one `Supervising` line, then the one final word.
struct Reporter(Option<File>);

impl Reporter {
    /// Send the final word (once; later calls do nothing).
    fn send(&mut self, m: &Message) {
        if let Some(f) = self.0.take() {
            Reporter::write_line(&f, m);
        }
    }
    /// Send a line that is not the final word.
    fn note(&mut self, m: &Message) {
        if let Some(f) = &self.0 {
            Reporter::write_line(f, m);
        }
    }
    fn write_line(mut f: &File, m: &Message) {
        let mut line = serde_json::to_vec(m).unwrap_or_default();
        line.push(b'\n');
        let _ = f.write_all(&line);
    }
    fn pending(&self) -> bool {
        self.0.is_some()
    }
    /// The pipe to `start`, while the final word is pending: it polls as an error once
    /// `start` closed its end (cancelled, or died) — see [`Reporter::abandoned`].
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.0.as_ref().map(|f| f.as_fd())
    }
    /// `start` is no longer listening: the start was cancelled, and the job must not run on.
    fn abandoned(&self) -> bool {
        self.fd().is_some_and(|fd| {
            poll_fds(&[(fd, false)], Some(Instant::now())).is_ok_and(|h| h.first() == Some(&true))
        })
    }
    fn fail(&mut self, e: &Error, status: Option<&JobStatus>) {
        self.send(&Message::Failed {
            kind: e.kind().as_str().to_string(),
            message: e.message().to_string(),
            status: status.cloned().map(Box::new),
        });
    }
}

/// Run as the supervisor of the job whose spec arrives on stdin, reporting to `start` on
/// stdout (one JSON line), in the state directory `state`. Called by the program a
/// [`super::Launcher`] names, in the detached process [`super::start`] creates; it replaces
/// this process's standard streams (`/dev/null`, and `STATE/NAME/supervisor.log` for
/// stderr) and blocks TERM, INT and HUP (they ask for a stop). Returns the exit code for the
/// process: 0 when the job ended as planned (exited, stopped, or another supervisor holds
/// it), 1 when it failed.
pub fn supervise(state: &StateDir) -> Result<i32> {
    // First, so that a stop that arrives while starting is a stop, not a death.
    let sigfd = SignalFd::new(&[libc::SIGTERM, libc::SIGINT, libc::SIGHUP])
        .map_err(|e| Error::from_io("signalfd", &e))?;
    let mut text = Vec::new();
    std::io::stdin()
        .read_to_end(&mut text)
        .map_err(|e| Error::from_io("reading the job spec", &e))?;
    let report = rustix::io::dup(std::io::stdout().as_fd())
        .map(File::from)
        .map_err(|e| Error::from_errno("dup", e))?;
    let mut reporter = Reporter(Some(report));
    let spec: JobSpec = match serde_json::from_slice(&text) {
        Ok(s) => s,
        Err(e) => {
            let e = Error::invalid(format!("bad job spec: {e}"));
            reporter.fail(&e, None);
            return Err(e);
        }
    };
    let r = Supervisor::prepare(state, spec, &mut reporter)
        .and_then(|s| s.map(|mut s| s.run(&sigfd, &mut reporter)).transpose());
    match r {
        Ok(code) => Ok(code.unwrap_or(0)),
        Err(e) => {
            reporter.fail(&e, None);
            Err(e)
        }
    }
}

/// Point stdin and stdout at `/dev/null` and stderr at `log`: the supervisor outlives the
/// terminal and pipes it was started from.
fn detach_stdio(log: &File) -> Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| Error::from_io("/dev/null", &e))?;
    let e = |e| Error::from_errno("redirecting standard streams", e);
    rustix::stdio::dup2_stdin(&null).map_err(e)?;
    rustix::stdio::dup2_stdout(&null).map_err(e)?;
    rustix::stdio::dup2_stderr(log).map_err(e)?;
    // Keep no directory busy (the job has its own working directory).
    std::env::set_current_dir("/").map_err(|e| Error::from_io("changing to /", &e))
}

/// Random bytes as hex (ids): not secret, only unlikely to repeat.
fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let n = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64
            ^ u64::from(std::process::id()).rotate_left(32);
        b = n
            .to_le_bytes()
            .iter()
            .cycle()
            .take(bytes)
            .copied()
            .collect();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// How a run ended: the exit, or a stop request.
enum Ended {
    Exited(ExitInfo),
    Stopped(String),
    NotReady(Error),
}

struct Supervisor {
    spec: JobSpec,
    dir: PathBuf,
    state: StateDir,
    status: JobStatus,
    status_path: PathBuf,
    /// Held for as long as this process lives: the lock proves the job is supervised.
    _lock: File,
    out_log: RotatingLog,
    err_log: RotatingLog,
}

impl Supervisor {
    /// Take the job's lock (or report that another supervisor holds it: `Ok(None)`), detach,
    /// and write the first status.
    fn prepare(
        state: &StateDir,
        spec: JobSpec,
        reporter: &mut Reporter,
    ) -> Result<Option<Supervisor>> {
        spec.validate()?;
        let dir = state.job_dir(&spec.name)?;
        let lock = open_private_write(&dir.join(LOCK_FILE), false)?;
        if !flock::try_lock(&lock, true).map_err(|e| Error::from_io("locking the job", &e))? {
            let current = JobStatus::read(&dir.join(STATUS_FILE)).ok();
            reporter.send(&Message::AlreadyRunning(current.map(Box::new)));
            return Ok(None);
        }
        let log = open_private_write(&dir.join("supervisor.log"), false)?;
        detach_stdio(&log)?;
        let mut spec_text = serde_json::to_vec_pretty(&spec).unwrap_or_default();
        spec_text.push(b'\n');
        crate::fs::write_atomic_mode(&dir.join(SPEC_FILE), &spec_text, 0o600)?;
        let _ = std::fs::remove_file(dir.join(STOP_FILE));
        let me = Process::current()?;
        let sup = SupervisorInfo {
            pid: me.pid(),
            identity: me.identity().to_string(),
        };
        reporter.note(&Message::Supervising(Box::new(sup.clone())));
        let mut status = JobStatus::new(&spec, random_hex(8), sup);
        let status_path = dir.join(STATUS_FILE);
        status.write(&status_path)?;
        let out_log = RotatingLog::open(
            &dir.join(Stream::Stdout.file_name()),
            spec.log_max_size,
            spec.log_keep,
        )?;
        let err_log = RotatingLog::open(
            &dir.join(Stream::Stderr.file_name()),
            spec.log_max_size,
            spec.log_keep,
        )?;
        Ok(Some(Supervisor {
            spec,
            dir,
            state: state.clone(),
            status,
            status_path,
            _lock: lock,
            out_log,
            err_log,
        }))
    }

    fn save(&mut self) {
        // A status that cannot be written leaves the last one: nothing better can be done
        // from a detached process (its stderr, supervisor.log, may be on the same full disk).
        let _ = self.status.write(&self.status_path);
    }

    /// End the job for good with `state` and `reason`.
    fn finish(&mut self, state: JobState, reason: String) {
        self.status.status = state;
        self.status.last_exit_reason = Some(reason);
        self.status.next_start_at = None;
        self.save();
    }

    fn run(&mut self, sigfd: &SignalFd, reporter: &mut Reporter) -> Result<i32> {
        let deadline = Instant::now() + Duration::from_millis(self.spec.timeout_ms);
        match self.wait_requirements(sigfd, reporter, deadline) {
            Ok(None) => {}
            Ok(Some(stopped)) => {
                self.finish(JobState::Stopped, stopped.clone());
                reporter.fail(&Error::new(ErrorKind::System, stopped), Some(&self.status));
                return Ok(0);
            }
            Err(e) => {
                self.finish(JobState::Failed, e.message().to_string());
                reporter.fail(&e, Some(&self.status));
                return Ok(1);
            }
        }
        let mut quick_failures = 0u32;
        loop {
            if reporter.abandoned() {
                self.finish(JobState::Stopped, START_CANCELLED.to_string());
                return Ok(0);
            }
            let mut child = match self.spawn() {
                Ok(c) => c,
                Err(e) => {
                    self.finish(
                        JobState::Failed,
                        format!("could not start: {}", e.message()),
                    );
                    reporter.fail(&e, Some(&self.status));
                    return Ok(1);
                }
            };
            let pidfile = match &self.spec.pidfile {
                Some(p) => match crate::pidfile::create(p, child.pid()) {
                    Ok(o) => Some(o),
                    Err(e) => {
                        let _ = child.close();
                        self.finish(JobState::Failed, format!("PID file: {}", e.message()));
                        reporter.fail(&e, Some(&self.status));
                        return Ok(1);
                    }
                },
                None => None,
            };
            let began = Instant::now();
            let started = SystemTime::now();
            self.status.status = JobState::Running;
            self.status.pid = Some(child.pid());
            self.status.identity = Some(child.identity().to_string());
            self.status.started_at = Some(rfc3339(started));
            self.status.exit_code = None;
            self.status.signal = None;
            self.status.duration = None;
            self.status.next_start_at = None;
            self.status.ready = self.status.ready || self.spec.ready.is_empty();
            self.status.history.push(RunRecord {
                pid: child.pid(),
                started_at: rfc3339(started),
                ended_at: None,
                exit_code: None,
                signal: None,
            });
            if self.status.history.len() > HISTORY_LEN {
                self.status.history.remove(0);
            }
            self.save();
            let ready_wait = if !self.status.ready && reporter.pending() {
                Some(self.start_ready_wait(&child, deadline)?)
            } else {
                if reporter.pending() {
                    reporter.send(&Message::Started(Box::new(self.status.clone())));
                }
                None
            };
            let ended = self.watch(&mut child, sigfd, ready_wait, reporter);
            let ended = match ended {
                Ok(e) => e,
                Err(e) => {
                    let _ = child.kill_tree();
                    Ended::Stopped(format!("supervisor error: {}", e.message()))
                }
            };
            let (exit, stop_reason) = self.end_run(child, &ended);
            drop(pidfile);
            let uptime = began.elapsed();
            self.status.duration = Some(go_duration(uptime));
            if let Some(x) = exit {
                self.status.exit_code = x.code;
                self.status.signal = x.signal.map(signal_name);
            }
            if let Some(last) = self.status.history.last_mut() {
                last.ended_at = Some(rfc3339(SystemTime::now()));
                last.exit_code = self.status.exit_code;
                last.signal = self.status.signal.clone();
            }
            match ended {
                Ended::Stopped(reason) => {
                    self.finish(JobState::Stopped, stop_reason.unwrap_or(reason));
                    if reporter.pending() {
                        let e = Error::new(ErrorKind::System, "stopped before it was ready");
                        reporter.fail(&e, Some(&self.status));
                    }
                    return Ok(0);
                }
                Ended::NotReady(e) => {
                    self.finish(JobState::Failed, format!("not ready: {}", e.message()));
                    reporter.fail(&e, Some(&self.status));
                    return Ok(1);
                }
                Ended::Exited(x) => {
                    let reason = exit_reason(&x);
                    if reporter.pending() {
                        // It never became ready: a start that fails, not a restart.
                        self.finish(final_state(&x), format!("{reason} before it was ready"));
                        let e = Error::new(
                            ErrorKind::System,
                            format!("job '{}' {reason} before it was ready", self.spec.name),
                        );
                        reporter.fail(&e, Some(&self.status));
                        return Ok(1);
                    }
                    if !self.spec.restart.restarts_after(x.code) {
                        self.finish(final_state(&x), reason);
                        return Ok(0);
                    }
                    if let Some(max) = self.spec.max_restarts {
                        if self.status.restarts >= max {
                            let said = if max == 1 {
                                "1 restart".to_string()
                            } else {
                                format!("{max} restarts")
                            };
                            self.finish(
                                JobState::Failed,
                                format!("gave up after {said}: the last run {reason}"),
                            );
                            return Ok(1);
                        }
                    }
                    let min_uptime = Duration::from_millis(self.spec.min_uptime_ms);
                    if uptime >= min_uptime {
                        quick_failures = 0;
                    }
                    let (lo, hi) = self.spec.backoff();
                    quick_failures = quick_failures.saturating_add(1);
                    let delay = restart_schedule(lo, hi).next_delay(quick_failures);
                    self.status.status = JobState::Backoff;
                    self.status.last_exit_reason = Some(reason);
                    self.status.next_start_at = Some(rfc3339(SystemTime::now() + delay));
                    self.save();
                    if let Some(why) = wait_signal(sigfd, Instant::now() + delay) {
                        self.finish(JobState::Stopped, why);
                        return Ok(0);
                    }
                    self.status.restarts += 1;
                }
            }
        }
    }

    /// The command, contained, with its output piped to us.
    fn spawn(&self) -> Result<Child> {
        let mut c = Command::new(&self.spec.command[0]);
        c.args(&self.spec.command[1..])
            .stdin(Stdio::Null)
            .stdout(Stdio::Piped)
            .stderr(Stdio::Piped)
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)));
        if let Some(d) = &self.spec.cwd {
            c.current_dir(d);
        }
        c.spawn().map_err(Error::from)
    }

    /// Wait, in a thread, for the readiness targets; the result arrives on the returned
    /// socket's wake-up and channel.
    fn start_ready_wait(&self, child: &Child, deadline: Instant) -> Result<ReadyWait> {
        let targets: Vec<Target> = self
            .spec
            .ready
            .iter()
            .map(|t| t.parse())
            .collect::<Result<_>>()?;
        let opts = WaitOptions {
            timeout: Some(deadline.saturating_duration_since(Instant::now())),
            watch: Some(Watch::from(ProcessRef::Identity(child.identity().clone()))),
            ..WaitOptions::default()
        };
        let (tx, rx) = mpsc::channel();
        let (wake_r, mut wake_w) =
            UnixStream::pair().map_err(|e| Error::from_io("socketpair", &e))?;
        std::thread::Builder::new()
            .name("tether-ready".into())
            .spawn(move || {
                let _ = tx.send(crate::ready::wait_for(targets, &opts, None));
                let _ = wake_w.write_all(b"!");
            })
            .map_err(|e| Error::from_io("starting the readiness thread", &e))?;
        Ok(ReadyWait { wake: wake_r, rx })
    }

    /// Follow a run until it exits, a stop is asked for, or readiness fails: copy its output
    /// to the logs meanwhile.
    fn watch(
        &mut self,
        child: &mut Child,
        sigfd: &SignalFd,
        mut ready: Option<ReadyWait>,
        reporter: &mut Reporter,
    ) -> Result<Ended> {
        let mut out = child.stdout.take();
        let mut err = child.stderr.take();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut fds: Vec<(BorrowedFd<'_>, Slot)> =
                vec![(child.as_fd(), Slot::Exit), (sigfd.as_fd(), Slot::Signal)];
            if let Some(f) = &out {
                fds.push((f.as_fd(), Slot::Out));
            }
            if let Some(f) = &err {
                fds.push((f.as_fd(), Slot::Err));
            }
            if let Some(r) = &ready {
                fds.push((r.wake.as_fd(), Slot::Ready));
            }
            if let Some(f) = reporter.fd() {
                fds.push((f, Slot::Starter));
            }
            let polled: Vec<(BorrowedFd<'_>, bool)> =
                fds.iter().map(|(f, _)| (*f, false)).collect();
            let hits = poll_fds(&polled, None).map_err(|e| Error::from_io("poll", &e))?;
            let slots: Vec<Slot> = fds
                .iter()
                .zip(hits)
                .filter(|(_, h)| *h)
                .map(|((_, s), _)| *s)
                .collect();
            drop(fds);
            for slot in slots {
                match slot {
                    Slot::Out => copy_once(&mut out, &mut buf, &mut self.out_log),
                    Slot::Err => copy_once(&mut err, &mut buf, &mut self.err_log),
                    Slot::Signal => {
                        if let Some((sig, from)) = sigfd.read() {
                            let why = format!(
                                "stopped on request (SIG{} from PID {from})",
                                signal_name_bare(sig)
                            );
                            let grace = self.stop_grace();
                            let _ = child.stop(&stop_options(grace));
                            self.drain(&mut out, &mut err, &mut buf);
                            return Ok(Ended::Stopped(why));
                        }
                    }
                    Slot::Starter => {
                        if reporter.abandoned() {
                            let _ = child.stop(&stop_options(START_ABORT_GRACE));
                            self.drain(&mut out, &mut err, &mut buf);
                            return Ok(Ended::Stopped(START_CANCELLED.to_string()));
                        }
                    }
                    Slot::Ready => {
                        let Some(r) = ready.take() else { continue };
                        match r.rx.recv() {
                            Ok(Ok(w)) if w.ready() => {
                                self.status.ready = true;
                                self.save();
                                reporter.send(&Message::Started(Box::new(self.status.clone())));
                            }
                            Ok(Ok(w)) if w.outcome == Outcome::ProcessDied => {
                                // The exit itself is reported by the pidfd.
                            }
                            Ok(Ok(w)) => {
                                let e = not_ready_error(&self.spec, &w);
                                let _ = child.stop(&stop_options(START_ABORT_GRACE));
                                self.drain(&mut out, &mut err, &mut buf);
                                return Ok(Ended::NotReady(e));
                            }
                            Ok(Err(e)) => {
                                let _ = child.kill_tree();
                                self.drain(&mut out, &mut err, &mut buf);
                                return Ok(Ended::NotReady(e));
                            }
                            Err(_) => {}
                        }
                    }
                    Slot::Exit => {
                        if let Some(x) = child.try_wait()? {
                            // What it left running ends with it; then the pipes reach EOF.
                            let _ = child.kill_tree();
                            self.drain(&mut out, &mut err, &mut buf);
                            return Ok(Ended::Exited(x));
                        }
                    }
                }
            }
        }
    }

    /// Copy what is left in the pipes (the tree is gone, so they end).
    fn drain(&mut self, out: &mut Option<File>, err: &mut Option<File>, buf: &mut [u8]) {
        let until = Instant::now() + Duration::from_secs(2);
        while (out.is_some() || err.is_some()) && Instant::now() < until {
            let mut fds = Vec::new();
            if let Some(f) = out.as_ref() {
                fds.push((f.as_fd(), false));
            }
            if let Some(f) = err.as_ref() {
                fds.push((f.as_fd(), false));
            }
            let hits = poll_fds(&fds, Some(until)).unwrap_or_default();
            if !hits.iter().any(|h| *h) {
                break;
            }
            let mut i = 0;
            if out.is_some() {
                if hits[i] {
                    copy_once(out, buf, &mut self.out_log);
                }
                i += 1;
            }
            if err.is_some() && hits.get(i) == Some(&true) {
                copy_once(err, buf, &mut self.err_log);
            }
        }
    }

    /// End what is left of a run and clean up its containment. The stop reason, when a stop
    /// request named one.
    fn end_run(&mut self, child: Child, ended: &Ended) -> (Option<ExitInfo>, Option<String>) {
        let exit = match ended {
            Ended::Exited(x) => Some(*x),
            _ => None,
        };
        let mut child = child;
        let exit = exit.or_else(|| child.wait(Some(Duration::from_secs(5))).ok().flatten());
        let _ = child.close();
        (exit, None)
    }

    /// The grace the stop request asks for.
    fn stop_grace(&self) -> Duration {
        std::fs::read(self.dir.join(STOP_FILE))
            .ok()
            .and_then(|t| serde_json::from_slice::<StopRequest>(&t).ok())
            .map_or(DEFAULT_STOP_GRACE, |r| Duration::from_millis(r.grace_ms))
    }

    /// Wait until every required job runs and is ready (woken by changes in their
    /// directories, re-checked at least every 500 ms), or fail at the deadline. `Some(reason)`
    /// when a stop was asked for meanwhile.
    fn wait_requirements(
        &mut self,
        sigfd: &SignalFd,
        reporter: &Reporter,
        deadline: Instant,
    ) -> Result<Option<String>> {
        if self.spec.requires.is_empty() {
            return Ok(None);
        }
        let mut w =
            crate::sys::os::inotify::Watcher::new().map_err(|e| Error::from_io("inotify", &e))?;
        let _ = w.watch_dir(self.state.path());
        loop {
            let mut missing = Vec::new();
            for r in &self.spec.requires {
                if let Ok(d) = self.state.job_path(r) {
                    let _ = w.watch_dir(&d);
                }
                match super::status(&self.state, r) {
                    Ok(s) if s.status == JobState::Running && s.ready => {}
                    Ok(s) => missing.push(format!("{r} ({})", s.status)),
                    Err(_) => missing.push(format!("{r} (not started)")),
                }
            }
            if missing.is_empty() {
                return Ok(None);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::new(
                    ErrorKind::TimedOut,
                    format!(
                        "required job{} not running and ready within {}: {}",
                        if missing.len() == 1 { "" } else { "s" },
                        go_duration(Duration::from_millis(self.spec.timeout_ms)),
                        missing.join(", ")
                    ),
                ));
            }
            let until = deadline.min(now + Duration::from_millis(500));
            let mut fds = vec![(w.as_fd(), false), (sigfd.as_fd(), false)];
            fds.extend(reporter.fd().map(|f| (f, false)));
            let hits = poll_fds(&fds, Some(until)).map_err(|e| Error::from_io("poll", &e))?;
            drop(fds);
            let _ = w.drain();
            if reporter.abandoned() {
                return Ok(Some(START_CANCELLED.to_string()));
            }
            if hits.get(1) == Some(&true) {
                if let Some((sig, from)) = sigfd.read() {
                    return Ok(Some(format!(
                        "stopped on request (SIG{} from PID {from}) while waiting for required jobs",
                        signal_name_bare(sig)
                    )));
                }
            }
        }
    }
}

/// The readiness wait running in its thread.
struct ReadyWait {
    wake: UnixStream,
    rx: mpsc::Receiver<Result<WaitForOutcome>>,
}

#[derive(Clone, Copy)]
enum Slot {
    Exit,
    Signal,
    Out,
    Err,
    Ready,
    Starter,
}

/// Read once from a readable pipe into the log; at EOF (or an error) the pipe is dropped.
fn copy_once(pipe: &mut Option<File>, buf: &mut [u8], log: &mut RotatingLog) {
    let Some(f) = pipe.as_mut() else { return };
    match f.read(buf) {
        Ok(0) | Err(_) => *pipe = None,
        Ok(n) => {
            let _ = log.write(&buf[..n]);
        }
    }
}

/// TERM, `grace`, KILL.
fn stop_options(grace: Duration) -> StopOptions {
    StopOptions {
        grace,
        ..StopOptions::default()
    }
}

/// Wait for a stop signal until `until`: the reason when one came.
fn wait_signal(sigfd: &SignalFd, until: Instant) -> Option<String> {
    loop {
        let hits = poll_fds(&[(sigfd.as_fd(), false)], Some(until)).ok()?;
        if hits.first() == Some(&true) {
            if let Some((sig, from)) = sigfd.read() {
                return Some(format!(
                    "stopped on request (SIG{} from PID {from}) during the restart delay",
                    signal_name_bare(sig)
                ));
            }
        }
        if Instant::now() >= until {
            return None;
        }
    }
}

fn signal_name_bare(n: i32) -> String {
    Signal::from_number(n).map_or_else(|_| n.to_string(), Signal::name)
}

/// `SIGTERM`.
fn signal_name(n: i32) -> String {
    format!("SIG{}", signal_name_bare(n))
}

/// "exited with code 3", "was killed by SIGKILL".
fn exit_reason(x: &ExitInfo) -> String {
    match (x.code, x.signal) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!("was killed by {}", signal_name(s)),
        _ => "ended".to_string(),
    }
}

/// The final state for a run that ends the job.
fn final_state(x: &ExitInfo) -> JobState {
    match (x.code, x.signal) {
        (Some(0), _) => JobState::Exited,
        (Some(_), _) => JobState::Failed,
        _ => JobState::Killed,
    }
}

fn not_ready_error(spec: &JobSpec, w: &WaitForOutcome) -> Error {
    let pending = w.pending();
    let kind = if w.outcome == Outcome::TimedOut {
        ErrorKind::TimedOut
    } else {
        ErrorKind::System
    };
    Error::new(
        kind,
        format!(
            "job '{}' did not become ready within {}: {}; it was stopped",
            spec.name,
            go_duration(Duration::from_millis(spec.timeout_ms)),
            pending.join(", ")
        ),
    )
}

/// The supervisor's log (its stderr), for messages about a job that failed to start.
pub(crate) fn supervisor_log(dir: &Path) -> PathBuf {
    dir.join("supervisor.log")
}
