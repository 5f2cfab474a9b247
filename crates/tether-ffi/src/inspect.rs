//! Snapshots and single lookups: `tether.ps-query/v1` → `tether.ps/v1`,
//! `tether.get-query/v1` → `tether.info/v1`.

use std::ffi::c_char;

use tether::inspect::{ancestors, get, snapshot, Field, FieldSet};
use tether::signal::{Resolved, Target};
use tether::{Error, ProcessIdentity};
use tether_report::query::{GetQuery, PsQuery};
use tether_report::{InfoReport, PsReport};

use crate::error::{call_string, Failure};
use crate::json::{query, report};

/// List processes. `query_json` is a `tether.ps-query/v1` document, e.g.
/// `{"schema":"tether.ps-query/v1","fields":["pid","name"],"filter":{"name":{"exact":"sshd"}}}`
/// (fields: the names of `tether ps --fields`, absent = all but env, [] = the PID only;
/// filter: pids, name {exact|substring|regex}, cmdline (regex), uid or user, ppid, pgid, sid,
/// states, min_cpu_percent, min_rss_bytes, min_age_ms; cpu_sample_ms). `*out` receives a
/// `tether.ps/v1` document, processes sorted by PID. No match is an empty list.
///
/// # Safety
/// `query_json` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_snapshot(query_json: *const c_char, out: *mut *mut c_char) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let q: PsQuery = query(query_json)?;
            report(&PsReport::from(snapshot(&q.to_query()?)?))
        })
    }
}

/// One process's record. `query_json` is a `tether.get-query/v1` document:
/// `{"schema":"tether.get-query/v1","target":"4242"}` (a PID or an identity string; optional
/// `fields` as in `tether.ps-query/v1`). `*out` receives a `tether.info/v1` document: the
/// record, the identity (taken on a pidfd, with the pidfs inode where the kernel has one) and
/// the ancestors' PIDs. Errors: `TETHER_E_NOT_FOUND` (no such process, a thread id, exited),
/// `TETHER_E_IDENTITY_MISMATCH` (the identity's PID now names another process).
///
/// # Safety
/// `query_json` is NULL or a NUL-terminated string; `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn tether_get(query_json: *const c_char, out: *mut *mut c_char) -> i32 {
    // SAFETY: the caller's contract.
    unsafe {
        call_string(out, || {
            let q: GetQuery = query(query_json)?;
            let (target, mut fields) = q.to_query()?;
            let identity = running(&target)?;
            let pid = identity.pid;
            // Read with the identity of the same stat read, so that the record is known to
            // describe the process identified (and not one that took its PID meanwhile).
            fields.insert(Field::Identity);
            let mut process = get(pid, fields)?;
            if process.identity.as_ref().map(|i| i.start_ticks) != Some(identity.start_ticks) {
                return Err(
                    Error::not_found(format!("process {pid} exited while being read")).into(),
                );
            }
            process.identity = Some(identity.clone());
            let ancestors = ancestors(pid, FieldSet::empty())?
                .iter()
                .map(|p| p.pid)
                .collect();
            report(&InfoReport::new(process, identity, ancestors))
        })
    }
}

/// The identity of the running process a target names, taken on a pidfd (with the pidfs inode
/// where the kernel has one): `NotFound` when it has exited, `IdentityMismatch` when an
/// identity's PID now names another process.
pub(crate) fn running(target: &Target) -> Result<ProcessIdentity, Failure> {
    match target.resolve()? {
        Resolved::Alive(fd, id) => Ok(ProcessIdentity::of_pidfd(id.pid, &fd)?),
        _ => Err(Error::not_found(format!("process {} has exited", target.pid())).into()),
    }
}
