//! Background jobs without a daemon: `start` a command under a small per-job supervisor
//! (detached, in its own session), then ask for its `status`, read its `logs`, `stop`,
//! `restart` or `remove` it — from any process, through the files in the state directory.
//!
//! Each job has a directory `STATE/NAME/` (mode 0700, files 0600; a directory or file that is
//! a symbolic link or belongs to another user is refused):
//!
//! - `spec.json`: what to run ([`JobSpec`]), kept so that [`restart`] can run it again;
//! - `status.json`: [`JobStatus`], replaced atomically by the supervisor at every change;
//! - `lock`: held (`flock`) by the supervisor for as long as it lives, so a name that is
//!   running is never started twice, however many `start`s race;
//! - `stdout.log`, `stderr.log` (and rotated `.1` … `.N`): the command's output;
//! - `supervisor.log`: the supervisor's own stderr.
//!
//! The supervisor runs the command as a contained tree ([`crate::Command`]), reaps it, copies
//! its output to the logs with size-bounded rotation ([`RotatingLog`]), and applies the
//! restart policy ([`RestartPolicy`]; exponential backoff with jitter, [`restart_schedule`],
//! reset after the minimum uptime; it gives up after `max_restarts` and says so). If the
//! supervisor is killed, SIGKILL included, the command's watchdog ends the command's tree, and
//! [`status`] reports the job `killed` with `supervisorLost` (the status names the
//! supervisor's identity, checked on a pidfd).
//!
//! ```no_run
//! use tether::job::{self, JobSpec, Launcher, StateDir};
//! let state = StateDir::resolve(None)?; // --state-dir, $TETHER_STATE_DIR, XDG
//! let mut spec = JobSpec::new("web", ["python3", "-m", "http.server", "8000"]);
//! spec.ready = vec![":8000".into()];
//! let launcher = Launcher::new("/usr/bin/tether", ["__job-supervisor"]);
//! let started = job::start(&state, &spec, &launcher)?;
//! println!("{} runs as {:?}", started.status.name, started.status.pid);
//! job::stop(&state, "web", std::time::Duration::from_secs(5))?;
//! # Ok::<(), tether::Error>(())
//! ```

mod logs;
mod spec;
mod state;
mod status;
mod supervise;

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Stdio as StdStdio;
use std::time::{Duration, Instant, SystemTime};

pub use logs::{follow, tail, tail_and_follow, FollowEnd, LogFollower, RotatingLog, Stream};
pub use spec::{
    parse_backoff, parse_env, restart_schedule, JobSpec, RestartPolicy, DEFAULT_BACKOFF_MAX,
    DEFAULT_BACKOFF_MIN, DEFAULT_LOG_KEEP, DEFAULT_LOG_MAX_SIZE, DEFAULT_MIN_UPTIME,
    DEFAULT_TIMEOUT,
};
pub use state::{check_name, is_job_name, StateDir, MAX_NAME_LEN, STATE_DIR_ENV};
pub use status::{
    go_duration, parse_rfc3339, rfc3339, JobState, JobStatus, RunRecord, SupervisorInfo,
    HISTORY_LEN,
};
pub use supervise::{supervise, DEFAULT_STOP_GRACE, START_ABORT_GRACE};

use crate::error::{Error, ErrorKind, Result};
use crate::ready::Cancel;
use crate::signal::Signal;
use crate::Process;
use supervise::{kind_from_str, Message, StopRequest};

/// The spec file in a job's directory.
pub const SPEC_FILE: &str = "spec.json";
/// The status file in a job's directory.
pub const STATUS_FILE: &str = "status.json";
/// The lock file the supervisor holds.
pub const LOCK_FILE: &str = "lock";
/// The stop request a stop leaves for the supervisor.
const STOP_FILE: &str = "stop.json";

/// How much longer than the grace a stop waits for the supervisor to exit (it ends the tree,
/// escalating to KILL, then writes the status).
const STOP_MARGIN: Duration = Duration::from_secs(15);
/// How much longer than the spec's timeout `start` waits for the supervisor's word.
const START_MARGIN: Duration = Duration::from_secs(10);

/// The program that runs a supervisor: it must call [`supervise`] with the state directory
/// given as its last argument (`tether __job-supervisor STATE_DIR` does). [`start`] runs
/// `program args… STATE_DIR`, detached, with the spec on its stdin.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The program (an absolute path is best: the supervisor outlives the caller's `PATH`).
    pub program: PathBuf,
    /// Arguments before the state directory.
    pub args: Vec<OsString>,
}

impl Launcher {
    /// A launcher running `program args…`.
    pub fn new<I, S>(program: impl AsRef<OsStr>, args: I) -> Launcher
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        Launcher {
            program: PathBuf::from(program.as_ref()),
            args: args.into_iter().map(|a| a.as_ref().to_owned()).collect(),
        }
    }
}

/// The argument that makes the `tether` program run a job supervisor
/// (`tether __job-supervisor STATE_DIR`).
pub const SUPERVISOR_ARG: &str = "__job-supervisor";

/// The environment variable naming the `tether` program for [`Launcher::tether`].
pub const PROGRAM_ENV: &str = "TETHER_BIN";

impl Launcher {
    /// The `tether` program as the launcher (`tether __job-supervisor`), for callers that are
    /// not that program themselves (the bindings): a supervisor outlives its caller, so it
    /// must be a program of its own. The program is `program` when given, else
    /// `$TETHER_BIN`, else `tether` found in `PATH`; it is resolved to an absolute path now.
    ///
    /// Errors: `NotFound` when there is no such executable (the message says how to name it).
    ///
    /// ```no_run
    /// let launcher = tether::job::Launcher::tether(None)?;
    /// assert!(launcher.program.is_absolute());
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn tether(program: Option<&Path>) -> Result<Launcher> {
        let env = std::env::var_os(PROGRAM_ENV).filter(|v| !v.is_empty());
        let (given, from) = match (program, &env) {
            (Some(p), _) => (p.to_path_buf(), "the program given"),
            (None, Some(v)) => (PathBuf::from(v), PROGRAM_ENV),
            (None, None) => (PathBuf::from("tether"), "PATH"),
        };
        let found = if given.components().count() > 1 || given.is_absolute() {
            Some(given.clone()).filter(|p| is_executable(p))
        } else {
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|d| d.join(&given))
                    .find(|p| is_executable(p))
            })
        };
        let found = found.ok_or_else(|| {
            Error::not_found(format!(
                "jobs need the tether program to supervise them, and {from} names none \
                 executable ('{}'): install tether, or set {PROGRAM_ENV} to its path",
                given.display()
            ))
        })?;
        let program = std::path::absolute(&found)
            .map_err(|e| Error::from_io("resolving the tether program's path", &e))?;
        Ok(Launcher::new(program, [SUPERVISOR_ARG]))
    }
}

/// A regular file this process may execute.
fn is_executable(p: &Path) -> bool {
    p.is_file() && rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_ok()
}

/// What [`start`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StartOutcome {
    /// The job's status: running (and ready), or, when it was running already, its status
    /// then.
    pub status: JobStatus,
    /// The job was running already (another supervisor holds its lock): nothing was started.
    pub already_running: bool,
}

/// Start a job: validate the spec, anchor its paths ([`JobSpec::anchored`]), create its directory, launch its supervisor (detached),
/// and wait until the command runs and, with [`JobSpec::ready`], is ready. A name that is
/// running starts nothing (`already_running`; the one supervisor that takes the lock wins).
///
/// Errors: `InvalidArgument` for a bad spec; `Refused` for a state directory that is a
/// symbolic link or another user's; `TimedOut` when the required jobs or readiness did not
/// come within [`JobSpec::timeout_ms`] (the job is then stopped); the command's start errors
/// (`NotFound` for a missing program, …); `System` when it exited before it was ready.
pub fn start(state: &StateDir, spec: &JobSpec, launcher: &Launcher) -> Result<StartOutcome> {
    start_inner(state, spec, launcher, None)
}

/// [`start`] that another thread can end early (a binding's context, abort signal or Ctrl-C):
/// when `cancel` is cancelled before the job is running and ready, the supervisor stops the
/// job (its tree ends; status `stopped`, reason "the start was cancelled …"), this waits for
/// the supervisor to finish, and returns a `TimedOut` error saying the start was cancelled. The
/// same happens when the caller of `start` dies while it waits: a job is either started and
/// ready for someone who heard it, or stopped.
pub fn start_cancellable(
    state: &StateDir,
    spec: &JobSpec,
    launcher: &Launcher,
    cancel: &Cancel,
) -> Result<StartOutcome> {
    start_inner(state, spec, launcher, Some(cancel))
}

fn start_inner(
    state: &StateDir,
    spec: &JobSpec,
    launcher: &Launcher,
    cancel: Option<&Cancel>,
) -> Result<StartOutcome> {
    spec.validate()?;
    let spec = &spec.anchored()?;
    let dir = state.create_job_dir(&spec.name)?;
    // Fast path: a supervisor that is alive holds the job (the lock decides the races).
    if let Ok(s) = status(state, &spec.name) {
        if s.status.is_active() && live_supervisor(&s).is_some() {
            return Ok(StartOutcome {
                status: s,
                already_running: true,
            });
        }
    }
    let mut cmd = std::process::Command::new(&launcher.program);
    cmd.args(&launcher.args)
        .arg(state.path())
        .stdin(StdStdio::piped())
        .stdout(StdStdio::piped())
        .stderr(StdStdio::null());
    let (stdin, stdout) = crate::sys::os::detach::spawn_detached(&mut cmd).map_err(|e| {
        Error::from_io(
            format_args!("starting the supervisor {}", launcher.program.display()),
            &e,
        )
    })?;
    // The supervisor works from `/`: `anchored` made the command's directory explicit.
    let text = serde_json::to_vec(spec).unwrap_or_default();
    if let Some(mut stdin) = stdin {
        stdin
            .write_all(&text)
            .map_err(|e| Error::from_io("sending the job spec to its supervisor", &e))?;
    }
    let Some(out) = stdout else {
        return Err(Error::new(ErrorKind::System, "no pipe from the supervisor"));
    };
    let mut until =
        Instant::now() + Duration::from_millis(spec.timeout_ms).saturating_add(START_MARGIN);
    let mut words = Words::new(out);
    let mut supervisor = None;
    // Cancelled before the supervisor named itself: wait for its name (or its final word, when
    // another supervisor holds the job), so that the one to wait for is known.
    let mut cancelling = false;
    let msg = loop {
        let line = match words.next(until, cancel.filter(|_| !cancelling))? {
            Word::Line(l) => l,
            Word::Cancelled if supervisor.is_none() => {
                cancelling = true;
                until = until.min(Instant::now() + START_MARGIN);
                continue;
            }
            Word::Cancelled => {
                // Closing the pipe is the supervisor's word to stop the job.
                drop(words);
                return Err(cancelled(&spec.name, supervisor.as_ref()));
            }
            Word::End if cancelling => return Err(cancelled(&spec.name, None)),
            Word::End => {
                let log = supervise::supervisor_log(&dir);
                return Err(Error::new(
                    ErrorKind::System,
                    format!(
                        "the supervisor of job '{}' ended without a word (see {})",
                        spec.name,
                        log.display()
                    ),
                ));
            }
        };
        let msg: Message = serde_json::from_slice(&line).map_err(|e| {
            Error::new(
                ErrorKind::System,
                format!("bad word from the supervisor: {e}"),
            )
        })?;
        match msg {
            Message::Supervising(s) if cancelling => {
                drop(words);
                return Err(cancelled(&spec.name, Some(&s)));
            }
            Message::Supervising(s) => supervisor = Some(*s),
            m => break m,
        }
    };
    match msg {
        Message::Started(s) => Ok(StartOutcome {
            status: *s,
            already_running: false,
        }),
        Message::AlreadyRunning(s) => {
            let s = match s {
                Some(s) => *s,
                None => status(state, &spec.name)?,
            };
            Ok(StartOutcome {
                status: s,
                already_running: true,
            })
        }
        Message::Failed { kind, message, .. } => Err(Error::new(kind_from_str(&kind), message)),
        // Taken by the loop above; a second one is a bad word.
        Message::Supervising(_) => Err(Error::new(
            ErrorKind::System,
            "bad word from the supervisor: it named itself twice",
        )),
    }
}

/// Wait for the supervisor of a cancelled start to stop the job, and say so (`None`: the
/// supervisor ended without naming itself, so it started nothing).
fn cancelled(name: &str, supervisor: Option<&SupervisorInfo>) -> Error {
    let sup = supervisor
        .and_then(|s| s.identity.parse().ok())
        .and_then(|id| Process::from_identity(&id).ok());
    if let Some(p) = sup {
        // The supervisor gives the tree its grace after TERM, then KILL.
        let _ = p.wait(Some(START_ABORT_GRACE + STOP_MARGIN));
    }
    Error::new(
        ErrorKind::TimedOut,
        format!("the start of job '{name}' was cancelled; the job was stopped"),
    )
}

/// What the supervisor's pipe gave.
enum Word {
    /// A line (without its newline).
    Line(Vec<u8>),
    /// End of file: the supervisor is gone.
    End,
    /// The canceller was cancelled first.
    Cancelled,
}

/// The lines the supervisor writes to `start`.
struct Words {
    f: std::fs::File,
    buf: Vec<u8>,
}

impl Words {
    fn new(f: std::process::ChildStdout) -> Words {
        Words {
            f: std::fs::File::from(std::os::fd::OwnedFd::from(f)),
            buf: Vec::new(),
        }
    }

    /// The next line, up to `until` (then `TimedOut`), unless `cancel` is cancelled first.
    fn next(&mut self, until: Instant, cancel: Option<&Cancel>) -> Result<Word> {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(i) = self.buf.iter().position(|&c| c == b'\n') {
                let rest = self.buf.split_off(i + 1);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.truncate(i);
                return Ok(Word::Line(line));
            }
            if cancel.is_some_and(Cancel::is_cancelled) {
                return Ok(Word::Cancelled);
            }
            let mut fds = vec![(self.f.as_fd(), false)];
            fds.extend(cancel.map(|c| (c.as_fd(), false)));
            let hits = crate::sys::os::supervise::poll_fds(&fds, Some(until))
                .map_err(|e| Error::from_io("poll", &e))?;
            if !hits.iter().any(|h| *h) {
                return Err(Error::new(
                    ErrorKind::TimedOut,
                    "no word from the job's supervisor in time",
                ));
            }
            if !hits[0] {
                continue;
            }
            match self.f.read(&mut chunk) {
                Ok(0) => return Ok(Word::End),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::from_io("reading from the supervisor", &e)),
            }
        }
    }
}

/// The supervisor of a status, when it is alive (its identity checked on a pidfd).
fn live_supervisor(s: &JobStatus) -> Option<Process> {
    let id = s.supervisor.as_ref()?.identity.parse().ok()?;
    let p = Process::from_identity(&id).ok()?;
    p.is_running().unwrap_or(false).then_some(p)
}

/// The status of job `name`. A status that is not final (`pending`, `running`, `backoff`)
/// whose supervisor is gone is reported `killed`, with `supervisorLost` and the reason: the
/// supervisor was killed, and its command was ended by its watchdog. The `duration` of a
/// running command is its time so far.
///
/// Errors: `NotFound` when there is no such job (or it has no status yet); `Refused` for a
/// symbolic link or a foreign owner.
pub fn status(state: &StateDir, name: &str) -> Result<JobStatus> {
    let dir = state.job_dir(name)?;
    let path = dir.join(STATUS_FILE);
    let mut s = read_status(&path, name)?;
    if s.status.is_active() && live_supervisor(&s).is_none() {
        // It may have written its final status and exited in between.
        s = read_status(&path, name)?;
        if s.status.is_active() && live_supervisor(&s).is_none() {
            let sup = s
                .supervisor
                .as_ref()
                .map_or_else(String::new, |x| format!(" (PID {}, {})", x.pid, x.identity));
            s.last_exit_reason = Some(format!(
                "supervisor lost: its process{sup} is gone while the job was {}; its watchdog ended the command",
                s.status
            ));
            s.status = JobState::Killed;
            s.supervisor_lost = true;
            s.ready = false;
            s.next_start_at = None;
        }
    }
    if s.status == JobState::Running {
        if let Some(t) = s.started_at.as_deref().and_then(parse_rfc3339) {
            let so_far = SystemTime::now().duration_since(t).unwrap_or_default();
            s.duration = Some(go_duration(so_far));
        }
    }
    Ok(s)
}

fn read_status(path: &Path, name: &str) -> Result<JobStatus> {
    JobStatus::read(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => Error::not_found(format!("job '{name}' has no status yet")),
        _ => e,
    })
}

/// The status of every job, by name.
pub fn list(state: &StateDir) -> Result<Vec<JobStatus>> {
    let mut out = Vec::new();
    for n in state.names()? {
        match status(state, &n) {
            Ok(s) => out.push(s),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// What [`stop`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JobStopOutcome {
    /// The status afterwards (`stopped`, or the final state it had reached already).
    pub status: JobStatus,
    /// It was not running (nothing was signalled); stopping it is then a success.
    pub already_stopped: bool,
}

/// Stop job `name`: its supervisor is asked (TERM, with the grace in a stop request) to end
/// the command's tree — TERM, `grace`, KILL to what is left — and to record `stopped`; this
/// waits until the supervisor has exited. A job that is not running is a success with
/// `already_stopped`.
///
/// Errors: `NotFound` (no such job), `TimedOut` when the supervisor did not finish within
/// the grace plus 15 s.
pub fn stop(state: &StateDir, name: &str, grace: Duration) -> Result<JobStopOutcome> {
    let dir = state.job_dir(name)?;
    let s = match status(state, name) {
        Ok(s) => s,
        Err(e) if e.kind() == ErrorKind::NotFound && dir.join(SPEC_FILE).exists() => {
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let Some(sup) = live_supervisor(&s) else {
        return Ok(JobStopOutcome {
            status: s,
            already_stopped: true,
        });
    };
    let req = serde_json::to_vec(&StopRequest {
        grace_ms: grace.as_millis().min(u64::MAX as u128) as u64,
    })
    .unwrap_or_default();
    crate::fs::write_atomic_mode(&dir.join(STOP_FILE), &req, 0o600)?;
    sup.signal(Signal::TERM)?;
    let w = sup.wait(Some(grace.saturating_add(STOP_MARGIN)))?;
    if w.timed_out() {
        return Err(Error::new(
            ErrorKind::TimedOut,
            format!(
                "the supervisor of job '{name}' (PID {}) did not finish stopping it within {}",
                sup.pid(),
                go_duration(grace.saturating_add(STOP_MARGIN))
            ),
        ));
    }
    let _ = std::fs::remove_file(dir.join(STOP_FILE));
    Ok(JobStopOutcome {
        status: status(state, name)?,
        already_stopped: false,
    })
}

/// The spec job `name` was last started with.
pub fn spec(state: &StateDir, name: &str) -> Result<JobSpec> {
    let dir = state.job_dir(name)?;
    let path = dir.join(SPEC_FILE);
    let mut f = state::open_private(&path)?;
    let mut text = Vec::new();
    f.read_to_end(&mut text)
        .map_err(|e| Error::from_io(format_args!("reading {}", path.display()), &e))?;
    serde_json::from_slice(&text).map_err(|e| {
        Error::new(
            ErrorKind::System,
            format!("{} is not a job spec: {e}", path.display()),
        )
    })
}

/// Stop job `name` (if it runs) and start it again with the spec it was last started with.
pub fn restart(
    state: &StateDir,
    name: &str,
    grace: Duration,
    launcher: &Launcher,
) -> Result<StartOutcome> {
    restart_inner(state, name, grace, launcher, None)
}

/// [`restart`] whose start can be cancelled, as [`start_cancellable`]'s.
pub fn restart_cancellable(
    state: &StateDir,
    name: &str,
    grace: Duration,
    launcher: &Launcher,
    cancel: &Cancel,
) -> Result<StartOutcome> {
    restart_inner(state, name, grace, launcher, Some(cancel))
}

fn restart_inner(
    state: &StateDir,
    name: &str,
    grace: Duration,
    launcher: &Launcher,
    cancel: Option<&Cancel>,
) -> Result<StartOutcome> {
    let spec = spec(state, name)?;
    stop(state, name, grace)?;
    start_inner(state, &spec, launcher, cancel)
}

/// Stop job `name` (if it runs) and remove its directory, logs included. Returns its last
/// status.
pub fn remove(state: &StateDir, name: &str, grace: Duration) -> Result<JobStatus> {
    let dir = state.job_dir(name)?;
    let last = match stop(state, name, grace) {
        Ok(o) => Some(o.status),
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    std::fs::remove_dir_all(&dir)
        .map_err(|e| Error::from_io(format_args!("removing {}", dir.display()), &e))?;
    last.ok_or_else(|| {
        Error::not_found(format!("job '{name}' had no status; its files are removed"))
    })
}

/// The path of a job's log.
pub fn log_path(state: &StateDir, name: &str, stream: Stream) -> Result<PathBuf> {
    Ok(state.job_dir(name)?.join(stream.file_name()))
}

/// `tether logs -f`: the last `lines` lines of a job's log in one call of `out`, then what the
/// job writes after them, until the job is no longer supervised (it stopped, or its supervisor
/// died: [`FollowEnd::Finished`], once what it wrote is given), `out` says no, or `cancel` is
/// cancelled. Nothing is lost or repeated between the last lines and what follows (see
/// [`tail_and_follow`]). The supervisor's exit and the canceller wake the follow at once (they
/// are polled with the log's directory).
///
/// ```no_run
/// use tether::job::{follow_logs, StateDir, Stream};
/// let state = StateDir::resolve(None)?;
/// follow_logs(&state, "web", Stream::Stdout, 10, &mut |b| {
///     print!("{}", String::from_utf8_lossy(b));
///     true
/// }, None)?;
/// # Ok::<(), tether::Error>(())
/// ```
pub fn follow_logs(
    state: &StateDir,
    name: &str,
    stream: Stream,
    lines: usize,
    out: &mut dyn FnMut(&[u8]) -> bool,
    cancel: Option<&Cancel>,
) -> Result<FollowEnd> {
    JobLogFollower::open(state, name, stream, lines)?.run(out, cancel)
}

/// [`follow_logs`] in two steps: [`JobLogFollower::open`] fails at once for a job (or log)
/// that is not there; [`JobLogFollower::run`] (on another thread, say) does the following.
#[derive(Debug)]
pub struct JobLogFollower {
    state: StateDir,
    name: String,
    log: LogFollower,
}

impl JobLogFollower {
    /// Open job `name`'s log and read its last `lines` lines.
    pub fn open(state: &StateDir, name: &str, stream: Stream, lines: usize) -> Result<Self> {
        Ok(JobLogFollower {
            log: LogFollower::open(&log_path(state, name, stream)?, lines)?,
            state: state.clone(),
            name: name.to_string(),
        })
    }

    /// Give the last lines, then what the job writes, to `out`, until the job is no longer
    /// supervised, `out` says no, or `cancel` is cancelled.
    pub fn run(
        self,
        out: &mut dyn FnMut(&[u8]) -> bool,
        cancel: Option<&Cancel>,
    ) -> Result<FollowEnd> {
        let JobLogFollower { state, name, log } = self;
        log.run_while(out, cancel, Some(&mut || supervisor(&state, &name)))
    }
}

/// Whether the supervisor of job `name` is alive (for a follower that stops when the job
/// ends).
pub fn is_supervised(state: &StateDir, name: &str) -> bool {
    supervisor(state, name).is_some()
}

/// The live supervisor of job `name`, while its status is not final.
fn supervisor(state: &StateDir, name: &str) -> Option<Process> {
    let s = status(state, name).ok()?;
    if s.status.is_active() {
        live_supervisor(&s)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tether_launcher_needs_an_executable() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("tether");
        std::fs::write(&plain, "not a program").unwrap();
        let e = Launcher::tether(Some(&plain)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.message().contains(PROGRAM_ENV), "{e}");
        let l = Launcher::tether(Some(Path::new("/bin/sh"))).unwrap();
        assert_eq!(l.program, Path::new("/bin/sh"));
        assert_eq!(l.args, [OsString::from(SUPERVISOR_ARG)]);
    }
}
