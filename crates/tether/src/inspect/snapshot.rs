//! Snapshots of all processes, and single lookups.

use std::time::Duration;

use super::cpu::sample_cpu;
use super::fields::{Field, FieldSet};
use super::filter::Filter;
use super::info::ProcessInfo;
use super::read::{is_gone, read_process};
use crate::error::{Error, Result};
use crate::sys::os::proc::ProcReader;

/// What to read and which processes to keep: start from [`Query::default`] (or
/// [`Query::new`]) and set what differs.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Query {
    /// Fields to return. Filters add what they need for reading, but those extra fields are
    /// still returned (they were read anyway).
    pub fields: FieldSet,
    /// Which processes to keep (and which not to read at all).
    pub filter: Filter,
    /// Sample CPU use over this interval instead of the lifetime average.
    pub cpu_sample: Option<Duration>,
}

impl Query {
    /// Read `fields` of the processes that pass `filter`.
    pub fn new(fields: FieldSet, filter: Filter) -> Query {
        Query {
            fields,
            filter,
            cpu_sample: None,
        }
    }
}

/// All processes that pass the filter, sorted by PID. Processes that exit while being read are
/// skipped; only a failure to list /proc itself is an error.
pub fn snapshot(q: &Query) -> Result<Vec<ProcessInfo>> {
    let mut r = open_proc()?;
    let pids = match &q.filter.pids {
        // /proc answers for thread ids too, though it lists only processes: keep to processes.
        Some(list) => list
            .iter()
            .copied()
            .filter(|&p| thread_group_of(p).is_none())
            .collect(),
        None => r.pids().map_err(|e| Error::from_io("listing /proc", &e))?,
    };
    let fields = q.fields.union(q.filter.needed_fields());
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let mut out = if threads > 1 && pids.len() >= PARALLEL_MIN {
        // Nearly all the cost is the kernel generating /proc files, which scales with cores.
        let chunk = pids.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = pids
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || -> Result<Vec<ProcessInfo>> {
                        let mut r = open_proc()?;
                        Ok(read_all(&mut r, part, fields, &q.filter))
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(pids.len());
            for h in handles {
                match h.join() {
                    Ok(part) => all.extend(part?),
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
            Ok::<_, Error>(all)
        })?
    } else {
        read_all(&mut r, &pids, fields, &q.filter)
    };
    if let Some(interval) = q.cpu_sample.filter(|_| fields.has(Field::Cpu)) {
        let pids: Vec<u32> = out.iter().map(|p| p.pid).collect();
        let sampled = sample_cpu(&pids, interval)?;
        // Keep only processes whose sample is valid (same identity at both ends).
        out.retain_mut(|p| match sampled.get(&p.pid) {
            Some(c) => {
                p.cpu_percent = Some(*c);
                true
            }
            None => false,
        });
    }
    out.retain(|p| q.filter.check_cpu(p));
    out.sort_unstable_by_key(|p| p.pid);
    Ok(out)
}

/// Below this many processes a snapshot is read on one thread.
const PARALLEL_MIN: usize = 512;

fn read_all(
    r: &mut ProcReader,
    pids: &[u32],
    fields: FieldSet,
    filter: &Filter,
) -> Vec<ProcessInfo> {
    let mut out = Vec::with_capacity(pids.len());
    for &pid in pids {
        // Vanished, or not ours to read: neither fails the snapshot.
        if let Ok(Some(p)) = read_process(r, pid, fields, filter) {
            out.push(p);
        }
    }
    out
}

/// One process with `fields`; `NotFound` when there is no such process.
pub fn get(pid: u32, fields: FieldSet) -> Result<ProcessInfo> {
    let mut r = open_proc()?;
    match read_process(&mut r, pid, fields, &Filter::default()) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(Error::not_found(format!("no process {pid}"))),
        Err(e) if is_gone(&e) => Err(Error::not_found(format!("no process {pid}"))),
        Err(e) => Err(Error::from_io(format_args!("reading process {pid}"), &e)),
    }
}

/// When `pid` is the id of a thread rather than of a process, the process it belongs to (its
/// thread group id); `None` for a process, or for an id that names nothing.
pub fn thread_group_of(pid: u32) -> Option<u32> {
    let tgid = open_proc().ok()?.tgid(pid).ok()?;
    (tgid != pid).then_some(tgid)
}

pub(crate) fn open_proc() -> Result<ProcReader> {
    ProcReader::new().map_err(|e| Error::from_io("opening /proc", &e))
}
