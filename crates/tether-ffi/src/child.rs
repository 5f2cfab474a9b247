//! `TetherChild`: a started command and its whole contained tree (`tether::Child`), and
//! `tether_run`, a command run to the end with its output captured.

use std::ffi::c_char;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tether::command::{Child, SpawnError};
use tether::ready::Cancel;
use tether::run::gnu_spawn_exit;
use tether::signal::Signal;
use tether::wait::ExitInfo;
use tether::{Error, ErrorKind};
use tether_report::query::{CommandQuery, CommandUse};
use tether_report::{ChildWaitReport, RunOutputReport, RunReport, StopReport};

use crate::cancel::{linked, TetherCancel};
use crate::error::{call_out, call_string, shielded, Failure};
use crate::handle::{borrow, stop_options, timeout};
use crate::json::{query, report};

/// A started command and its whole tree (opaque), contained as the command asked (a cgroup, or
/// a session under a subreaper watchdog). Start it with `tether_spawn`; end it with
/// `tether_child_stop` or `tether_child_kill_tree`; free it with `tether_child_free` (which
/// never blocks, and sends SIGKILL to whatever of the tree is left).
///
/// Every call may come from any thread, also while another thread waits in
/// `tether_child_wait`: a signal, stop or kill interrupts that wait for its own turn, and the
/// wait goes on after it. The command's time limit (`timeout_ms`) is applied while a wait runs.
#[derive(Debug)]
pub struct TetherChild {
    child: Mutex<Child>,
    /// The canceller of the wait in progress: another call cancels it to take its turn.
    waiting: Mutex<Option<Cancel>>,
    /// Calls (other than waits) that want the child now: a wait steps aside for them.
    pending: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic under the lock was caught at the boundary; the child itself is still sound.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TetherChild {
    /// Run `f` on the child, interrupting a wait in progress for it.
    fn with<T>(&self, f: impl FnOnce(&mut Child) -> T) -> T {
        self.pending.fetch_add(1, Ordering::SeqCst);
        if let Some(c) = lock(&self.waiting).as_ref() {
            c.cancel();
        }
        let mut child = lock(&self.child);
        self.pending.fetch_sub(1, Ordering::SeqCst);
        f(&mut child)
    }

    /// Wait for the command to exit, up to `limit`, stepping aside for other calls. `Ok(None)`
    /// when the timeout passed; `TETHER_E_CANCELLED` when `token` was triggered.
    fn wait(
        &self,
        limit: Option<Duration>,
        token: Option<&TetherCancel>,
    ) -> Result<Option<ExitInfo>, Failure> {
        let until = limit.and_then(|l| Instant::now().checked_add(l));
        loop {
            let c = Cancel::new()?;
            let _link = token.map(|t| t.link(&c));
            let mut child = lock(&self.child);
            *lock(&self.waiting) = Some(c.clone());
            // After publishing the canceller: a call that came before it is seen here.
            if self.pending.load(Ordering::SeqCst) > 0 {
                *lock(&self.waiting) = None;
                drop(child);
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            let left = until.map(|u| u.saturating_duration_since(Instant::now()));
            let r = child.wait_cancellable(left, &c);
            *lock(&self.waiting) = None;
            drop(child);
            match r? {
                Some(e) => return Ok(Some(e)),
                None if token.is_some_and(TetherCancel::is_triggered) => {
                    return Err(Failure::cancelled())
                }
                // Another call took its turn: wait on.
                None if c.is_cancelled() => continue,
                None => return Ok(None),
            }
        }
    }
}

/// A spawn error as the library's error (its kind tells a missing program from one that
/// cannot run: `TETHER_E_NOT_FOUND` vs `TETHER_E_PERMISSION_DENIED` or `TETHER_E_SYSTEM`).
fn spawn_failure(e: SpawnError) -> Failure {
    Error::from(e).into()
}

/// Start a command as a contained tree. `command_json` is a `tether.command-query/v1` document:
/// `{"schema":"tether.command-query/v1","argv":["sh","-c","sleep 30 & sleep 30"]}` (optional:
/// cwd, env {NAME: value}, env_clear, env_remove [NAME], stdin/stdout/stderr `inherit`
/// (default), `null` or `{"fd": N}`, contain `auto` (default) | `cgroup` | `group` | `none`,
/// timeout_ms, timeout_signal, kill_after_ms). Errors: bad input (`TETHER_E_INVALID_ARGUMENT`),
/// the program not found (`TETHER_E_NOT_FOUND`), not executable or the set-up failed (the kind
/// of its cause), no cgroup for `contain: cgroup`.
///
/// A stream `{"fd": N}` is a copy of the caller's open descriptor N (a file, a pipe's end, a
/// socket), duplicated (close-on-exec) before the command starts: the caller may close its own
/// once this returns, and must close a pipe's write end to see end of file when the tree has
/// exited. A negative or closed N is `TETHER_E_INVALID_ARGUMENT`.
///
/// # Safety
/// `command_json` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_spawn(
    command_json: *const c_char,
    out: *mut *mut TetherChild,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_out(out, ptr::null_mut(), || {
            let q: CommandQuery = query(command_json)?;
            let child = q
                .to_command(CommandUse::Spawn)?
                .spawn()
                .map_err(spawn_failure)?;
            Ok(Box::into_raw(Box::new(TetherChild {
                child: Mutex::new(child),
                waiting: Mutex::new(None),
                pending: AtomicUsize::new(0),
            })))
        })
    }
}

/// The command's PID, into `*out`.
///
/// # Safety
/// `child` is NULL or a live handle; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_child_pid(child: *const TetherChild, out: *mut i64) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_out(out, 0, || {
            Ok(borrow(child, "child")?.with(|c| c.pid()) as i64)
        })
    }
}

/// The command's identity string, verified when it started: hand it to whoever must name
/// this process later (`tether_process_open` refuses it once the PID is reused).
///
/// # Safety
/// `child` is NULL or a live handle; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_child_identity(
    child: *const TetherChild,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            Ok(borrow(child, "child")?.with(|c| c.identity().to_string()))
        })
    }
}

/// The containment the tree runs in, as JSON (`mechanism` `cgroup` | `session` | ...,
/// `strength`, `cgroup`, `pgid`; the `containment` object of `tether.run/v1`).
///
/// # Safety
/// `child` is NULL or a live handle; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_child_containment(
    child: *const TetherChild,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let c = borrow(child, "child")?.with(|c| c.containment().clone());
            serde_json::to_string(&c)
                .map_err(|e| Error::new(ErrorKind::System, format!("writing JSON: {e}")).into())
        })
    }
}

/// Wait for the command (the direct child, not the whole tree) to exit, up to `timeout_ms`
/// (negative: as long as it takes), applying its time limit meanwhile, into a
/// `tether.child-wait/v1` document (`exited`, `timed_out`, `exit` {code, signal, core_dumped},
/// `shell_code`). A timeout is not an error. `cancel` may be NULL; triggered, the call returns
/// `TETHER_E_CANCELLED` at once and the command is left running.
///
/// # Safety
/// `child` is NULL or a live handle; `cancel` is NULL or a live token; `out` is NULL or valid
/// for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_child_wait(
    child: *const TetherChild,
    timeout_ms: i64,
    cancel: *const TetherCancel,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    let token = unsafe { cancel.as_ref() };
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let h = borrow(child, "child")?;
            let exit = h.wait(timeout(timeout_ms)?, token)?;
            let pid = h.with(|c| c.pid());
            report(&ChildWaitReport::new(pid, exit))
        })
    }
}

/// Send signal `signal` (a number) to every process of the tree; `*delivered` receives how
/// many it reached. Nothing is held still or continued.
///
/// # Safety
/// `child` is NULL or a live handle; `delivered` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_child_signal(
    child: *const TetherChild,
    signal: i32,
    delivered: *mut usize,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_out(delivered, 0, || {
            let h = borrow(child, "child")?;
            let sig = Signal::from_number(signal)?;
            Ok(h.with(|c| c.signal(sig))?.len())
        })
    }
}

/// End the tree with the one terminate policy (held still, the graceful signal and SIGCONT to
/// every member, the grace to exit, the kill signal to survivors), collecting the command's
/// exit. `options_json` is NULL (TERM, 10 s, KILL) or a `tether.stop-query/v1` document.
/// `*out` receives a `tether.stop/v1` document (`remaining` empty when all of it is gone).
///
/// # Safety
/// `child` is NULL or a live handle; `options_json` is NULL or a NUL-terminated string; `out`
/// is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_child_stop(
    child: *const TetherChild,
    options_json: *const c_char,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let h = borrow(child, "child")?;
            let opts = stop_options(options_json)?;
            report(&StopReport::from(&h.with(|c| c.stop(&opts))?))
        })
    }
}

/// Kill the whole tree with SIGKILL and wait (up to 5 s) until it is gone; `*killed` receives
/// how many processes were still alive.
///
/// # Safety
/// `child` is NULL or a live handle; `killed` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_child_kill_tree(
    child: *const TetherChild,
    killed: *mut usize,
) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_out(killed, 0, || {
            Ok(borrow(child, "child")?.with(|c| c.kill_tree())?.len())
        })
    }
}

/// Free a child handle without blocking: whatever of the tree is left gets SIGKILL, and the
/// watchdog finishes the clean-up (the cgroup leaf) on its own. NULL does nothing. No call may
/// still be using it.
///
/// # Safety
/// `child` is NULL or a handle from `tether_spawn` that has not been freed.
#[no_mangle]
pub unsafe extern "C" fn tether_child_free(child: *mut TetherChild) {
    if !child.is_null() {
        // SAFETY: it came from `Box::into_raw` (the caller's contract).
        shielded((), || drop(unsafe { Box::from_raw(child) }));
    }
}

/// Run a command to the end as a contained tree, capturing its output, and report it.
/// `command_json` is a `tether.command-query/v1` document as for `tether_spawn`; here stdout and
/// stderr default to `capture` (stdin to `null`), and `capture_limit` (default 1 MiB) bounds
/// what is kept of each: the last bytes; a stream may also be `inherit`, `null` or `{"fd": N}`
/// (a copy of the caller's descriptor N, as for `tether_spawn`). Whatever the command leaves
/// running is ended when it exits.
///
/// `*out` receives a `tether.run-output/v1` document: the fields of `tether.run/v1`
/// (`timed_out`, `child_exit`, `exit_code` with GNU `timeout`'s mapping: 124 when the limit
/// passed, 125/126/127 when it could not start, 128+N for a signal), and `stdout`/`stderr`
/// **base64-encoded** (exact bytes), with `stdout_dropped`/`stderr_dropped`. A command that
/// cannot be started is still a report (`pid` null, `exit_code` 127 or 126, `error`), not an
/// error; errors are bad input, and `TETHER_E_CANCELLED` when `cancel` (may be NULL) was
/// triggered: the whole tree is ended then.
///
/// # Safety
/// `command_json` is NULL or a NUL-terminated string; `cancel` is NULL or a live token; `out`
/// is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_run(
    command_json: *const c_char,
    cancel: *const TetherCancel,
    out: *mut *mut c_char,
) -> i32 {
    // SAFETY: the caller's contract.
    let token = unsafe { cancel.as_ref() };
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let q: CommandQuery = query(command_json)?;
            let mut cmd = q.to_command(CommandUse::Run)?;
            let linked = linked(token)?;
            if let Some((c, _)) = &linked {
                cmd.cancel(c.clone());
            }
            let cancelled = || linked.as_ref().is_some_and(|(c, _)| c.is_cancelled());
            let began = Instant::now();
            match cmd.output() {
                Ok(_) if cancelled() => Err(Failure::cancelled()),
                Ok(o) => report(&RunOutputReport::from(&o)),
                Err(e) if e.kind() == tether::command::SpawnErrorKind::InvalidInput => {
                    Err(spawn_failure(e))
                }
                Err(e) => {
                    let argv: Vec<std::ffi::OsString> = q.argv.iter().map(Into::into).collect();
                    let r = RunReport::not_started(&argv, &e, gnu_spawn_exit(&e), began.elapsed());
                    report(&RunOutputReport::not_started(r))
                }
            }
        })
    }
}
