//! `AbortSignal`s, as the waits take them: the listening is JavaScript (`watchAbort` of
//! `glue.js`); an abort runs a Rust closure on the JavaScript thread (which raises the wait's
//! canceller), and the promise then rejects with `signal.reason`, as `fetch` and the timers do.

use napi::bindgen_prelude::{
    FnArgs, Function, JsObjectValue, Object, ObjectRef, ToNapiValue, Unknown,
};
use napi::Env;
use tether::ready::Cancel;

use crate::error::{sync, Fail, Result};
use crate::{instance, promise};

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

/// A promise for blocking `work`, run on a thread of its own named `name`, that an
/// `AbortSignal` or this environment going away (a terminated worker) cancels.
///
/// - `prepare`, on this thread, checks the arguments, given the canceller (for the library's
///   options), and gives `work`'s input and the signal. An error, or a signal that has
///   aborted already, rejects at once and runs nothing.
/// - `work` runs with the input and the canceller; `cancelled` says, on that thread, whether
///   the cancel is what ended it: the promise then rejects with `signal.reason`.
/// - Otherwise the promise settles with `finish` of `work`'s result.
pub(crate) fn spawn<'env, 'a, I, T, V>(
    env: &'env Env,
    name: &str,
    prepare: impl FnOnce(&Cancel) -> Result<(I, Option<Unknown<'a>>)>,
    work: impl FnOnce(I, &Cancel) -> Result<T> + Send + 'static,
    cancelled: impl FnOnce(&Result<T>, &Cancel) -> bool + Send + 'static,
    finish: impl FnOnce(Result<T>) -> Result<V> + Send + 'static,
) -> napi::Result<Object<'env>>
where
    I: Send + 'static,
    T: Send + 'static,
    V: ToNapiValue + 'static,
{
    let prepared = sync(env, || {
        let cancel = Cancel::new()?;
        let (input, signal) = prepare(&cancel)?;
        let c = cancel.clone();
        let handle = listen(env, signal, move || c.cancel())?;
        Ok((input, cancel, handle))
    });
    let (input, cancel, handle) = match prepared {
        Ok(p) => p,
        Err(e) => return promise::rejected(env, Fail::Napi(e)),
    };
    let c = cancel.clone();
    let id = instance::wait_started(env, move || c.cancel())?;
    promise::spawn(
        env,
        name,
        move || {
            let result = work(input, &cancel);
            let by_cancel = cancelled(&result, &cancel);
            Ok((result, by_cancel))
        },
        move |env, settled| {
            instance::wait_ended(env, id)?;
            let (result, by_cancel) = settled.unwrap_or_else(|fail| (Err(fail), false));
            self::finish(env, handle, by_cancel)?;
            finish(result)
        },
    )
}
