//! Linux backend: /proc parsing, pidfds, clocks, user names, cgroups, process supervision.

pub mod cgroup;
pub mod clock;
pub mod fd;
pub mod inotify;
pub mod pidfd;
pub mod proc;
pub mod process;
pub mod sock_diag;
pub mod users;
