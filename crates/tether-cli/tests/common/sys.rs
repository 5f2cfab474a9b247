//! The few kernel helpers the end-to-end tests need to build and watch their own cgroups and
//! PID namespaces (the library's `sys` module is private): cgroup files, pidfds, /proc child
//! lists. Test scaffolding only; what the tests check goes through the `tether` binary.

/// cgroup v2 files of the cgroups a test creates.
pub mod cgroup {
    use std::fs::File;
    use std::io;
    use std::os::unix::fs::FileExt;
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    /// Where cgroup v2 is mounted.
    pub fn mount_point() -> Option<&'static Path> {
        tether::contain::cgroup_root()
    }

    /// The cgroup of `pid`, relative to the mount (`/user.slice/...`).
    pub fn cgroup_of(pid: u32) -> io::Result<String> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
        text.lines()
            .find_map(|l| l.strip_prefix("0::"))
            .map(|p| p.trim_end_matches(" (deleted)").to_string())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no cgroup v2 line"))
    }

    /// The directory of a cgroup given relative to the mount.
    pub fn dir_of(rel: &str) -> Option<PathBuf> {
        Some(mount_point()?.join(rel.trim_start_matches('/')))
    }

    /// `cgroup.events` of a cgroup, for [`event_value`] and [`wait_event`].
    pub fn open_events(dir: &Path) -> io::Result<File> {
        File::open(dir.join("cgroup.events"))
    }

    /// Whether `key` (e.g. `populated`) is 1 in cgroup.events.
    pub fn event_value(events: &File, key: &str) -> io::Result<bool> {
        let mut buf = [0u8; 256];
        let n = events.read_at(&mut buf, 0)?;
        let text = String::from_utf8_lossy(&buf[..n]);
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim() == "1"))
            .unwrap_or(false))
    }

    /// Wait until `key` has value `want` or `deadline` passes: the kernel wakes pollers of
    /// cgroup.events with POLLPRI on every change. Returns whether it did.
    pub fn wait_event(
        events: &File,
        key: &str,
        want: bool,
        deadline: Option<Instant>,
    ) -> io::Result<bool> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        loop {
            if event_value(events, key)? == want {
                return Ok(true);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(false);
            }
            let ts = left.map(|l| Timespec {
                tv_sec: l.as_secs() as _,
                tv_nsec: l.subsec_nanos() as _,
            });
            let mut fds = [PollFd::new(events, PollFlags::PRI)];
            match poll(&mut fds, ts.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The PIDs in a cgroup and all cgroups below it.
    pub fn procs_recursive(dir: &Path) -> io::Result<Vec<u32>> {
        let text = std::fs::read_to_string(dir.join("cgroup.procs"))?;
        let mut out: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            if e.file_type()?.is_dir() {
                if let Ok(mut more) = procs_recursive(&e.path()) {
                    out.append(&mut more);
                }
            }
        }
        Ok(out)
    }

    /// Kill everything in the cgroup and below (`cgroup.kill`).
    pub fn kill_all(dir: &Path) -> io::Result<()> {
        std::fs::write(dir.join("cgroup.kill"), "1")
    }
}

/// pidfds, so that a test signals only the process it means.
pub mod pidfd {
    use std::io;
    use std::os::fd::{AsFd, OwnedFd};

    /// A pidfd on `pid`.
    pub fn open(pid: u32) -> io::Result<OwnedFd> {
        let pid = rustix::process::Pid::from_raw(pid as i32)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(rustix::process::pidfd_open(
            pid,
            rustix::process::PidfdFlags::empty(),
        )?)
    }

    /// Send signal number `sig` through a pidfd.
    pub fn send_signal(fd: impl AsFd, sig: i32) -> io::Result<()> {
        let sig = rustix::process::Signal::from_named_raw(sig)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(rustix::process::pidfd_send_signal(fd, sig)?)
    }
}

/// Parent and child links from /proc.
pub mod family {
    /// What /proc/PID/stat says of a process's state.
    pub struct Parentage {
        /// The state letter (`R`, `S`, `Z`, …).
        pub state: u8,
    }

    impl Parentage {
        /// Not a zombie (nor dead).
        pub fn alive(&self) -> bool {
            self.state != b'Z' && self.state != b'X'
        }
    }

    /// The state of `pid`, or `None` when it is gone.
    pub fn parentage(pid: u32) -> Option<Parentage> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let state = stat.rsplit_once(')')?.1.trim_start().bytes().next()?;
        Some(Parentage { state })
    }

    /// Call `f` with each child of `pid` (the children files of all its threads).
    pub fn for_each_child(pid: u32, f: &mut dyn FnMut(u32)) {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return;
        };
        for t in tasks.flatten() {
            let Ok(text) = std::fs::read_to_string(t.path().join("children")) else {
                continue;
            };
            for c in text.split_whitespace().filter_map(|c| c.parse().ok()) {
                f(c);
            }
        }
    }
}
