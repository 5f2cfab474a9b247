//! `Process`: one handle for one process (a pidfd and the identity verified on it), psutil's
//! shape in camelCase. What can block (`wait`, `terminateTree`) returns a promise settled from
//! a thread of its own; the rest reads a few /proc files or makes one system call.

use std::sync::Arc;

use napi::bindgen_prelude::{Object, Unknown};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;

use crate::args;
use crate::error::{sync, Fail, Result};
use crate::identity::ProcessIdentity;
use crate::inspect::{field_set, ProcessInfo};
use crate::results::{StopOptions, StopResult, WaitResult};
use crate::{abort, promise, signal};

/// `wait`'s options.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ProcessWaitOptions<'a> {
    /// Give up after this many milliseconds: the result then has `timedOut` (default: no limit).
    pub timeout_ms: Option<f64>,
    /// Aborting it ends the wait (the process is left alone): the promise rejects with
    /// `signal.reason`.
    #[napi(ts_type = "AbortSignal")]
    pub signal: Option<Unknown<'a>>,
}

/// `children`' options.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ChildrenOptions {
    /// Every descendant, breadth first, rather than the children only.
    pub recursive: Option<bool>,
}

/// One process, held by a pidfd: signals reach it or nobody, never a process that later
/// reuses its PID, and what is read by PID is re-checked to be its own.
#[napi]
pub struct Process {
    inner: Arc<tether::Process>,
}

/// An identity given as a string or a `ProcessIdentity` (its string form).
fn identity_arg(v: &Unknown) -> Result<tether::ProcessIdentity> {
    match v.get_type()? {
        ValueType::String => Ok(args::string(v, "identity")?.parse()?),
        ValueType::Object => Ok(v.coerce_to_string()?.into_utf8()?.as_str()?.parse()?),
        _ => Err(Fail::Type(
            "identity must be a string or a ProcessIdentity".into(),
        )),
    }
}

#[napi]
impl Process {
    /// Open the process `pid` and take its identity: a `NotFoundError` when there is none (or
    /// it is a thread), an `InvalidArgumentError` for PID 0 or a negative one.
    #[napi(factory, ts_args_type = "pid: number")]
    pub fn open(env: &Env, pid: Unknown) -> napi::Result<Process> {
        sync(env, || {
            let pid = args::pid(args::number(&pid, "pid")?, "pid")?;
            Ok(Process::from(tether::Process::open(pid)?))
        })
    }

    /// Open the process an identity names, refusing any other: `NotFoundError` when it has
    /// exited, `IdentityMismatchError` when its PID now belongs to another process.
    #[napi(factory, ts_args_type = "identity: string | ProcessIdentity")]
    pub fn from_identity(env: &Env, identity: Unknown) -> napi::Result<Process> {
        sync(env, || {
            let id = identity_arg(&identity)?;
            Ok(Process::from(tether::Process::from_identity(&id)?))
        })
    }

    /// This process.
    #[napi(factory)]
    pub fn current(env: &Env) -> napi::Result<Process> {
        sync(env, || Ok(Process::from(tether::Process::current()?)))
    }

    #[napi(getter)]
    pub fn pid(&self) -> u32 {
        self.inner.pid()
    }

    /// Its identity, as verified when it was opened.
    #[napi(getter)]
    pub fn identity(&self) -> ProcessIdentity {
        ProcessIdentity {
            inner: self.inner.identity().clone(),
        }
    }

    /// Its record (fields as `snapshot` takes them; default as `snapshot`'s), re-verified to be
    /// its own: a `NotFoundError` once it has exited and been reaped (a zombie has a record).
    #[napi(ts_args_type = "fields?: string[]")]
    pub fn info(&self, env: &Env, fields: Option<Vec<String>>) -> napi::Result<ProcessInfo> {
        sync(env, || {
            let set = field_set(fields.as_deref())?;
            Ok(self.inner.info(set)?.into())
        })
    }

    /// Whether it still runs (`false` once it has exited, zombie included).
    #[napi]
    pub fn is_running(&self, env: &Env) -> napi::Result<bool> {
        sync(env, || Ok(self.inner.is_running()?))
    }

    /// Its children (or, with `recursive`, all its descendants), each opened.
    #[napi(ts_args_type = "options?: ChildrenOptions")]
    pub fn children(&self, env: &Env, options: Option<Unknown>) -> napi::Result<Vec<Process>> {
        sync(env, || {
            let o: ChildrenOptions = args::options(options, "options")?.unwrap_or_default();
            let list = if o.recursive.unwrap_or(false) {
                self.inner.descendants()?
            } else {
                self.inner.children()?
            };
            Ok(list.into_iter().map(Process::from).collect())
        })
    }

    /// Send a signal (a name such as `'TERM'` or a number) through the pidfd. The rails apply
    /// (`RefusedError` for this process, its ancestors, PID 1); `NotFoundError` once it has
    /// exited.
    #[napi(ts_args_type = "signal: string | number")]
    pub fn signal(&self, env: &Env, sig: Unknown) -> napi::Result<()> {
        sync(env, || Ok(self.inner.signal(signal::parse(&sig)?)?))
    }

    /// Wait for it to exit (one poll on its pidfd, on a thread of its own). Resolves with what
    /// the wait found (`timedOut` when the timeout passed first: an outcome, not an error); the
    /// exit status is known only for this process's own children.
    #[napi(
        ts_args_type = "options?: ProcessWaitOptions",
        ts_return_type = "Promise<WaitResult>"
    )]
    pub fn wait<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown>,
    ) -> napi::Result<Object<'env>> {
        let process = Arc::clone(&self.inner);
        abort::spawn(
            env,
            "tether-wait",
            |_| {
                let o: ProcessWaitOptions = args::options(options, "options")?.unwrap_or_default();
                let timeout = o
                    .timeout_ms
                    .map(|t| args::millis(t, "options.timeoutMs"))
                    .transpose()?;
                Ok((timeout, o.signal))
            },
            move |timeout, cancel| Ok(process.wait_cancellable(timeout, cancel)?),
            |outcome, _| matches!(outcome, Ok(None)),
            |outcome| {
                outcome?.map(|o| WaitResult::of(&o)).ok_or_else(|| {
                    Fail::Tether(tether::Error::new(
                        tether::ErrorKind::System,
                        "the wait was cancelled",
                    ))
                })
            },
        )
    }

    /// Stop it and its whole tree: held still, the graceful signal, `graceMs` to exit, the kill
    /// signal to what is left. On a thread of its own; a process already gone is a success
    /// with `alreadyGone`.
    #[napi(
        ts_args_type = "options?: StopOptions",
        ts_return_type = "Promise<StopResult>"
    )]
    pub fn terminate_tree<'env>(
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
        let process = Arc::clone(&self.inner);
        promise::spawn(
            env,
            "tether-stop",
            move || Ok(process.terminate_tree(&opts)?),
            |_, outcome| Ok(StopResult::of(&outcome?)),
        )
    }
}

impl From<tether::Process> for Process {
    fn from(p: tether::Process) -> Self {
        Process { inner: Arc::new(p) }
    }
}
