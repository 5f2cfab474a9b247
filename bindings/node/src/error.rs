//! Errors as JavaScript sees them. A library error becomes an instance of the `TetherError`
//! subclass of its kind (`NotFoundError`, …) with `code` `TETHER_<KIND>`, `kind` and, when an OS
//! error caused it, `errno`; an argument of the wrong type a `TypeError`, a number out of range a
//! `RangeError`, both with Node's codes (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`,
//! `ERR_OUT_OF_RANGE`). Panics are caught at every entry point and become a `SystemError`.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::bindgen_prelude::{FnArgs, Function, Unknown};
use napi::Env;

use crate::instance;

/// Why a call failed, before it is turned into a JavaScript value on the JavaScript thread.
#[derive(Debug)]
pub(crate) enum Fail {
    /// A library error.
    Tether(tether::Error),
    /// An argument of the wrong type.
    Type(String),
    /// An argument of the right type whose value is not accepted (exclusive options).
    Value(String),
    /// A number outside the accepted range, or not an integer where one is needed.
    Range(String),
    /// An error napi raised, or a JavaScript value to throw as it is.
    Napi(napi::Error),
    /// A panic in the binding or the library: a bug.
    Panic(String),
}

pub(crate) type Result<T, E = Fail> = std::result::Result<T, E>;

impl From<tether::Error> for Fail {
    fn from(e: tether::Error) -> Self {
        Fail::Tether(e)
    }
}

impl From<napi::Error> for Fail {
    fn from(e: napi::Error) -> Self {
        Fail::Napi(e)
    }
}

impl Fail {
    /// From the payload of a caught panic.
    pub(crate) fn panic(payload: Box<dyn Any + Send>) -> Fail {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_string());
        Fail::Panic(what)
    }

    /// The JavaScript error, as a napi error that throws (or rejects with) exactly that value.
    /// Runs on the JavaScript thread.
    pub(crate) fn into_napi(self, env: &Env) -> napi::Error {
        let made = match self {
            Fail::Napi(e) => return e,
            Fail::Tether(e) => tether_error(env, e.kind().as_str(), e.message(), e.raw_os_error()),
            Fail::Panic(what) => tether_error(
                env,
                "system",
                &format!("internal error in tether (please report it): {what}"),
                None,
            ),
            Fail::Type(m) => argument_error(env, false, "ERR_INVALID_ARG_TYPE", &m),
            Fail::Value(m) => argument_error(env, false, "ERR_INVALID_ARG_VALUE", &m),
            Fail::Range(m) => argument_error(env, true, "ERR_OUT_OF_RANGE", &m),
        };
        // When even building the error failed (the environment is going away), napi's own.
        made.map_or_else(|e| e, napi::Error::from)
    }
}

fn tether_error<'env>(
    env: &'env Env,
    kind: &str,
    message: &str,
    errno: Option<i32>,
) -> napi::Result<Unknown<'env>> {
    type Make<'a> = Function<'a, FnArgs<(&'a str, &'a str, Option<i32>)>, Unknown<'a>>;
    let make: Make = instance::function(env, "tetherError")?;
    make.call((kind, message, errno).into())
}

fn argument_error<'env>(
    env: &'env Env,
    range: bool,
    code: &str,
    message: &str,
) -> napi::Result<Unknown<'env>> {
    let make: Function<FnArgs<(bool, &str, &str)>, Unknown> =
        instance::function(env, "argumentError")?;
    make.call((range, code, message).into())
}

/// Run the body of a synchronous entry point: its failure or panic becomes the JavaScript error.
pub(crate) fn sync<T>(env: &Env, body: impl FnOnce() -> Result<T>) -> napi::Result<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(fail)) => Err(fail.into_napi(env)),
        Err(payload) => Err(Fail::panic(payload).into_napi(env)),
    }
}
