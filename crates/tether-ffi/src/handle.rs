//! Opaque handles across the boundary: checked borrows, and the arguments their calls share.

use std::ffi::c_char;
use std::time::Duration;

use tether::inspect::FieldSet;
use tether::terminate::StopOptions;
use tether_report::query::StopQuery;

use crate::error::Failure;
use crate::json::query;

/// A handle argument: `InvalidArgument` when NULL.
///
/// # Safety
/// `p` is NULL or a live handle of this type.
pub(crate) unsafe fn borrow<'a, T>(p: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller's contract.
    unsafe { p.as_ref() }.ok_or_else(|| Failure::invalid(format!("{name} is NULL")))
}

/// A timeout in milliseconds: negative means none (wait as long as it takes).
pub(crate) fn timeout(ms: i64) -> Result<Option<Duration>, Failure> {
    if ms < 0 {
        return Ok(None);
    }
    let max = tether::duration::MAX_DURATION_SECS.saturating_mul(1000);
    if ms as u64 > max {
        return Err(Failure::invalid(format!(
            "timeout_ms {ms} is out of range (at most {max}, or negative for none)"
        )));
    }
    Ok(Some(Duration::from_millis(ms as u64)))
}

/// Stop options from a `tether.stop-query/v1` document; NULL gives the defaults (TERM, 10 s,
/// KILL).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn stop_options(p: *const c_char) -> Result<StopOptions, Failure> {
    if p.is_null() {
        return Ok(StopOptions::default());
    }
    // SAFETY: the caller's contract.
    let q: StopQuery = unsafe { query(p) }?;
    Ok(q.to_options()?)
}

/// A field list, a JSON array of field names (`["pid","name"]`, as `tether.ps-query/v1`'s
/// `fields`); NULL gives every field but the environment.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
pub(crate) unsafe fn fields(p: *const c_char) -> Result<FieldSet, Failure> {
    if p.is_null() {
        return Ok(FieldSet::standard());
    }
    // SAFETY: the caller's contract.
    let text = unsafe { crate::strings::arg(p, "fields_json") }?;
    let names: Vec<String> = serde_json::from_str(text).map_err(|e| {
        Failure::invalid(format!(
            "fields_json: expected a JSON array of field names: {e}"
        ))
    })?;
    let set = names
        .iter()
        .map(|n| n.parse::<tether::inspect::Field>())
        .collect::<tether::Result<Vec<_>>>()?;
    Ok(FieldSet::of(&set))
}
