//! `exit:PID|IDENTITY`: the process is gone, seen through its pidfd.

use std::os::fd::{AsFd, BorrowedFd};

use super::{Check, Cx, Next, Status};
use crate::error::{ErrorKind, Result};
use crate::identity::ProcessIdentity;
use crate::process::Process;

pub(crate) struct ExitCheck {
    pid: u32,
    /// `None` when the process was already gone (or its PID reused) at the start.
    process: Option<Process>,
}

impl ExitCheck {
    pub fn new(pid: u32, identity: Option<&ProcessIdentity>) -> Result<Self> {
        let opened = match identity {
            Some(id) => Process::from_identity(id),
            None => Process::open(pid),
        };
        let process = match opened {
            Ok(p) => Some(p),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IdentityMismatch) => None,
            Err(e) => return Err(e),
        };
        Ok(ExitCheck { pid, process })
    }
}

impl Check for ExitCheck {
    fn check(&mut self, _cx: &Cx) -> Status {
        match &self.process {
            None => Status::Ready,
            Some(p) if !p.is_running().unwrap_or(true) => Status::Ready,
            Some(_) => Status::NotReady(format!("process {} is running", self.pid)),
        }
    }

    fn next(&self, _cx: &Cx) -> Next {
        Next::Event
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.process.as_ref().map(|p| p.as_fd())
    }
}
