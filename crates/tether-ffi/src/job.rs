//! Background jobs (`tether::job`): start, status, list, stop, restart, remove and logs, with
//! the reports `tether start/status/list/stop/restart/rm/logs --json` print.

use std::ffi::{c_char, c_void};
use std::path::Path;
use std::ptr;
use std::time::Duration;

use tether::job::{self, JobStatus, Launcher, StartOutcome, StateDir, Stream};
use tether::ready::Cancel;
use tether_report::query::JobQuery;
use tether_report::{JobLogsReport, JobReport, JobsReport};

use crate::cancel::{linked, TetherCancel};
use crate::error::{call_string, guard, Failure, TETHER_OK};
use crate::json::{query, report};
use crate::strings::arg;

/// An optional string argument: NULL is `None`.
///
/// # Safety
/// As [`arg`].
unsafe fn opt_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's contract.
    unsafe { arg(p, name) }.map(Some)
}

/// The state directory: the one given, else `$TETHER_STATE_DIR`, else the XDG one.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn state_dir(p: *const c_char) -> Result<StateDir, Failure> {
    // SAFETY: the caller's contract.
    let dir = unsafe { opt_arg(p, "state_dir") }?;
    Ok(StateDir::resolve(dir.map(Path::new))?)
}

/// The launcher of supervisors: the `tether` program given, else `$TETHER_BIN`, else `tether`
/// in `PATH`.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn launcher(p: *const c_char) -> Result<Launcher, Failure> {
    // SAFETY: the caller's contract.
    let program = unsafe { opt_arg(p, "tether_program") }?;
    Ok(Launcher::tether(program.map(Path::new))?)
}

/// The grace of a stop in milliseconds: negative gives the default (10 s, as `tether stop`).
fn grace(ms: i64) -> Result<Duration, Failure> {
    if ms < 0 {
        return Ok(job::DEFAULT_STOP_GRACE);
    }
    let max = tether::duration::MAX_DURATION_SECS.saturating_mul(1000);
    if ms as u64 > max {
        return Err(Failure::invalid(format!(
            "grace_ms {ms} is out of range (at most {max}, or negative for the default)"
        )));
    }
    Ok(Duration::from_millis(ms as u64))
}

/// A `tether.job/v1` report of a start (or restart).
fn started(r: StartOutcome) -> Result<String, Failure> {
    let mut rep = JobReport::new(r.status);
    rep.already_running = r.already_running;
    report(&rep)
}

/// Run a start (or restart) `f`, cancellable by `token` when one is given: the library's
/// canceller is linked to it, and a start it cancelled (the supervisor stopped the job and has
/// finished) is `TETHER_E_CANCELLED`.
fn start_with(
    token: Option<&TetherCancel>,
    f: impl FnOnce(Option<&Cancel>) -> tether::Result<StartOutcome>,
) -> Result<String, Failure> {
    let Some((c, _link)) = linked(token)? else {
        return started(f(None)?);
    };
    match f(Some(&c)) {
        Ok(r) => started(r),
        Err(e) if c.is_cancelled() => Err(Failure::cancelled_with(&e)),
        Err(e) => Err(e.into()),
    }
}

/// Start a job: a detached supervisor (the `tether` program, `tether __job-supervisor`) runs
/// the command contained, logs its output, restarts it as asked, and outlives the caller.
/// Blocks until the command runs and, with `ready` targets, is ready.
///
/// `state_dir` may be NULL (`$TETHER_STATE_DIR`, else `$XDG_STATE_HOME/tether`, else
/// `~/.local/state/tether`). `query_json` is a `tether.job-query/v1` document:
/// `{"schema":"tether.job-query/v1","name":"web","argv":["python3","-m","http.server"]}`
/// (optional: cwd, env {NAME: value}, restart `no` | `on-failure` | `always`, max_restarts,
/// backoff_min_ms, backoff_max_ms, min_uptime_ms, log_max_size, log_keep, ready [targets],
/// requires [jobs], timeout_ms (default 30000), pidfile). `tether_program` may be NULL
/// (`$TETHER_BIN`, else `tether` in `PATH`).
///
/// `cancel` may be NULL. When it is triggered before the job is running and ready, the
/// supervisor stops the job (its tree ends; status `stopped`), the call waits for the
/// supervisor to finish, and returns `TETHER_E_CANCELLED` (the message says the start was
/// cancelled and the job stopped), also when it was triggered before the call. A trigger after
/// the start succeeded changes nothing.
///
/// `*out` receives a `tether.job/v1` document (as `tether start --json`): the job's status
/// and `already_running`, true when the name was running already (then nothing was started,
/// and the call still succeeds). Errors: bad input (`TETHER_E_INVALID_ARGUMENT`), no tether
/// program (`TETHER_E_NOT_FOUND`, naming `TETHER_BIN`), a state directory that is a symbolic
/// link or another user's (`TETHER_E_REFUSED`), readiness not reached within timeout_ms
/// (`TETHER_E_TIMED_OUT`; the job is stopped), the command failing to start or exiting before
/// it was ready.
///
/// # Safety
/// `state_dir`, `query_json` and `tether_program` are NULL or NUL-terminated strings; `cancel`
/// is NULL or a live token; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_job_start(
    state_dir: *const c_char,
    query_json: *const c_char,
    tether_program: *const c_char,
    cancel: *const TetherCancel,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    let token = unsafe { cancel.as_ref() };
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let q: JobQuery = query(query_json)?;
            let spec = q.to_spec()?;
            let state = self::state_dir(state_dir)?;
            let launcher = launcher(tether_program)?;
            start_with(token, |c| match c {
                Some(c) => job::start_cancellable(&state, &spec, &launcher, c),
                None => job::start(&state, &spec, &launcher),
            })
        })
    }
}

/// The status of job `name` as a `tether.job/v1` document (as `tether status NAME --json`).
/// A job whose supervisor is gone while its status was not final is reported `killed`, with
/// `supervisorLost`. Errors: no such job (`TETHER_E_NOT_FOUND`), a bad name
/// (`TETHER_E_INVALID_ARGUMENT`), a refused state directory (`TETHER_E_REFUSED`).
///
/// # Safety
/// `state_dir` is NULL or a NUL-terminated string, `name` a NUL-terminated string; `out` is
/// NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_job_status(
    state_dir: *const c_char,
    name: *const c_char,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let state = self::state_dir(state_dir)?;
            report(&JobReport::new(job::status(&state, arg(name, "name")?)?))
        })
    }
}

/// Every job of the state directory, by name, as a `tether.jobs/v1` document (as
/// `tether list --json`): `state_dir` and `jobs`, empty when there are none.
///
/// # Safety
/// `state_dir` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_job_list(state_dir: *const c_char, out: *mut *mut c_char) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let state = self::state_dir(state_dir)?;
            let jobs: Vec<JobStatus> = job::list(&state)?;
            report(&JobsReport::new(
                state.path().to_string_lossy().into_owned(),
                jobs,
            ))
        })
    }
}

/// Stop job `name`: its supervisor ends the command's tree (TERM, `grace_ms`, KILL to what is
/// left; negative `grace_ms`: 10 s, as `tether stop`) and records `stopped`. Blocks until the
/// supervisor has exited. `*out` receives a `tether.job/v1` document with `already_stopped`,
/// true when the job was not running (nothing was signalled; still a success). Errors: no
/// such job (`TETHER_E_NOT_FOUND`), the supervisor not done within the grace plus 15 s
/// (`TETHER_E_TIMED_OUT`).
///
/// # Safety
/// `state_dir` is NULL or a NUL-terminated string, `name` a NUL-terminated string; `out` is
/// NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_job_stop(
    state_dir: *const c_char,
    name: *const c_char,
    grace_ms: i64,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let state = self::state_dir(state_dir)?;
            let r = job::stop(&state, arg(name, "name")?, grace(grace_ms)?)?;
            let mut rep = JobReport::new(r.status);
            rep.already_stopped = r.already_stopped;
            report(&rep)
        })
    }
}

/// Stop job `name` if it runs (as `tether_job_stop`) and start it again with the spec it was
/// last started with. `tether_program` and `cancel` (may be NULL) as for `tether_job_start`:
/// the stop is not interrupted, the start is (`TETHER_E_CANCELLED`, the job stopped). `*out`
/// receives a `tether.job/v1` document (as `tether restart --json`). Errors as for
/// `tether_job_stop` and `tether_job_start`.
///
/// # Safety
/// `state_dir` and `tether_program` are NULL or NUL-terminated strings, `name` a
/// NUL-terminated string; `cancel` is NULL or a live token; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_job_restart(
    state_dir: *const c_char,
    name: *const c_char,
    grace_ms: i64,
    tether_program: *const c_char,
    cancel: *const TetherCancel,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    let token = unsafe { cancel.as_ref() };
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let state = self::state_dir(state_dir)?;
            let name = arg(name, "name")?;
            let grace = grace(grace_ms)?;
            let launcher = launcher(tether_program)?;
            start_with(token, |c| match c {
                Some(c) => job::restart_cancellable(&state, name, grace, &launcher, c),
                None => job::restart(&state, name, grace, &launcher),
            })
        })
    }
}

/// Stop job `name` if it runs (as `tether_job_stop`) and remove its directory: spec, status
/// and logs. `*out` receives its last status as a `tether.job/v1` document with `removed`
/// (as `tether rm --json`). Errors: no such job (`TETHER_E_NOT_FOUND`), or it could not be
/// stopped.
///
/// # Safety
/// `state_dir` is NULL or a NUL-terminated string, `name` a NUL-terminated string; `out` is
/// NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_job_remove(
    state_dir: *const c_char,
    name: *const c_char,
    grace_ms: i64,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let state = self::state_dir(state_dir)?;
            let last = job::remove(&state, arg(name, "name")?, grace(grace_ms)?)?;
            let mut rep = JobReport::new(last);
            rep.removed = true;
            report(&rep)
        })
    }
}

/// The stream argument: `stdout` or `stderr`.
///
/// # Safety
/// As [`arg`].
unsafe fn stream(p: *const c_char) -> Result<(Stream, &'static str), Failure> {
    // SAFETY: the caller's contract.
    match unsafe { arg(p, "stream") }? {
        "stdout" => Ok((Stream::Stdout, "stdout")),
        "stderr" => Ok((Stream::Stderr, "stderr")),
        other => Err(Failure::invalid(format!(
            "stream '{other}' is not stdout or stderr"
        ))),
    }
}

/// The lines argument: not negative.
fn lines(n: i64) -> Result<usize, Failure> {
    usize::try_from(n).map_err(|_| Failure::invalid(format!("lines {n} is negative")))
}

/// The last `lines` lines of job `name`'s log (`stream` `"stdout"` or `"stderr"`), from the
/// rotated files too when needed, as a `tether.job-logs/v1` document (as
/// `tether logs --json`: `name`, `stream`, `path`, `lines` without their newlines, invalid
/// UTF-8 replaced). For the exact bytes, see `tether_job_logs_bytes`. Errors: no such job or
/// log (`TETHER_E_NOT_FOUND`), a bad stream or negative `lines`
/// (`TETHER_E_INVALID_ARGUMENT`).
///
/// # Safety
/// `state_dir` is NULL or a NUL-terminated string, `name` and `stream` NUL-terminated strings;
/// `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_job_logs(
    state_dir: *const c_char,
    name: *const c_char,
    stream: *const c_char,
    lines: i64,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let state = self::state_dir(state_dir)?;
            let name = arg(name, "name")?;
            let (stream, stream_name) = self::stream(stream)?;
            let n = self::lines(lines)?;
            let path = job::log_path(&state, name, stream)?;
            let last = job::tail(&path, n)?;
            report(&JobLogsReport::new(
                name,
                stream_name,
                path.to_string_lossy().into_owned(),
                &last,
            ))
        })
    }
}

/// The last `lines` lines of job `name`'s log as its exact bytes (newlines included):
/// `*out` receives them and `*out_len` their count; free them with `tether_free_bytes(*out,
/// *out_len)`. An empty log gives `*out` NULL and `*out_len` 0. Arguments and errors as
/// `tether_job_logs`; on failure `*out` is NULL and `*out_len` 0.
///
/// # Safety
/// `state_dir` is NULL or a NUL-terminated string, `name` and `stream` NUL-terminated strings;
/// `out` and `out_len` are NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_job_logs_bytes(
    state_dir: *const c_char,
    name: *const c_char,
    stream: *const c_char,
    lines: i64,
    out: *mut *mut u8,
    out_len: *mut usize,
) -> i32 {
    if !out.is_null() {
        // SAFETY: valid for writes (the caller's contract).
        unsafe { out.write(ptr::null_mut()) };
    }
    if !out_len.is_null() {
        // SAFETY: as above.
        unsafe { out_len.write(0) };
    }
    let r = guard(|| {
        if out.is_null() || out_len.is_null() {
            return Err(Failure::invalid("the out pointer or out_len is NULL"));
        }
        // SAFETY: the caller's contract.
        let state = unsafe { self::state_dir(state_dir) }?;
        // SAFETY: the caller's contract.
        let name = unsafe { arg(name, "name") }?;
        // SAFETY: the caller's contract.
        let (stream, _) = unsafe { self::stream(stream) }?;
        let n = self::lines(lines)?;
        Ok(job::tail(&job::log_path(&state, name, stream)?, n)?)
    });
    match r {
        Ok(bytes) => {
            let len = bytes.len();
            let p = if len == 0 {
                ptr::null_mut()
            } else {
                Box::into_raw(bytes.into_boxed_slice()).cast::<u8>()
            };
            // SAFETY: both checked non-NULL, valid for writes (the caller's contract).
            unsafe {
                out.write(p);
                out_len.write(len);
            }
            TETHER_OK
        }
        Err(code) => code,
    }
}

/// Follow job `name`'s log (as `tether logs -f`): `on_data(ctx, data, len)` receives the last
/// `lines` lines in one call (none when the log is empty or `lines` is 0), then each chunk the
/// job writes after them, nothing lost or repeated in between, across rotations. Blocks until
/// the job is no longer supervised (it stopped or exited, or its supervisor died: what it
/// wrote is given first), `on_data` returns non-zero, or `cancel` is triggered; the first two
/// are a success. `on_data` runs on the calling thread; `data` is valid only during the call.
/// Arguments as `tether_job_logs`.
///
/// `cancel` may be NULL. Triggered (also before the call), it ends the follow at once (while
/// `on_data` runs, once it returns), and the call returns `TETHER_E_CANCELLED`. Errors: no
/// such job or log (`TETHER_E_NOT_FOUND`), a NULL `name` or `on_data`, a bad stream or
/// negative `lines` (`TETHER_E_INVALID_ARGUMENT`).
///
/// # Safety
/// `state_dir` is NULL or a NUL-terminated string, `name` and `stream` NUL-terminated strings;
/// `on_data` is NULL or a function safe to call with `ctx` and any bytes; `cancel` is NULL or
/// a live token.
#[no_mangle]
pub unsafe extern "C" fn tether_job_logs_follow(
    state_dir: *const c_char,
    name: *const c_char,
    stream: *const c_char,
    lines: i64,
    on_data: Option<unsafe extern "C" fn(ctx: *mut c_void, data: *const u8, len: usize) -> i32>,
    ctx: *mut c_void,
    cancel: *const TetherCancel,
) -> i32 {
    // SAFETY: the caller's contract.
    let token = unsafe { cancel.as_ref() };
    let r = guard(|| {
        let on_data = on_data.ok_or_else(|| Failure::invalid("on_data is NULL"))?;
        // SAFETY: the caller's contract.
        let state = unsafe { self::state_dir(state_dir) }?;
        // SAFETY: the caller's contract.
        let name = unsafe { arg(name, "name") }?;
        // SAFETY: the caller's contract.
        let (stream, _) = unsafe { self::stream(stream) }?;
        let n = self::lines(lines)?;
        if token.is_some_and(TetherCancel::is_triggered) {
            return Err(Failure::cancelled());
        }
        let linked = linked(token)?;
        let end = job::follow_logs(
            &state,
            name,
            stream,
            n,
            // SAFETY: the caller's contract; the bytes are valid during the call.
            &mut |b| unsafe { on_data(ctx, b.as_ptr(), b.len()) } == 0,
            linked.as_ref().map(|(c, _)| c),
        )?;
        // Only when the token ended the follow: an end for another reason that a trigger
        // races with stays a success.
        if end == job::FollowEnd::Cancelled {
            return Err(Failure::cancelled());
        }
        Ok(())
    });
    match r {
        Ok(()) => TETHER_OK,
        Err(code) => code,
    }
}

/// Free bytes returned by a `tether_*` function with their length (`tether_job_logs_bytes`).
/// NULL does nothing.
///
/// # Safety
/// `bytes` is NULL or a buffer returned by tether, with the length returned with it, that has
/// not been freed yet.
#[no_mangle]
pub unsafe extern "C" fn tether_free_bytes(bytes: *mut u8, len: usize) {
    if !bytes.is_null() {
        crate::error::shielded((), || {
            // SAFETY: it came from `Box::<[u8]>::into_raw` with this length (the caller's
            // contract).
            drop(unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(bytes, len)) })
        });
    }
}
