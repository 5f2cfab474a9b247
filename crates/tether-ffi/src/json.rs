//! JSON across the boundary: query documents in, reports out.

use std::ffi::c_char;

use tether::{Error, ErrorKind};
use tether_report::query::{parse, Query};
use tether_report::{tagged, Report};

use crate::error::Failure;
use crate::strings::arg;

/// A query document argument (see `tether_report::query::parse`).
///
/// # Safety
/// As [`arg`].
pub(crate) unsafe fn query<Q: Query>(p: *const c_char) -> Result<Q, Failure> {
    // SAFETY: the caller's contract.
    let text = unsafe { arg(p, "query") }?;
    Ok(parse(text)?)
}

/// A report as its JSON document, `schema` first.
pub(crate) fn report<R: Report>(r: &R) -> Result<String, Failure> {
    serde_json::to_string(&tagged(r)).map_err(|e| {
        Error::new(
            ErrorKind::System,
            format!("writing a {} document: {e}", R::SCHEMA),
        )
        .into()
    })
}
