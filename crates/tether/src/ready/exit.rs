//! `exit:PID|IDENTITY`: the process is gone, seen through its pidfd.

use std::os::fd::{BorrowedFd, OwnedFd};

use super::{borrow, Check, Cx, Next, Status};
use crate::error::{ErrorKind, Result};
use crate::identity::ProcessIdentity;
use crate::sys::os::pidfd;

pub(crate) struct ExitCheck {
    pid: u32,
    /// `None` when the process was already gone (or its PID reused) at the start.
    fd: Option<OwnedFd>,
}

impl ExitCheck {
    pub fn new(pid: u32, identity: Option<&ProcessIdentity>) -> Result<Self> {
        let opened = match identity {
            Some(id) => id.open(),
            None => pidfd::open(pid),
        };
        let fd = match opened {
            Ok(fd) => Some(fd),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::IdentityMismatch) => None,
            Err(e) => return Err(e),
        };
        Ok(ExitCheck { pid, fd })
    }
}

impl Check for ExitCheck {
    fn check(&mut self, _cx: &Cx) -> Status {
        match &self.fd {
            None => Status::Ready,
            Some(fd) if !pidfd::is_alive(fd).unwrap_or(true) => Status::Ready,
            Some(_) => Status::NotReady(format!("process {} is running", self.pid)),
        }
    }

    fn next(&self, _cx: &Cx) -> Next {
        Next::Event
    }

    fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(borrow)
    }
}
