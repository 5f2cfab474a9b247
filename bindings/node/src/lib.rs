//! The Node.js binding of tether (napi-rs): process snapshots, ports and their owners,
//! readiness waits cancelled by an `AbortSignal`, signal names and process identities,
//! `Process` handles, contained `run`/`spawn`, PID files, background `Jobs` and `retry`, in
//! camelCase. Everything that can block returns a promise settled from a thread of its own.
//! Library errors are `TetherError`s of their kind (`NotFoundError`, …, code `TETHER_<KIND>`);
//! the classes and the AbortSignal listening are JavaScript, in `glue.js`.

// napi-derive compiles its registrations out of test builds (`cargo clippy --all-targets`),
// which leaves everything they call unused there.
#![cfg_attr(test, allow(dead_code, unused_imports))]

mod abort;
mod args;
mod command;
mod error;
mod identity;
mod inspect;
mod instance;
mod jobs;
mod json;
mod net;
mod pidfile;
mod process;
mod promise;
mod ready;
mod results;
mod retry;
mod signal;

use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;

/// The version of tether (the library and this package).
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[napi(module_exports)]
pub fn init(mut exports: Object, env: Env) -> napi::Result<()> {
    instance::install(&env, &mut exports)
}

/// The JSON name of a library value (`sleeping`, `timed_out`, `sock_diag`): the names the
/// library's serde forms give, so that the binding never spells them twice.
pub(crate) fn json_name<T: serde::Serialize>(v: T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
