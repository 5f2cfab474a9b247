//! `cmd:COMMAND`: `sh -c COMMAND` exits 0. A run in progress is waited for through its pidfd;
//! the next run starts after the backoff delay. A run that takes longer than the attempt
//! timeout, or is still going when the wait ends, is killed with its process group (which this
//! check created).

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Check, Cx, Next, Status};
use crate::process::Process;

pub(crate) struct CmdCheck {
    command: String,
    /// The run in progress, its handle (for its pidfd) and when it must be done by.
    running: Option<(Child, Process, Option<Instant>)>,
    runs: u64,
    /// Longest a run may take.
    limit: Option<Duration>,
}

impl CmdCheck {
    pub fn new(command: &str, limit: Option<Duration>) -> Self {
        CmdCheck {
            command: command.to_string(),
            running: None,
            runs: 0,
            limit,
        }
    }

    /// Kill the run in progress with its process group, and reap it.
    fn kill_run(&mut self) {
        if let Some((mut child, _, _)) = self.running.take() {
            // The group was created by this check with the child as leader (never 0 or 1).
            if let Some(pg) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process_group(pg, rustix::process::Signal::KILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Check for CmdCheck {
    fn check(&mut self, _cx: &Cx) -> Status {
        if let Some((child, _, due)) = self.running.as_mut() {
            return match child.try_wait() {
                Ok(None) if due.is_some_and(|d| Instant::now() >= d) => {
                    self.kill_run();
                    Status::NotReady(format!(
                        "run {} took longer than {}, killed",
                        self.runs,
                        super::fmt_duration(self.limit.unwrap_or_default())
                    ))
                }
                Ok(None) => Status::NotReady(format!("run {} still going", self.runs)),
                Ok(Some(st)) => {
                    self.running = None;
                    if st.success() {
                        Status::Ready
                    } else if let Some(sig) = st.signal() {
                        Status::NotReady(format!("killed by signal {sig}"))
                    } else {
                        Status::NotReady(format!("exit status {}", st.code().unwrap_or(-1)))
                    }
                }
                Err(e) => {
                    self.running = None;
                    Status::NotReady(format!("waiting for the command: {e}"))
                }
            };
        }
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        match c.spawn() {
            Ok(child) => {
                self.runs += 1;
                match Process::open(child.id()) {
                    Ok(p) => {
                        let due = self.limit.map(|l| Instant::now() + l);
                        self.running = Some((child, p, due));
                        // It may already be done; the pidfd wakes us otherwise.
                        self.check(_cx)
                    }
                    Err(e) => Status::NotReady(e.to_string()),
                }
            }
            Err(e) => Status::Fatal(format!("cannot run /bin/sh: {e}")),
        }
    }

    fn next(&self, cx: &Cx) -> Next {
        match &self.running {
            Some((_, _, Some(due))) => Next::At(*due),
            Some((_, _, None)) => Next::Event,
            None => Next::Backoff(cx.opts.interval),
        }
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.running.as_ref().map(|(_, p, _)| p.as_fd())
    }

    fn attempts(&self) -> Option<u64> {
        Some(self.runs)
    }
}

impl Drop for CmdCheck {
    fn drop(&mut self) {
        self.kill_run();
    }
}
