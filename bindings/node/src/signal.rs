//! Signal names and numbers.

use napi::bindgen_prelude::Unknown;
use napi::{Env, ValueType};
use napi_derive::napi;
use tether::signal::Signal;

use crate::args;
use crate::error::{sync, Result};

/// A signal.
#[napi(object, object_from_js = false)]
pub struct SignalInfo {
    pub number: i32,
    /// Without `SIG`, as `kill -l` spells it: `TERM`, `RTMIN+3`.
    pub name: String,
}

/// A signal given as a number (`15`) or a name (`'TERM'`, `'SIGTERM'`, `'term'`, `'RTMIN+2'`,
/// `'15'`); an unknown one is an `InvalidArgumentError`.
pub(crate) fn parse(v: &Unknown) -> Result<Signal> {
    if v.get_type().ok() == Some(ValueType::Number) {
        let n = args::integer_in(
            args::number(v, "signal")?,
            i32::MIN as i64,
            i32::MAX as i64,
            "signal",
        )?;
        return Ok(Signal::from_number(n as i32)?);
    }
    Ok(args::string(v, "signal")?.parse::<Signal>()?)
}

/// The number of a signal given by name or number.
#[napi(ts_args_type = "signal: string | number")]
pub fn signal_number(env: &Env, signal: Unknown) -> napi::Result<i32> {
    sync(env, || Ok(parse(&signal)?.number()))
}

/// The name (without `SIG`) of a signal given by name or number.
#[napi(ts_args_type = "signal: string | number")]
pub fn signal_name(env: &Env, signal: Unknown) -> napi::Result<String> {
    sync(env, || Ok(parse(&signal)?.name()))
}

/// Every signal of this system, in number order (as `kill -l` lists them).
#[napi]
pub fn signals() -> Vec<SignalInfo> {
    Signal::all()
        .map(|s| SignalInfo {
            number: s.number(),
            name: s.name(),
        })
        .collect()
}
