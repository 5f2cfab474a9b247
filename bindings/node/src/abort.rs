//! `AbortSignal`s, as the waits take them: the listening is JavaScript (`watchAbort` of
//! `glue.js`); an abort runs a Rust closure on the JavaScript thread (which raises the wait's
//! canceller), and the promise then rejects with `signal.reason`, as `fetch` and the timers do.

use napi::bindgen_prelude::{FnArgs, Function, JsObjectValue, Object, ObjectRef, Unknown};
use napi::Env;

use crate::error::{Fail, Result};
use crate::instance;

/// What listening to the signal gave: it had aborted already (with this reason), or a handle
/// (`{ done(), reason() }` of `glue.js`) to settle when the wait ends.
pub(crate) enum Abort<'env> {
    Already(Unknown<'env>),
    Watching(ObjectRef<false>),
}

/// Call `on_abort` (on the JavaScript thread) when `signal` aborts.
pub(crate) fn watch<'env>(
    env: &'env Env,
    signal: Unknown,
    on_abort: impl Fn() + 'static,
) -> Result<Abort<'env>> {
    let on_abort = env.create_function_from_closure("cancel", move |_| {
        on_abort();
        Ok(())
    })?;
    type WatchAbort<'a> = Function<'a, FnArgs<(Unknown<'a>, Function<'a, (), ()>)>, Object<'a>>;
    let watch: WatchAbort = instance::function(env, "watchAbort")?;
    let handle = watch.call((signal, on_abort).into())?;
    if handle.get_named_property::<bool>("aborted")? {
        Ok(Abort::Already(handle.get_named_property("reason")?))
    } else {
        Ok(Abort::Watching(handle.create_ref()?))
    }
}

/// Remove the abort listener; the abort reason when the wait was cancelled by it.
pub(crate) fn settle<'env>(
    env: &'env Env,
    handle: ObjectRef<false>,
    cancelled: bool,
) -> Result<Option<Unknown<'env>>> {
    let h = handle.get_value(env)?;
    handle.unref(env)?;
    let done: Function<(), ()> = h.get_named_property("done")?;
    done.call(())?;
    if !cancelled {
        return Ok(None);
    }
    let reason: Function<(), Unknown> = h.get_named_property("reason")?;
    Ok(Some(reason.call(())?))
}

/// A value to reject with, exactly as it is (an abort reason may be any value).
pub(crate) fn rejection(reason: Unknown) -> Fail {
    Fail::Napi(napi::Error::from_unknown_without_coercion(reason))
}

/// Listen to an optional signal: `Err` with the rejection when it has aborted already.
pub(crate) fn listen(
    env: &Env,
    signal: Option<Unknown>,
    on_abort: impl Fn() + 'static,
) -> Result<Option<ObjectRef<false>>> {
    match signal {
        None => Ok(None),
        Some(s) => match watch(env, s, on_abort)? {
            Abort::Already(reason) => Err(rejection(reason)),
            Abort::Watching(h) => Ok(Some(h)),
        },
    }
}

/// At the end of a wait: remove the listener; `Err` with the abort reason when `cancelled`.
pub(crate) fn finish(env: &Env, handle: Option<ObjectRef<false>>, cancelled: bool) -> Result<()> {
    if let Some(h) = handle {
        if let Some(reason) = settle(env, h, cancelled)? {
            return Err(rejection(reason));
        }
    }
    Ok(())
}
