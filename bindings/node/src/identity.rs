//! `ProcessIdentity`: a PID plus what makes it unique over time.

use napi::bindgen_prelude::Unknown;
use napi::Env;
use napi_derive::napi;
use tether::IdentityCheck;

use crate::args;
use crate::error::sync;
use crate::json_name;

/// PID + start time in clock ticks + boot id (+ the pidfs inode): a process, never mistaken for
/// another that reuses its PID. Its string form is `PID:START_TICKS:BOOT8[:INODE]`.
#[napi]
pub struct ProcessIdentity {
    pub(crate) inner: tether::ProcessIdentity,
}

#[napi]
impl ProcessIdentity {
    /// Parse the string form (`4242:1234567:9f1c0a3e[:88]`); an `InvalidArgumentError` when it
    /// is not one.
    #[napi(factory, ts_args_type = "text: string")]
    pub fn parse(env: &Env, text: Unknown) -> napi::Result<ProcessIdentity> {
        sync(env, || {
            let inner = args::string(&text, "text")?.parse::<tether::ProcessIdentity>()?;
            Ok(ProcessIdentity { inner })
        })
    }

    /// The identity of the live process `pid`: a `NotFoundError` when there is none.
    #[napi(factory, ts_args_type = "pid: number")]
    pub fn of(env: &Env, pid: Unknown) -> napi::Result<ProcessIdentity> {
        sync(env, || {
            let pid = args::pid(args::number(&pid, "pid")?, "pid")?;
            Ok(ProcessIdentity {
                inner: tether::ProcessIdentity::of(pid)?,
            })
        })
    }

    #[napi(getter)]
    pub fn pid(&self) -> u32 {
        self.inner.pid
    }

    /// Start time in clock ticks since boot.
    #[napi(getter)]
    pub fn start_ticks(&self) -> f64 {
        self.inner.start_ticks as f64
    }

    /// The kernel's boot id (32 hex digits; the string form keeps the first 8).
    #[napi(getter)]
    pub fn boot_id(&self) -> String {
        self.inner.boot_id.clone()
    }

    /// The inode of the process's pidfd on pidfs (Linux 6.9+).
    #[napi(getter)]
    pub fn pidfs_inode(&self) -> Option<f64> {
        self.inner.pidfs_inode.map(|i| i as f64)
    }

    /// `same` (it is that process, alive or a zombie), `gone` (it exited, or the machine
    /// rebooted) or `reused` (its PID now names another process), as of now.
    #[napi(ts_return_type = "'same' | 'gone' | 'reused'")]
    pub fn check(&self, env: &Env) -> napi::Result<String> {
        sync(env, || {
            let c: IdentityCheck = self.inner.check()?;
            Ok(json_name(c))
        })
    }

    /// The string form.
    #[napi(js_name = "toString")]
    pub fn to_text(&self) -> String {
        self.inner.to_string()
    }

    /// The string form, so that `JSON.stringify` writes what `parse` reads.
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self) -> String {
        self.inner.to_string()
    }
}
