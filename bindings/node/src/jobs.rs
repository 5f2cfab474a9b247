//! Background jobs without a daemon: `new Jobs({ stateDir, program })` and its `start`,
//! `status`, `list`, `stop`, `restart`, `remove`, `logs` and `follow`, over the library's
//! `tether::job`.
//!
//! A job runs under a small supervisor process that outlives the caller: the `tether` program
//! (`tether __job-supervisor`), found by `tether::job::Launcher::tether` (the `program` given,
//! else `$TETHER_BIN`, else `tether` in `PATH`). The options of a start become a
//! `tether.job-query/v1` query, whose `to_spec()` holds the defaults and checks. Every method
//! returns a promise settled from a thread of its own (a start waits for readiness, a stop for
//! the tree to end). A start (or restart) takes an `AbortSignal`: an abort raises its canceller
//! (`job::start_cancellable`), the supervisor stops the job, and once it has finished the
//! promise rejects with `signal.reason`, as `run` does; a worker that is terminated mid-start
//! cancels it the same way. `follow` reads on a thread of its own too, and hands each chunk
//! to the JavaScript thread through a threadsafe function, one at a time.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, UNIX_EPOCH};

use napi::bindgen_prelude::{Buffer, Either, Function, Object, Unknown};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use tether::job::{self, Launcher, StartOutcome, StateDir, Stream};
use tether::ready::Cancel;
use tether::ErrorKind;
use tether_report::query::JobQuery;

use crate::args;
use crate::error::{sync, Fail, Result};
use crate::{abort, promise};

/// Where the jobs' state lives and which program supervises them.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct JobsOptions {
    /// The state directory (default: `$TETHER_STATE_DIR`, else `$XDG_STATE_HOME/tether`, else
    /// `~/.local/state/tether`). Created 0700 at the first start; a directory that is a
    /// symbolic link or another user's is refused (`RefusedError`).
    pub state_dir: Option<String>,
    /// The `tether` program that supervises the jobs (default: `$TETHER_BIN`, else `tether`
    /// in `PATH`). `start` and `restart` reject with a `NotFoundError` when there is none.
    pub program: Option<String>,
}

/// How to start a job (what `tether start` takes). Durations are in milliseconds (whole ones:
/// a fraction is rounded up).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct JobStartOptions<'a> {
    /// `'no'` (default), `'on-failure'` or `'always'`.
    #[napi(ts_type = "'no' | 'on-failure' | 'always'")]
    pub restart: Option<String>,
    /// Give up after this many restarts (default: never).
    pub max_restarts: Option<f64>,
    /// The first restart delay (default 100); it doubles up to `backoffMaxMs`.
    pub backoff_min_ms: Option<f64>,
    /// The longest restart delay (default 30000).
    pub backoff_max_ms: Option<f64>,
    /// A run this long resets the restart delay to `backoffMinMs` (default 1000).
    pub min_uptime_ms: Option<f64>,
    /// The command's working directory (default: this process's); made absolute.
    pub cwd: Option<String>,
    /// Variables set on top of this process's environment (unlike `run`'s `env`, which is the
    /// whole environment). Kept in the job's `spec.json` (mode 0600) for `restart`.
    pub env: Option<HashMap<String, String>>,
    /// Rotate a log past this many bytes (default 10 MiB).
    pub log_max_size: Option<f64>,
    /// Rotated files kept per log (default 3).
    pub log_keep: Option<f64>,
    /// Readiness targets (as `waitFor` takes them) that must be ready before the start
    /// resolves; if they are not within `timeoutMs`, the job is stopped and the start rejects.
    #[napi(ts_type = "string | string[]")]
    pub ready: Option<Either<String, Vec<String>>>,
    /// Jobs that must be running and ready before the command starts.
    #[napi(ts_type = "string | string[]")]
    pub requires: Option<Either<String, Vec<String>>>,
    /// How long the start waits for `requires` and `ready` (default 30000).
    pub timeout_ms: Option<f64>,
    /// A tether PID file written for each run of the command; made absolute.
    pub pidfile: Option<String>,
    /// Aborting it before the job is running and ready cancels the start: the supervisor stops
    /// the job (status `'stopped'`), and once it has finished the promise rejects with
    /// `signal.reason`. An abort after that changes nothing.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Unknown<'a>>,
}

/// `stop` and `remove`'s options.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct JobStopOptions {
    /// How long the job's tree gets after TERM before KILL (default 10000).
    pub grace_ms: Option<f64>,
}

/// `restart`'s options.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct JobRestartOptions<'a> {
    /// How long the running job's tree gets after TERM before KILL (default 10000).
    pub grace_ms: Option<f64>,
    /// Aborting it before the new run is running and ready cancels the start, as `start`'s
    /// `signal` does (the stop of the old run, once begun, is not undone).
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Unknown<'a>>,
}

/// `logs`' options.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct JobLogsOptions {
    /// The command's stderr log rather than its stdout log.
    pub stderr: Option<bool>,
    /// How many lines, the last ones (default 10), from the rotated files too when needed.
    pub lines: Option<f64>,
}

/// `follow`'s options.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct JobFollowOptions<'a> {
    /// The command's stderr log rather than its stdout log.
    pub stderr: Option<bool>,
    /// How many of the last lines come first, in one chunk (default 10; 0: only what is
    /// written from now on).
    pub lines: Option<f64>,
    /// Aborting it ends the follow: `onData` is not called again, and the promise rejects
    /// with `signal.reason`.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Unknown<'a>>,
}

/// A job's supervisor.
#[napi(object, object_from_js = false)]
pub struct JobSupervisor {
    pub pid: u32,
    /// Its identity string (`status` checks it to tell a live supervisor from a lost one).
    pub identity: String,
}

/// One run of a job's command.
#[napi(object, object_from_js = false)]
pub struct JobRun {
    pub pid: u32,
    /// When it started: RFC 3339, UTC, milliseconds.
    pub started_at: String,
    /// `startedAt` as Unix time in milliseconds.
    pub started_at_ms: Option<f64>,
    pub ended_at: Option<String>,
    /// `endedAt` as Unix time in milliseconds.
    pub ended_at_ms: Option<f64>,
    pub exit_code: Option<i32>,
    /// The signal that killed it, as the status file spells it (`'SIGKILL'`).
    pub signal: Option<String>,
}

/// A job's status: the fields of `tether.job/v1` (`STATE/NAME/status.json`), with each time
/// also in milliseconds (`startedAtMs`, `durationMs`, …), and what the call did.
#[napi(object, object_from_js = false)]
pub struct JobStatus {
    pub name: String,
    /// This start's unique id (new at each start, kept across restarts).
    pub id: String,
    /// `'pending'`, `'running'`, `'exited'`, `'failed'`, `'killed'`, `'backoff'` or `'stopped'`.
    #[napi(
        ts_type = "'pending' | 'running' | 'exited' | 'failed' | 'killed' | 'backoff' | 'stopped'"
    )]
    pub status: String,
    /// The command's PID (of the current run, or the last one).
    pub pid: Option<u32>,
    /// The command's identity string (`PID:START_TICKS:BOOT8[:INODE]`).
    pub identity: Option<String>,
    /// The last run's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed the last run, as the status file spells it (`'SIGTERM'`).
    pub signal: Option<String>,
    /// When the current (or last) run started: RFC 3339, UTC, milliseconds.
    pub started_at: Option<String>,
    /// `startedAt` as Unix time in milliseconds.
    pub started_at_ms: Option<f64>,
    /// How long the current run has been running, or the last one ran, in Go's form
    /// (`'1m2.5s'`).
    pub duration: Option<String>,
    /// `duration` in milliseconds.
    pub duration_ms: Option<f64>,
    /// How many times the command was started again.
    pub restarts: u32,
    /// Why the last run ended, in words (also why the job gave up or was not started).
    pub last_exit_reason: Option<String>,
    /// The readiness targets were met (true at once when there are none).
    pub ready: bool,
    /// When the next start is due (in `backoff`): RFC 3339.
    pub next_start_at: Option<String>,
    /// `nextStartAt` as Unix time in milliseconds.
    pub next_start_at_ms: Option<f64>,
    pub supervisor: Option<JobSupervisor>,
    /// The supervisor was killed although the job was not finished: its watchdog ended the
    /// command, and `status` is `'killed'`.
    pub supervisor_lost: bool,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// The restart policy: `'no'`, `'on-failure'` or `'always'`.
    pub restart: String,
    /// When the status was last written: RFC 3339.
    pub updated_at: String,
    /// `updatedAt` as Unix time in milliseconds.
    pub updated_at_ms: Option<f64>,
    /// The latest runs, oldest first (at most 20).
    pub history: Vec<JobRun>,
    /// `start`, `restart`: the job was running already; nothing was started.
    pub already_running: bool,
    /// `stop`: the job was not running; nothing was signalled.
    pub already_stopped: bool,
    /// `remove`: its directory (spec, status, logs) was removed.
    pub removed: bool,
}

/// Unix time in milliseconds of an RFC 3339 time (the library's parser).
fn unix_ms(t: &str) -> Option<f64> {
    let t = job::parse_rfc3339(t)?;
    Some(
        t.duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
            * 1000.0,
    )
}

/// Milliseconds of a duration in Go's form (the library's parser).
fn duration_ms(d: &str) -> Option<f64> {
    Some(tether::duration::parse_duration(d).ok()?.as_secs_f64() * 1000.0)
}

impl From<job::JobStatus> for JobStatus {
    fn from(s: job::JobStatus) -> Self {
        JobStatus {
            started_at_ms: s.started_at.as_deref().and_then(unix_ms),
            duration_ms: s.duration.as_deref().and_then(duration_ms),
            next_start_at_ms: s.next_start_at.as_deref().and_then(unix_ms),
            updated_at_ms: unix_ms(&s.updated_at),
            name: s.name,
            id: s.id,
            status: s.status.as_str().to_string(),
            pid: s.pid,
            identity: s.identity,
            exit_code: s.exit_code,
            signal: s.signal,
            started_at: s.started_at,
            duration: s.duration,
            restarts: s.restarts,
            last_exit_reason: s.last_exit_reason,
            ready: s.ready,
            next_start_at: s.next_start_at,
            supervisor: s.supervisor.map(|x| JobSupervisor {
                pid: x.pid,
                identity: x.identity,
            }),
            supervisor_lost: s.supervisor_lost,
            command: s.command,
            restart: s.restart.as_str().to_string(),
            updated_at: s.updated_at,
            history: s
                .history
                .into_iter()
                .map(|r| JobRun {
                    started_at_ms: unix_ms(&r.started_at),
                    ended_at_ms: r.ended_at.as_deref().and_then(unix_ms),
                    pid: r.pid,
                    started_at: r.started_at,
                    ended_at: r.ended_at,
                    exit_code: r.exit_code,
                    signal: r.signal,
                })
                .collect(),
            already_running: false,
            already_stopped: false,
            removed: false,
        }
    }
}

impl From<job::StartOutcome> for JobStatus {
    fn from(o: job::StartOutcome) -> Self {
        JobStatus {
            already_running: o.already_running,
            ..o.status.into()
        }
    }
}

fn list_of(v: Option<Either<String, Vec<String>>>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(Either::A(one)) => vec![one],
        Some(Either::B(list)) => list,
    }
}

/// The query of a start (names as `tether.job-query/v1` has them, checked by its `to_spec()`),
/// and the signal to listen to.
fn query<'a>(
    name: &Unknown,
    argv: &Unknown,
    options: Option<Unknown<'a>>,
) -> Result<(JobQuery, Option<Unknown<'a>>)> {
    let name = args::string(name, "name")?;
    let argv = args::strings(argv, "argv")?;
    let o: JobStartOptions<'a> = args::options(options, "options")?.unwrap_or_default();
    let ms = |v: Option<f64>, what: &str| v.map(|v| args::whole_millis(v, what)).transpose();
    let mut q = JobQuery::new(&name, argv);
    q.cwd = o.cwd;
    q.env = o
        .env
        .unwrap_or_default()
        .into_iter()
        .collect::<BTreeMap<_, _>>();
    q.restart = o.restart;
    q.max_restarts = o
        .max_restarts
        .map(|n| args::count(n, "options.maxRestarts"))
        .transpose()?;
    q.backoff_min_ms = ms(o.backoff_min_ms, "options.backoffMinMs")?;
    q.backoff_max_ms = ms(o.backoff_max_ms, "options.backoffMaxMs")?;
    q.min_uptime_ms = ms(o.min_uptime_ms, "options.minUptimeMs")?;
    q.log_max_size = o
        .log_max_size
        .map(|n| args::integer_in(n, 0, i64::MAX, "options.logMaxSize").map(|n| n as u64))
        .transpose()?;
    q.log_keep = o
        .log_keep
        .map(|n| args::count(n, "options.logKeep"))
        .transpose()?;
    q.ready = list_of(o.ready);
    q.requires = list_of(o.requires);
    q.timeout_ms = ms(o.timeout_ms, "options.timeoutMs")?;
    q.pidfile = o.pidfile;
    Ok((q, o.signal))
}

/// A grace in milliseconds (default: the library's, 10 s).
fn grace_of(grace_ms: Option<f64>) -> Result<Duration> {
    match grace_ms {
        Some(g) => args::millis(g, "options.graceMs"),
        None => Ok(job::DEFAULT_STOP_GRACE),
    }
}

/// The grace of a stop or remove.
fn grace(options: Option<Unknown>) -> Result<Duration> {
    let o: JobStopOptions = args::options(options, "options")?.unwrap_or_default();
    grace_of(o.grace_ms)
}

/// Which log, and how many lines, of `logs` and `follow`.
fn stream_lines(stderr: Option<bool>, lines: Option<f64>) -> Result<(Stream, usize)> {
    let lines = lines
        .map(|n| args::integer_in(n, 0, u32::MAX as i64, "options.lines"))
        .transpose()?
        .unwrap_or(10) as usize;
    let stream = match stderr {
        Some(true) => Stream::Stderr,
        _ => Stream::Stdout,
    };
    Ok((stream, lines))
}

/// What gives `follow`'s chunks to `onData`, on the JavaScript thread (a call's return
/// callback gets what `onData` threw, if anything).
type Deliver = ThreadsafeFunction<Vec<u8>, (), Buffer, Status, false>;

/// `onData` behind a threadsafe function. Once `stopped` (an abort), a chunk still on its way
/// is dropped rather than given: nothing reaches `onData` after the abort.
fn deliverer(env: &Env, on_data: Function<Buffer, ()>, stopped: Cancel) -> Result<Deliver> {
    let on_data = on_data.create_ref()?;
    let guarded: Function<Buffer, ()> = env.create_function_from_closure("onData", move |ctx| {
        if stopped.is_cancelled() {
            return Ok(());
        }
        on_data.borrow_back(ctx.env)?.call(ctx.get::<Buffer>(0)?)?;
        Ok(())
    })?;
    Ok(guarded
        .build_threadsafe_function::<Vec<u8>>()
        .build_callback(|ctx| Ok(Buffer::from(ctx.value)))?)
}

/// Give `chunk` to `onData` and wait until it has run: one chunk at a time keeps the memory
/// bounded when the job writes faster than JavaScript reads, and every chunk is given before
/// the promise settles. `Ok(false)` when the follow is to end: cancelled, or the environment is
/// going away (its queue is dropped unrun, hence the periodic look at `cancel`); `Err` with
/// what `onData` threw.
fn hand_over(deliver: &Deliver, chunk: &[u8], cancel: &Cancel) -> napi::Result<bool> {
    if cancel.is_cancelled() {
        return Ok(false);
    }
    let (tx, rx) = mpsc::channel();
    let queued = deliver.call_with_return_value(
        chunk.to_vec(),
        ThreadsafeFunctionCallMode::NonBlocking,
        move |ran, _| {
            let _ = tx.send(ran);
            Ok(())
        },
    );
    if queued != Status::Ok {
        return Ok(false);
    }
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(ran) => return ran.map(|()| true),
            Err(mpsc::RecvTimeoutError::Timeout) if !cancel.is_cancelled() => {}
            Err(_) => return Ok(false),
        }
    }
}

/// A start (or restart) that can be cancelled: by `signal`, or when this environment goes away
/// (a worker terminated mid-start). `work` gets the canceller and runs on a thread of its own;
/// the promise resolves with the job's status, or, when the start was cancelled (the supervisor
/// has stopped the job and finished by then), rejects with `signal.reason`. `prepare` checks
/// the arguments first, on this thread; a signal that has aborted already rejects at once and
/// starts nothing.
fn cancellable<'env, 'a, T: Send + 'static>(
    env: &'env Env,
    thread: &str,
    prepare: impl FnOnce() -> Result<(T, Option<Unknown<'a>>)>,
    work: impl FnOnce(T, &Cancel) -> Result<StartOutcome> + Send + 'static,
) -> napi::Result<Object<'env>> {
    abort::spawn(
        env,
        thread,
        |_| prepare(),
        work,
        // The library says a cancelled start timed out; any other failure is its own.
        |started, cancel| {
            matches!(started, Err(Fail::Tether(e)) if e.kind() == ErrorKind::TimedOut)
                && cancel.is_cancelled()
        },
        |started| Ok(JobStatus::from(started?)),
    )
}

/// The jobs of one state directory, supervised by one `tether` program. Creating it reads the
/// environment (`$TETHER_STATE_DIR`, …) but touches nothing; each method returns a promise
/// settled from a thread of its own, so the event loop keeps turning while a start waits for
/// readiness or a stop for the tree to end. Library errors reject with the `TetherError` of
/// their kind (`NotFoundError` for an unknown job, `InvalidArgumentError` for a bad name or
/// option, `RefusedError` for a state directory that is a link or another user's,
/// `TimedOutError` when readiness did not come).
#[napi]
pub struct Jobs {
    state: Arc<StateDir>,
    program: Option<PathBuf>,
}

#[napi]
impl Jobs {
    /// The jobs of `options.stateDir` (default: `$TETHER_STATE_DIR`, else the XDG state
    /// directory), supervised by `options.program` (default: `$TETHER_BIN`, else `tether` in
    /// `PATH`, looked up at each start).
    #[napi(constructor, ts_args_type = "options?: JobsOptions")]
    pub fn new(env: &Env, options: Option<Unknown>) -> napi::Result<Jobs> {
        sync(env, || {
            let o: JobsOptions = args::options(options, "options")?.unwrap_or_default();
            let state = StateDir::resolve(o.state_dir.as_deref().map(Path::new))?;
            Ok(Jobs {
                state: Arc::new(state),
                program: o.program.map(PathBuf::from),
            })
        })
    }

    /// The state directory, absolute.
    #[napi(getter)]
    pub fn state_dir(&self) -> String {
        self.state.path().to_string_lossy().into_owned()
    }

    /// Start job `name` running `argv` under a supervisor of its own (detached, in its own
    /// session; it outlives this process), and resolve once the command runs and, with
    /// `options.ready`, is ready. A name that is running starts nothing: the promise resolves
    /// with its status and `alreadyRunning`. Rejects with `TimedOutError` when the required
    /// jobs or readiness did not come within `timeoutMs` (the job is then stopped),
    /// `NotFoundError` when there is no `tether` program, and the command's start errors.
    /// Aborting `options.signal` before the job is running and ready cancels the start: the
    /// supervisor stops the job, and once it has finished the promise rejects with
    /// `signal.reason` (an already aborted signal rejects at once and starts nothing).
    #[napi(
        ts_args_type = "name: string, argv: string[], options?: JobStartOptions",
        ts_return_type = "Promise<JobStatus>"
    )]
    pub fn start<'env>(
        &self,
        env: &'env Env,
        name: Unknown,
        argv: Unknown,
        options: Option<Unknown>,
    ) -> napi::Result<Object<'env>> {
        let (state, program) = (Arc::clone(&self.state), self.program.clone());
        cancellable(
            env,
            "tether-job-start",
            || query(&name, &argv, options),
            move |q, cancel| {
                let spec = q.to_spec()?;
                let launcher = Launcher::tether(program.as_deref())?;
                Ok(job::start_cancellable(&state, &spec, &launcher, cancel)?)
            },
        )
    }

    /// The status of job `name`. A job whose supervisor was killed is `'killed'`, with
    /// `supervisorLost`. Rejects with `NotFoundError` when there is no such job.
    #[napi(ts_args_type = "name: string", ts_return_type = "Promise<JobStatus>")]
    pub fn status<'env>(&self, env: &'env Env, name: Unknown) -> napi::Result<Object<'env>> {
        self.by_name(env, "tether-job-status", &name, |state, name| {
            Ok(JobStatus::from(job::status(state, &name)?))
        })
    }

    /// The status of every job, by name (an empty list when the state directory does not
    /// exist yet).
    #[napi(ts_return_type = "Promise<JobStatus[]>")]
    pub fn list<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        let state = Arc::clone(&self.state);
        promise::spawn(
            env,
            "tether-job-list",
            move || Ok(job::list(&state)?),
            |_, jobs| Ok(jobs?.into_iter().map(JobStatus::from).collect::<Vec<_>>()),
        )
    }

    /// Stop job `name`: its supervisor ends the command's whole tree (TERM, `graceMs`, KILL to
    /// what is left) and records `'stopped'`; resolves once the supervisor has exited. A job
    /// that is not running resolves with `alreadyStopped` (nothing was signalled).
    #[napi(
        ts_args_type = "name: string, options?: JobStopOptions",
        ts_return_type = "Promise<JobStatus>"
    )]
    pub fn stop<'env>(
        &self,
        env: &'env Env,
        name: Unknown,
        options: Option<Unknown>,
    ) -> napi::Result<Object<'env>> {
        let grace = match grace(options) {
            Ok(g) => g,
            Err(fail) => return promise::rejected(env, fail),
        };
        self.by_name(env, "tether-job-stop", &name, move |state, name| {
            let o = job::stop(state, &name, grace)?;
            Ok(JobStatus {
                already_stopped: o.already_stopped,
                ..o.status.into()
            })
        })
    }

    /// Stop job `name` if it runs and start it again with the spec it was last started with
    /// (as `start` resolves). Aborting `options.signal` cancels the new start as `start`'s does.
    #[napi(
        ts_args_type = "name: string, options?: JobRestartOptions",
        ts_return_type = "Promise<JobStatus>"
    )]
    pub fn restart<'env>(
        &self,
        env: &'env Env,
        name: Unknown,
        options: Option<Unknown>,
    ) -> napi::Result<Object<'env>> {
        let (state, program) = (Arc::clone(&self.state), self.program.clone());
        cancellable(
            env,
            "tether-job-restart",
            || {
                let name = args::string(&name, "name")?;
                let o: JobRestartOptions = args::options(options, "options")?.unwrap_or_default();
                Ok(((name, grace_of(o.grace_ms)?), o.signal))
            },
            move |(name, grace), cancel| {
                let launcher = Launcher::tether(program.as_deref())?;
                Ok(job::restart_cancellable(
                    &state, &name, grace, &launcher, cancel,
                )?)
            },
        )
    }

    /// Stop job `name` if it runs and remove its directory (spec, status, logs); resolves
    /// with its last status, `removed` true.
    #[napi(
        ts_args_type = "name: string, options?: JobStopOptions",
        ts_return_type = "Promise<JobStatus>"
    )]
    pub fn remove<'env>(
        &self,
        env: &'env Env,
        name: Unknown,
        options: Option<Unknown>,
    ) -> napi::Result<Object<'env>> {
        let grace = match grace(options) {
            Ok(g) => g,
            Err(fail) => return promise::rejected(env, fail),
        };
        self.by_name(env, "tether-job-remove", &name, move |state, name| {
            Ok(JobStatus {
                removed: true,
                ..job::remove(state, &name, grace)?.into()
            })
        })
    }

    /// The last `options.lines` lines (default 10) of job `name`'s stdout log (or, with
    /// `options.stderr`, its stderr log), from the rotated files too when needed, as bytes.
    #[napi(
        ts_args_type = "name: string, options?: JobLogsOptions",
        ts_return_type = "Promise<Buffer>"
    )]
    pub fn logs<'env>(
        &self,
        env: &'env Env,
        name: Unknown,
        options: Option<Unknown>,
    ) -> napi::Result<Object<'env>> {
        let opts = args::options::<JobLogsOptions>(options, "options").and_then(|o| {
            let o = o.unwrap_or_default();
            stream_lines(o.stderr, o.lines)
        });
        let (stream, lines) = match opts {
            Ok(o) => o,
            Err(fail) => return promise::rejected(env, fail),
        };
        self.by_name(env, "tether-job-logs", &name, move |state, name| {
            let path = job::log_path(state, &name, stream)?;
            Ok(Buffer::from(job::tail(&path, lines)?))
        })
    }

    /// Follow job `name`'s stdout log (or, with `options.stderr`, its stderr log), as `tether
    /// logs -f` does: `onData` gets its last `options.lines` lines (default 10) in one chunk,
    /// then each chunk the job writes after them, nothing lost or repeated in between, through
    /// rotations. Resolves once the job is no longer running (it ended or was stopped) and
    /// everything it wrote has been given; at once, after the last lines, for a job that is not
    /// running. `onData` runs on the event loop, one chunk at a time (the log is read on a thread
    /// of its own); should it throw, the follow ends and the promise rejects with what it threw.
    /// Aborting `options.signal` ends the follow: `onData` is not called again and the promise
    /// rejects with `signal.reason`. Rejects with `NotFoundError` when there is no such job.
    #[napi(
        ts_args_type = "name: string, onData: (chunk: Buffer) => void, options?: JobFollowOptions",
        ts_return_type = "Promise<void>"
    )]
    pub fn follow<'env>(
        &self,
        env: &'env Env,
        name: Unknown,
        on_data: Unknown,
        options: Option<Unknown>,
    ) -> napi::Result<Object<'env>> {
        let state = Arc::clone(&self.state);
        abort::spawn(
            env,
            "tether-job-follow",
            |cancel| {
                let name = args::string(&name, "name")?;
                let on_data = args::function(&on_data, "onData")?;
                let o: JobFollowOptions = args::options(options, "options")?.unwrap_or_default();
                let (stream, lines) = stream_lines(o.stderr, o.lines)?;
                let deliver = deliverer(env, on_data, cancel.clone())?;
                Ok(((name, stream, lines, deliver), o.signal))
            },
            move |(name, stream, lines, deliver), cancel| {
                let mut thrown = None;
                let followed = job::follow_logs(
                    &state,
                    &name,
                    stream,
                    lines,
                    &mut |chunk| {
                        hand_over(&deliver, chunk, cancel).unwrap_or_else(|e| {
                            thrown = Some(e);
                            false
                        })
                    },
                    Some(cancel),
                );
                if let Some(e) = thrown {
                    return Err(Fail::Napi(e));
                }
                followed?;
                Ok(())
            },
            |followed, cancel| followed.is_ok() && cancel.is_cancelled(),
            |followed| followed,
        )
    }
}

impl Jobs {
    /// `f(state, name)` on a thread of its own; `name` must be a string.
    fn by_name<'env, V>(
        &self,
        env: &'env Env,
        thread: &str,
        name: &Unknown,
        f: impl FnOnce(&StateDir, String) -> Result<V> + Send + 'static,
    ) -> napi::Result<Object<'env>>
    where
        V: napi::bindgen_prelude::ToNapiValue + Send + 'static,
    {
        let name = match args::string(name, "name") {
            Ok(n) => n,
            Err(fail) => return promise::rejected(env, fail),
        };
        let state = Arc::clone(&self.state);
        promise::spawn(env, thread, move || f(&state, name), |_, v| v)
    }
}
