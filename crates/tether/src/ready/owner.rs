//! `owner:PORT=PID`: the port's listening socket is held by PID or one of its descendants, so a
//! stale server left on the port does not count.

use super::{Check, Cx, Next, Status};
use crate::inspect::{descendants, FieldSet};
use crate::net::{port_held_by, port_in_use, Proto};
use crate::process::Process;

pub(crate) struct OwnerCheck {
    port: u16,
    proto: Proto,
    pid: u32,
    /// Opened when the wait starts: `None` when no process had the PID then. Held, so that a
    /// later process that reuses the PID is never taken for it.
    process: Option<Process>,
    cheap: bool,
}

impl OwnerCheck {
    pub fn new(port: u16, proto: Proto, pid: u32) -> Self {
        OwnerCheck {
            port,
            proto,
            pid,
            process: Process::open(pid).ok(),
            cheap: false,
        }
    }
}

impl Check for OwnerCheck {
    fn check(&mut self, _cx: &Cx) -> Status {
        self.cheap = false;
        match &self.process {
            Some(p) if p.is_running().unwrap_or(true) => {}
            _ => return Status::Fatal(format!("process {} is gone", self.pid)),
        }
        // Cheap first: while nothing listens, no process tree is read.
        match port_in_use(self.port, self.proto) {
            Ok(false) => {
                self.cheap = true;
                return Status::NotReady(format!("nothing listens on port {}", self.port));
            }
            Ok(true) => {}
            Err(e) => return Status::NotReady(e.to_string()),
        }
        let mut tree = vec![self.pid];
        // PIDs are enough: the holders are matched against them as the socket table lists them.
        match descendants(self.pid, None, FieldSet::empty()) {
            Ok(d) => tree.extend(d.iter().map(|p| p.pid)),
            Err(e) => return Status::NotReady(e.to_string()),
        }
        match port_held_by(self.port, self.proto, &tree) {
            Ok(Some(true)) => {}
            Ok(Some(false)) => {
                return Status::NotReady(format!(
                    "port {} is held by a process outside the tree of {}",
                    self.port, self.pid
                ))
            }
            Ok(None) => return Status::NotReady(format!("nothing listens on port {}", self.port)),
            Err(e) => return Status::NotReady(e.to_string()),
        }
        Status::Ready
    }

    fn next(&self, cx: &Cx) -> Next {
        Next::network(self.cheap, cx)
    }
}
