//! Promises settled from a thread of their own. Blocking work (a snapshot, a port scan, a
//! readiness wait that may last hours) runs on a new thread rather than on libuv's small shared
//! pool, so that long waits never starve `fs` or `dns`, and the event loop never blocks.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{Object, ToNapiValue};
use napi::Env;
use napi::JsDeferred;

use crate::error::{Fail, Result};

/// A promise settled with `finish(env, work())`: `work` runs on a new thread named `name`,
/// `finish` on the JavaScript thread, with `work`'s result, failed or not (to build the value,
/// turn an outcome into a rejection, clean up). A failure or panic rejects the promise with the
/// matching error.
pub(crate) fn spawn<'env, T, V, W, F>(
    env: &'env Env,
    name: &str,
    work: W,
    finish: F,
) -> napi::Result<Object<'env>>
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
    W: FnOnce() -> Result<T> + Send + 'static,
    F: FnOnce(&Env, Result<T>) -> Result<V> + Send + 'static,
{
    let (deferred, promise) = env.create_deferred::<V, Resolver<V>>()?;
    // Shared with the thread so that, should the thread not start, the promise is still
    // settled here (an unsettled deferred would keep the event loop alive for ever), and
    // `finish` still cleans up.
    let slot = Arc::new(Mutex::new(Some((deferred, finish))));
    let theirs = Arc::clone(&slot);
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let result =
                catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|p| Err(Fail::panic(p)));
            if let Some((deferred, finish)) = theirs.lock().ok().and_then(|mut d| d.take()) {
                settle(deferred, finish, result);
            }
        });
    if let Err(e) = thread {
        // Out of threads or memory: the promise rejects with the reason.
        if let Some((deferred, finish)) = slot.lock().ok().and_then(|mut d| d.take()) {
            let fail = Fail::Tether(tether::Error::new(
                tether::ErrorKind::System,
                format!("starting a thread: {e}"),
            ));
            settle(deferred, finish, Err(fail));
        }
    }
    Ok(promise)
}

/// Settle `deferred` with `finish(env, result)`, on the JavaScript thread.
fn settle<T, V, F>(deferred: JsDeferred<V, Resolver<V>>, finish: F, result: Result<T>)
where
    T: Send + 'static,
    V: ToNapiValue + 'static,
    F: FnOnce(&Env, Result<T>) -> Result<V> + Send + 'static,
{
    deferred.resolve(Box::new(move |env: Env| {
        let settled = catch_unwind(AssertUnwindSafe(|| finish(&env, result)))
            .unwrap_or_else(|p| Err(Fail::panic(p)));
        settled.map_err(|fail| fail.into_napi(&env))
    }));
}

/// What settles a promise, on the JavaScript thread.
type Resolver<V> = Box<dyn FnOnce(Env) -> napi::Result<V> + Send>;

/// A promise already rejected with `fail` (bad arguments of a promise-returning function reject,
/// as `fs.promises` does, rather than throw).
pub(crate) fn rejected<'env>(env: &'env Env, fail: Fail) -> napi::Result<Object<'env>> {
    let (deferred, promise) = env.create_deferred::<(), fn(Env) -> napi::Result<()>>()?;
    let error = fail.into_napi(env);
    deferred.reject(error);
    Ok(promise)
}
