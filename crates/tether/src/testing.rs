//! Test helpers shared by the unit tests: processes the tests start, and end when dropped (also
//! when an assertion fails).

use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command};
use std::time::Duration;

use crate::sys::os::{family, pidfd};

/// A `sleep 30` child of the test process.
pub(crate) fn sleeper() -> Child {
    Command::new("sleep").arg("30").spawn().unwrap()
}

/// `sh -> sh -> sleep`: a child of the test process (`top`), its child (`middle`) and its
/// grandchild (`leaf`, running `sleep` once built). Dropping it kills all three, the two below
/// the top through pidfds taken while they sleep, so that no reused PID is ever hit.
pub(crate) struct Nested {
    pub top: Child,
    pub middle: u32,
    pub leaf: u32,
    held: Vec<OwnedFd>,
}

impl Nested {
    /// Start it and wait until the leaf runs `sleep`.
    pub fn start() -> Nested {
        let mut top = Command::new("sh")
            .args(["-c", "sh -c 'sleep 30 & wait' & wait"])
            .spawn()
            .unwrap();
        let child_of = |p: u32| {
            let mut kids = Vec::new();
            family::for_each_child(p, &mut |c| kids.push(c));
            kids.first().copied()
        };
        for _ in 0..4000 {
            let leaf = child_of(top.id()).and_then(|m| Some((m, child_of(m)?)));
            if let Some((middle, leaf)) = leaf {
                let comm = std::fs::read_to_string(format!("/proc/{leaf}/comm"));
                if comm.is_ok_and(|c| c == "sleep\n") {
                    let held = [middle, leaf].map(|p| pidfd::open(p).unwrap()).into();
                    return Nested {
                        top,
                        middle,
                        leaf,
                        held,
                    };
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = top.kill();
        let _ = top.wait();
        panic!("the nested shells did not start");
    }
}

impl Drop for Nested {
    fn drop(&mut self) {
        for fd in self.held.iter().rev() {
            let _ = pidfd::send_signal(fd.as_fd(), libc::SIGKILL);
        }
        let _ = self.top.kill();
        let _ = self.top.wait();
    }
}
