//! Starting contained trees: `run` (to the end, with captured output and GNU `timeout`'s
//! contract) and `spawn` (a `Child` handle on the running tree). Everything is the library's
//! `Command`/`Child`; this module converts options and results, and keeps the event loop free:
//! every call that waits runs on a thread of its own.
//!
//! A `Child` is used from several threads at once (a `wait` in progress while `stop` is called),
//! and the library's `Child` takes `&mut self`. The handle is shared behind a mutex; a wait holds
//! it while it waits, with a canceller (an eventfd the library polls with the child's pidfd).
//! Whatever else needs the child first announces itself (`pending`) and cancels that canceller:
//! the wait lets go at once, lets it pass, and waits again. So a `stop()` during a `wait()` runs
//! at once, and the wait then sees the exit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use napi::bindgen_prelude::{Buffer, Either, Object, Unknown};
use napi::Env;
use napi_derive::napi;
use tether::contain::{ContainMode, Guard};
use tether::ready::Cancel;
use tether::{Command, Stdio};

use crate::args;
use crate::error::{sync, Fail, Result};
use crate::identity::ProcessIdentity;
use crate::results::{signal_name, signal_option, ContainmentResult, ExitResult};
use crate::results::{StopOptions, StopResult};
use crate::{abort, instance, promise, signal};

/// How to start a command (`run` and `spawn`).
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct CommandOptions<'a> {
    /// Working directory (default: this process's).
    pub cwd: Option<String>,
    /// The whole environment of the command, as `child_process` takes it (default: this
    /// process's). The program is looked up in its `PATH`.
    pub env: Option<HashMap<String, String>>,
    /// The time limit in milliseconds (GNU `timeout`): when it passes, `timeoutSignal` goes to
    /// the whole tree. 0 or absent: none.
    pub timeout_ms: Option<f64>,
    /// KILL this many milliseconds after the timeout signal, if still running (GNU `-k`).
    pub kill_after_ms: Option<f64>,
    /// Sent when the limit passes (default `'TERM'`).
    #[napi(ts_type = "string | number")]
    pub timeout_signal: Option<Either<String, i32>>,
    /// `'auto'` (default: a cgroup, else a session watched by a subreaper), `'cgroup'`,
    /// `'group'` or `'none'`.
    pub contain: Option<String>,
    /// `run`: how many bytes of stdout and of stderr to keep, each: the last ones (default
    /// 1 MiB).
    pub capture_limit: Option<f64>,
    /// `spawn`: where the command's stdin, stdout and stderr go, `'inherit'` (default) or
    /// `'ignore'`; one value for all three, or a list of three.
    #[napi(ts_type = "'inherit' | 'ignore' | Array<'inherit' | 'ignore'>")]
    pub stdio: Option<Either<String, Vec<String>>>,
    /// `run`: aborting it ends the whole tree (SIGKILL) and the promise rejects with
    /// `signal.reason`. `spawn`: aborting it kills the whole tree.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Unknown<'a>>,
}

/// A command checked and built, and the signal to listen to.
struct Prepared<'a> {
    cmd: Command,
    signal: Option<Unknown<'a>>,
}

fn stdio(name: &str) -> Result<Stdio> {
    match name {
        "inherit" => Ok(Stdio::Inherit),
        "ignore" => Ok(Stdio::Null),
        other => Err(Fail::Value(format!(
            "options.stdio must be 'inherit' or 'ignore'; received '{other}'"
        ))),
    }
}

fn prepare<'a>(argv: &Unknown, options: Option<Unknown<'a>>, spawn: bool) -> Result<Prepared<'a>> {
    let argv = args::strings(argv, "argv")?;
    let Some((program, rest)) = argv.split_first() else {
        return Err(Fail::Value("argv must name a program".into()));
    };
    let o: CommandOptions<'a> = args::options(options, "options")?.unwrap_or_default();
    let mut cmd = Command::new(program);
    // A Node.js program is a long-lived host: one shared guard, reused cgroup leaves.
    cmd.args(rest).guard(Guard::Shared);
    if let Some(d) = &o.cwd {
        cmd.current_dir(d);
    }
    if let Some(env) = &o.env {
        cmd.env_clear();
        cmd.envs(env);
    }
    if let Some(t) = o.timeout_ms {
        cmd.timeout(args::millis(t, "options.timeoutMs")?);
    }
    if let Some(k) = o.kill_after_ms {
        cmd.kill_after(args::millis(k, "options.killAfterMs")?);
    }
    if let Some(s) = o.timeout_signal {
        cmd.timeout_signal(Some(signal_option(s)?));
    }
    if let Some(m) = &o.contain {
        cmd.contain(m.parse::<ContainMode>()?);
    }
    if let Some(l) = o.capture_limit {
        let bytes = args::integer_in(l, 0, isize::MAX as i64, "options.captureLimit")?;
        cmd.capture_limit(bytes as usize);
    }
    if let Some(s) = o.stdio {
        if !spawn {
            return Err(Fail::Value(
                "options.stdio is for spawn: run captures stdout and stderr".into(),
            ));
        }
        let names = match s {
            Either::A(one) => vec![one.clone(), one.clone(), one],
            Either::B(list) if list.len() == 3 => list,
            Either::B(_) => {
                return Err(Fail::Value(
                    "options.stdio must be one value or a list of three".into(),
                ))
            }
        };
        cmd.stdin(stdio(&names[0])?);
        cmd.stdout(stdio(&names[1])?);
        cmd.stderr(stdio(&names[2])?);
    }
    Ok(Prepared {
        cmd,
        signal: o.signal,
    })
}

/// A signal sent by the time limit.
#[napi(object, object_from_js = false)]
pub struct SentSignalResult {
    /// Its name, without `SIG` (`'0'` for GNU's signal 0: nothing).
    pub signal: String,
    /// `timeout` or `kill_after`.
    pub reason: String,
    /// Milliseconds after the start.
    pub at_ms: f64,
    /// How many processes it reached.
    pub delivered_to: u32,
}

/// How a run went (the `tether.run/v1` report), with the captured output.
#[napi(object, object_from_js = false)]
pub struct RunResult {
    /// The exit code GNU `timeout` would end with: the command's code, 124 when the time limit
    /// passed, 128 + N when signal N killed it (137 when KILL had to be sent).
    pub exit_code: i32,
    /// The command's own exit code, when it exited normally (`null` when a signal ended it).
    pub code: Option<i32>,
    /// The signal that ended the command (`'TERM'`, `'KILL'`), when one did.
    pub signal: Option<String>,
    /// The time limit passed.
    pub timed_out: bool,
    /// KILL had to be sent while the command still ran.
    pub escalated: bool,
    /// Signals the time limit sent, in order.
    pub signals: Vec<SentSignalResult>,
    /// The last `captureLimit` bytes the command wrote to stdout.
    pub stdout: Buffer,
    pub stderr: Buffer,
    /// Bytes of stdout dropped from the front to keep the limit.
    pub stdout_dropped: f64,
    pub stderr_dropped: f64,
    pub pid: u32,
    /// The command's identity string.
    pub identity: String,
    pub containment: ContainmentResult,
    /// Processes the command left running when it exited, ended then.
    pub leftovers_killed: Vec<u32>,
    /// Why the exit status is unknown, when it is (`exitCode` is then 125).
    pub error: Option<String>,
    pub elapsed_ms: f64,
}

impl From<tether::command::Output> for RunResult {
    fn from(out: tether::command::Output) -> Self {
        let o = &out.status;
        let gnu = tether::run::gnu_exit(o, false);
        let report = tether_report::RunReport::new(o, gnu);
        RunResult {
            exit_code: report.exit_code,
            code: o.child_exit.and_then(|e| e.code),
            signal: o.child_exit.and_then(|e| e.signal).map(signal_name),
            timed_out: report.timed_out,
            escalated: report.escalated,
            signals: report
                .signals
                .into_iter()
                .map(|s| SentSignalResult {
                    signal: s.signal,
                    reason: s.reason,
                    at_ms: s.at_ms as f64,
                    delivered_to: s.delivered_to as u32,
                })
                .collect(),
            pid: o.pid,
            identity: o.identity.to_string(),
            containment: o.containment.clone().into(),
            leftovers_killed: report.leftovers_killed,
            error: report.error,
            elapsed_ms: report.elapsed_ms as f64,
            stdout_dropped: out.stdout_dropped as f64,
            stderr_dropped: out.stderr_dropped as f64,
            stdout: out.stdout.into(),
            stderr: out.stderr.into(),
        }
    }
}

/// Run a command to the end as a contained tree, capturing the last `captureLimit` bytes of its
/// stdout and stderr (stdin is /dev/null), under GNU `timeout`'s contract (`timeoutMs`,
/// `killAfterMs`). What the command leaves running when it exits is ended. Resolves with how it
/// went (a non-zero exit or a timeout is a result, not an error); rejects when the command
/// cannot be started (`NotFoundError` for a missing program, `PermissionDeniedError` for one
/// that may not be run) and, with `signal.reason`, when `options.signal` aborts (the whole tree
/// is killed first). The run waits on a thread of its own: the event loop keeps turning.
#[napi(
    ts_args_type = "argv: string[], options?: CommandOptions",
    ts_return_type = "Promise<RunResult>"
)]
pub fn run<'env>(
    env: &'env Env,
    argv: Unknown,
    options: Option<Unknown>,
) -> napi::Result<Object<'env>> {
    abort::spawn(
        env,
        "tether-run",
        |_| {
            let mut p = prepare(&argv, options, false)?;
            let signal = p.signal.take();
            Ok((p.cmd, signal))
        },
        |mut cmd, cancel| {
            Ok(cmd
                .cancel(cancel.clone())
                .output()
                .map_err(tether::Error::from)?)
        },
        |out, cancel| out.is_ok() && cancel.is_cancelled(),
        |out| Ok(RunResult::from(out?)),
    )
}

/// The library's `Child`, shared by the JavaScript handle and the threads that act on it.
struct Shared {
    /// `None` once closed.
    child: Mutex<Option<tether::Child>>,
    /// Raised to make the waits in progress let go of `child` and look again; replaced by a
    /// fresh one each time.
    wake: Mutex<Cancel>,
    /// How many calls wait for `child`; waits let them pass first.
    pending: Mutex<usize>,
    /// The command's exit, when `close` collected it (for the waits still in progress).
    closed_exit: Mutex<Option<tether::wait::ExitInfo>>,
    turn: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding it is caught at the entry point; the data stays usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn closed() -> Fail {
    Fail::Tether(tether::Error::invalid(
        "the child was closed: its tree was ended and its handle released",
    ))
}

impl Shared {
    /// Make the waits in progress let go of the child and look again.
    fn wake(&self) -> Result<()> {
        let fresh = Cancel::new()?;
        let old = std::mem::replace(&mut *lock(&self.wake), fresh);
        old.cancel();
        Ok(())
    }

    /// Run `f` with the child, ahead of any wait in progress.
    fn with<T>(&self, f: impl FnOnce(&mut Option<tether::Child>) -> Result<T>) -> Result<T> {
        *lock(&self.pending) += 1;
        let r = self.wake().and_then(|()| f(&mut lock(&self.child)));
        *lock(&self.pending) -= 1;
        self.turn.notify_all();
        r
    }

    /// Wait for the command to exit, up to `deadline`, letting other calls through; with
    /// `aborted` raised (and [`Shared::wake`]), kill the tree and stop waiting.
    fn wait(&self, deadline: Option<Instant>, aborted: &AtomicBool) -> Result<ChildWait> {
        loop {
            // The canceller first: a call that comes after this cancels this one or a later one.
            let token = lock(&self.wake).clone();
            {
                let mut p = lock(&self.pending);
                if *p > 0 {
                    while *p > 0 {
                        p = self.turn.wait(p).unwrap_or_else(|e| e.into_inner());
                    }
                    continue;
                }
            }
            let mut guard = lock(&self.child);
            let Some(child) = guard.as_mut() else {
                // Closed meanwhile: its exit, collected by `close`.
                return match *lock(&self.closed_exit) {
                    Some(exit) => Ok(ChildWait::Exited(exit)),
                    None => Err(closed()),
                };
            };
            if aborted.load(Ordering::SeqCst) {
                child.kill_tree()?;
                return Ok(ChildWait::Aborted);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match child.wait_cancellable(left, &token)? {
                Some(exit) => return Ok(ChildWait::Exited(exit)),
                None if token.is_cancelled() => continue,
                None => return Ok(ChildWait::TimedOut),
            }
        }
    }
}

enum ChildWait {
    Exited(tether::wait::ExitInfo),
    TimedOut,
    Aborted,
}

/// `Child.wait`'s options.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ChildWaitOptions<'a> {
    /// Give up after this many milliseconds: the promise resolves with `null` (default: no
    /// limit).
    pub timeout_ms: Option<f64>,
    /// Aborting it kills the whole tree, and the promise rejects with `signal.reason`.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Unknown<'a>>,
}

/// A command started by `spawn` and its whole tree, contained. Waiting is for the command;
/// signalling, stopping and killing act on the whole tree. End it with `stop()` and `close()`
/// (or `killTree()`); if the handle is garbage-collected first, or this process dies, the tree
/// is killed.
#[napi]
pub struct Child {
    shared: Arc<Shared>,
    pid: u32,
    identity: tether::ProcessIdentity,
    containment: tether::contain::Containment,
}

/// Start a command as a contained tree (stdio inherited unless `options.stdio` says
/// `'ignore'`) and return the handle on it. Throws when it cannot be started (`NotFoundError`
/// for a missing program). `options.timeoutMs` is applied while the child is waited for.
#[napi(ts_args_type = "argv: string[], options?: CommandOptions")]
pub fn spawn(env: &Env, argv: Unknown, options: Option<Unknown>) -> napi::Result<Child> {
    sync(env, || {
        let p = prepare(&argv, options, true)?;
        let child = p.cmd.spawn().map_err(tether::Error::from)?;
        let handle = Child {
            pid: child.pid(),
            identity: child.identity().clone(),
            containment: child.containment().clone(),
            shared: Arc::new(Shared {
                child: Mutex::new(Some(child)),
                wake: Mutex::new(Cancel::new()?),
                pending: Mutex::new(0),
                closed_exit: Mutex::new(None),
                turn: Condvar::new(),
            }),
        };
        if let Some(signal) = p.signal {
            let shared = Arc::downgrade(&handle.shared);
            let on_abort = move || {
                if let Some(s) = shared.upgrade() {
                    // Off the event loop: killing waits until the tree is gone.
                    let _ = std::thread::Builder::new()
                        .name("tether-abort".into())
                        .spawn(move || {
                            s.with(|c| {
                                c.as_mut()
                                    .map(|c| c.kill_tree())
                                    .transpose()
                                    .map_err(Fail::from)
                            })
                        });
                }
            };
            match abort::watch(env, signal, on_abort.clone())? {
                // Aborted already: kill it at once.
                abort::Abort::Already(_) => on_abort(),
                // The listener stays until the signal is collected (as child_process's).
                abort::Abort::Watching(h) => h.unref(env)?,
            }
        }
        Ok(handle)
    })
}

#[napi]
impl Child {
    /// The command's PID.
    #[napi(getter)]
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The command's identity, taken when it started.
    #[napi(getter)]
    pub fn identity(&self) -> ProcessIdentity {
        ProcessIdentity {
            inner: self.identity.clone(),
        }
    }

    /// How the tree is contained.
    #[napi(getter)]
    pub fn containment(&self) -> ContainmentResult {
        self.containment.clone().into()
    }

    /// Wait for the command (not the whole tree) to exit, applying its time limit meanwhile.
    /// Resolves with how it ended, or `null` when `timeoutMs` passed first. Aborting
    /// `options.signal` kills the whole tree and rejects with `signal.reason`. Other calls
    /// (`stop`, `signal`, …) run while a wait is in progress.
    #[napi(
        ts_args_type = "options?: ChildWaitOptions",
        ts_return_type = "Promise<ExitResult | null>"
    )]
    pub fn wait<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown>,
    ) -> napi::Result<Object<'env>> {
        let aborted = Arc::new(AtomicBool::new(false));
        let prepared = sync(env, || {
            let o: ChildWaitOptions = args::options(options, "options")?.unwrap_or_default();
            let deadline = o
                .timeout_ms
                .map(|t| args::millis(t, "options.timeoutMs"))
                .transpose()?
                .and_then(|t| Instant::now().checked_add(t));
            let (a, s) = (Arc::clone(&aborted), Arc::clone(&self.shared));
            let handle = abort::listen(env, o.signal, move || {
                a.store(true, Ordering::SeqCst);
                let _ = s.wake();
            })?;
            Ok((deadline, handle))
        });
        let (deadline, handle) = match prepared {
            Ok(p) => p,
            Err(e) => return promise::rejected(env, Fail::Napi(e)),
        };
        // Should this environment go away mid-wait, the wait ends (and the tree with it).
        let (a, s) = (Arc::clone(&aborted), Arc::clone(&self.shared));
        let id = instance::wait_started(env, move || {
            a.store(true, Ordering::SeqCst);
            let _ = s.wake();
        })?;
        let shared = Arc::clone(&self.shared);
        promise::spawn(
            env,
            "tether-wait",
            move || shared.wait(deadline, &aborted),
            move |env, result| {
                instance::wait_ended(env, id)?;
                let aborted = matches!(result, Ok(ChildWait::Aborted));
                abort::finish(env, handle, aborted)?;
                Ok(match result? {
                    ChildWait::Exited(e) => Some(ExitResult::from(e)),
                    _ => None,
                })
            },
        )
    }

    /// Send a signal to every process of the tree; resolves with the PIDs it reached.
    #[napi(
        ts_args_type = "signal: string | number",
        ts_return_type = "Promise<number[]>"
    )]
    pub fn signal<'env>(&self, env: &'env Env, sig: Unknown) -> napi::Result<Object<'env>> {
        let sig = match signal::parse(&sig) {
            Ok(s) => s,
            Err(fail) => return promise::rejected(env, fail),
        };
        self.act(env, "tether-signal", move |c| Ok(c.signal(sig)?))
    }

    /// End the tree with the one terminate policy: held still, the graceful signal, `graceMs`
    /// to exit, the kill signal to what is left. Call `close()` afterwards to clean up.
    #[napi(
        ts_args_type = "options?: StopOptions",
        ts_return_type = "Promise<StopResult>"
    )]
    pub fn stop<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown>,
    ) -> napi::Result<Object<'env>> {
        let opts = args::options::<StopOptions>(options, "options")
            .and_then(|o| o.unwrap_or_default().to_library());
        let opts = match opts {
            Ok(o) => o,
            Err(fail) => return promise::rejected(env, fail),
        };
        let shared = Arc::clone(&self.shared);
        promise::spawn(
            env,
            "tether-stop",
            move || shared.with(|c| Ok(c.as_mut().ok_or_else(closed)?.stop(&opts)?)),
            |_, outcome| Ok(StopResult::of(&outcome?)),
        )
    }

    /// Kill the whole tree with SIGKILL and wait until it is gone; resolves with the PIDs
    /// that were still alive.
    #[napi(ts_return_type = "Promise<number[]>")]
    pub fn kill_tree<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        self.act(env, "tether-kill", |c| Ok(c.kill_tree()?))
    }

    /// End whatever is left of the tree (SIGKILL), wait until it is gone, remove its cgroup,
    /// release the watchdog; resolves with the PIDs that had to be killed. Waits in progress
    /// resolve with the exit. Afterwards `wait()` still resolves with the exit, while
    /// `signal`, `stop` and `killTree` reject; closing twice resolves with `[]`.
    #[napi(ts_return_type = "Promise<number[]>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<Object<'env>> {
        let shared = Arc::clone(&self.shared);
        promise::spawn(
            env,
            "tether-close",
            move || {
                shared.with(|c| match c.take() {
                    Some(mut child) => {
                        // Killed first (what `close` would do), so that the exit is known to
                        // the waits still in progress.
                        let killed = child.kill_tree();
                        *lock(&shared.closed_exit) = child.try_wait().ok().flatten();
                        child.close()?;
                        Ok(killed?)
                    }
                    None => Ok(Vec::new()),
                })
            },
            |_, killed| killed,
        )
    }
}

impl Child {
    /// `f` with the child, on a thread of its own, resolving with the PIDs it returns.
    fn act<'env>(
        &self,
        env: &'env Env,
        name: &str,
        f: impl FnOnce(&mut tether::Child) -> Result<Vec<u32>> + Send + 'static,
    ) -> napi::Result<Object<'env>> {
        let shared = Arc::clone(&self.shared);
        promise::spawn(
            env,
            name,
            move || shared.with(|c| f(c.as_mut().ok_or_else(closed)?)),
            |_, pids| pids,
        )
    }
}
