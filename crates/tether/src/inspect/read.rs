//! Reading one process record from /proc, in stages that let filters reject early.

use std::io;

use super::fields::{Field, FieldSet};
use super::filter::{Filter, Stage};
use super::info::{ProcessInfo, ProcessState};
use super::ENV_MAX_BYTES;
use crate::identity::ProcessIdentity;
use crate::sys::os::{clock, proc::ProcReader, users};

/// Whether an error means "the process is gone" (it exited between listing and reading).
pub(crate) fn is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH))
        || e.kind() == io::ErrorKind::NotFound
}

/// Read `pid` with `fields`; `Ok(None)` when the filter rejects it. Errors (notably "gone") are
/// left to the caller to judge.
pub(crate) fn read_process(
    r: &mut ProcReader,
    pid: u32,
    fields: FieldSet,
    filter: &Filter,
) -> io::Result<Option<ProcessInfo>> {
    let mut p = ProcessInfo {
        pid,
        ..Default::default()
    };
    if fields.needs_stat() {
        let st = r.stat(pid)?;
        let now = clock::now_ticks();
        let elapsed_ticks = now.saturating_sub(st.starttime);
        let want = |f| fields.has(f);
        p.ppid = want(Field::Ppid).then_some(st.ppid);
        p.pgid = want(Field::Pgid).then_some(st.pgrp);
        p.sid = want(Field::Sid).then_some(st.session);
        if want(Field::Tty) {
            p.tty = crate::sys::os::proc::tty_name(st.tty_nr);
        }
        p.state = want(Field::State).then(|| ProcessState::from_letter(st.state));
        if want(Field::Start) {
            p.start_ticks = Some(st.starttime);
            p.start_time_ms = Some(clock::boot_unix_ms() + clock::ticks_to_ms(st.starttime));
        }
        p.elapsed_ms = want(Field::Elapsed).then(|| clock::ticks_to_ms(elapsed_ticks));
        p.rss_bytes = want(Field::Rss).then(|| st.rss_pages * clock::page_size());
        p.vsize_bytes = want(Field::Vsz).then_some(st.vsize);
        if want(Field::CpuTime) {
            p.cpu_user_ms = Some(clock::ticks_to_ms(st.utime));
            p.cpu_system_ms = Some(clock::ticks_to_ms(st.stime));
        }
        if want(Field::Cpu) {
            let used = (st.utime + st.stime) as f64;
            p.cpu_percent = Some(if elapsed_ticks == 0 {
                0.0
            } else {
                used * 100.0 / elapsed_ticks as f64
            });
        }
        p.threads = want(Field::Threads).then_some(st.num_threads);
        if want(Field::Identity) {
            p.identity = Some(ProcessIdentity::from_parts(pid, st.starttime).to_string());
        }
        p.name = want(Field::Name).then_some(st.comm);
        if !filter.check(&p, Stage::Stat) {
            return Ok(None);
        }
    }
    if fields.has(Field::Uid) || fields.has(Field::User) {
        let uid = r.owner_uid(pid)?;
        p.uid = Some(uid);
        if !filter.check(&p, Stage::Uid) {
            return Ok(None);
        }
        if fields.has(Field::User) {
            p.user = users::name_of(uid).or_else(|| Some(uid.to_string()));
        }
        if !fields.has(Field::Uid) {
            p.uid = None;
        }
    }
    if fields.has(Field::Cmdline) {
        p.cmdline = Some(r.cmdline(pid)?);
        if !filter.check(&p, Stage::Cmdline) {
            return Ok(None);
        }
    }
    if fields.has(Field::Exe) {
        p.exe = r.exe(pid)?;
    }
    if fields.has(Field::Env) {
        match r.environ(pid, ENV_MAX_BYTES) {
            Ok((env, cut)) => {
                p.environ = Some(env);
                p.environ_truncated = Some(cut);
            }
            Err(e) if is_gone(&e) => return Err(e),
            // Not ours to read (another user's process): absent, not an error for the snapshot.
            Err(_) => {}
        }
    }
    Ok(Some(p))
}
