//! Reading one process record from /proc, in stages that let filters reject early.

use std::io;
use std::time::Duration;

use super::fields::{Field, FieldSet};
use super::filter::{Filter, Stage};
use super::info::{ProcessInfo, ProcessState};
use super::ENV_MAX_BYTES;
use crate::identity::ProcessIdentity;
use crate::sys::os::{clock, pidfd, proc::ProcReader, users};

/// Whether an error means "the process is gone" (it exited between listing and reading).
pub(crate) fn is_gone(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH))
        || e.kind() == io::ErrorKind::NotFound
}

/// Whether an error means "not ours to read" (another user's process).
fn is_denied(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied
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
    let wants_uid = fields.has(Field::Uid) || fields.has(Field::User);
    let mut owner = None;
    if fields.needs_stat() {
        // The pidfd is opened before stat is read, so that the inode and the start time cannot
        // come from two different processes that had this PID one after the other.
        let inode = if fields.has(Field::Identity) {
            pidfd::inode_of(pid)
        } else {
            None
        };
        let (st, uid) = r.stat_owned(pid, wants_uid)?;
        owner = uid;
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
            let ms = clock::boot_unix_ms() + clock::ticks_to_ms(st.starttime);
            p.start_time = Some(std::time::UNIX_EPOCH + Duration::from_millis(ms));
        }
        p.elapsed =
            want(Field::Elapsed).then(|| Duration::from_millis(clock::ticks_to_ms(elapsed_ticks)));
        p.rss_bytes = want(Field::Rss).then(|| st.rss_pages * clock::page_size());
        p.vsize_bytes = want(Field::Vsz).then_some(st.vsize);
        if want(Field::CpuTime) {
            p.cpu_user = Some(Duration::from_millis(clock::ticks_to_ms(st.utime)));
            p.cpu_system = Some(Duration::from_millis(clock::ticks_to_ms(st.stime)));
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
            let mut id = ProcessIdentity::from_parts(pid, st.starttime);
            id.pidfs_inode = inode;
            p.identity = Some(id);
        }
        p.name = want(Field::Name).then_some(st.comm);
        if !filter.check(&p, Stage::Stat) {
            return Ok(None);
        }
    }
    if wants_uid {
        let uid = match owner {
            Some(uid) => uid,
            None => r.owner_uid(pid)?,
        };
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
    // Another user's exe and environment are not ours to read: absent, with the field named
    // in `denied` so that the absence is not mistaken for "there is none".
    if fields.has(Field::Exe) {
        match r.exe(pid) {
            Ok(exe) => p.exe = exe,
            Err(e) if is_denied(&e) => p.denied.push(Field::Exe.name().into()),
            Err(e) => return Err(e),
        }
    }
    if fields.has(Field::Env) {
        match r.environ(pid, ENV_MAX_BYTES) {
            Ok((env, cut)) => {
                p.environ = Some(env);
                p.environ_truncated = Some(cut);
            }
            Err(e) if is_denied(&e) => p.denied.push(Field::Env.name().into()),
            Err(e) => return Err(e),
        }
    }
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::snapshot::{get, snapshot, Query};

    /// A fake /proc with one kernel thread: stat, an empty cmdline, and no exe link.
    #[test]
    fn kernel_thread_fixture_has_no_exe_or_cmdline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("2");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(
            p.join("stat"),
            "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 5 0 0 20 0 1 0 1 0 0 18446744073709551615\n",
        )
        .unwrap();
        std::fs::write(p.join("cmdline"), "").unwrap();
        let mut r = ProcReader::at(dir.path()).unwrap();
        assert_eq!(r.pids().unwrap(), vec![2]);
        let info = read_process(&mut r, 2, FieldSet::standard(), &Filter::default())
            .unwrap()
            .unwrap();
        assert_eq!(info.name.as_deref(), Some("kthreadd"));
        assert_eq!(info.cmdline, Some(vec![]));
        assert_eq!(info.exe, None);
        assert_eq!(info.command(), "[kthreadd]");
        assert_eq!(info.rss_bytes, Some(0));
        // A PID listed but gone by the time it is read is "gone", not garbage.
        let e = read_process(&mut r, 3, FieldSet::standard(), &Filter::default()).unwrap_err();
        assert!(is_gone(&e));
    }

    #[test]
    fn zombie_is_reported_as_such() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Wait for the exit without reaping: the pidfd turns readable, the child stays a zombie.
        let p = crate::Process::open(pid).unwrap();
        assert!(p.wait(None).unwrap().exited());
        let info = get(pid, FieldSet::standard()).unwrap();
        assert_eq!(info.state, Some(ProcessState::Zombie));
        assert_eq!(info.cmdline, Some(vec![]));
        assert_eq!(info.exe, None);
        drop(child); // std does not reap on drop; reap explicitly
        rustix::process::waitpid(
            rustix::process::Pid::from_raw(pid as i32),
            rustix::process::WaitOptions::empty(),
        )
        .unwrap();
    }

    #[test]
    fn vanished_processes_do_not_fail_a_snapshot() {
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let gone_pid = gone.id();
        gone.wait().unwrap();
        let me = std::process::id();
        let q = Query {
            fields: FieldSet::standard(),
            filter: Filter {
                pids: Some(vec![gone_pid, me]),
                ..Default::default()
            },
            cpu_sample: None,
        };
        let list = snapshot(&q).unwrap();
        assert_eq!(list.iter().map(|p| p.pid).collect::<Vec<_>>(), vec![me]);

        // Processes come and go while full snapshots are taken.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churn = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::process::Command::new("true").status().unwrap();
                    n += 1;
                }
                n
            })
        };
        for _ in 0..30 {
            let all = snapshot(&Query {
                fields: FieldSet::standard(),
                ..Default::default()
            })
            .unwrap();
            assert!(all.iter().any(|p| p.pid == me));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(churn.join().unwrap() > 0);
    }
}
