//! Linux backend: /proc parsing, pidfds, clocks, user names, cgroups, process supervision.

pub mod cgroup;
pub mod clock;
pub mod pidfd;
pub mod proc;
pub mod process;
pub mod spawn;
pub mod supervise;
pub mod users;
