//! Linux backend: /proc parsing, pidfds, clocks, user names.

pub mod clock;
pub mod pidfd;
pub mod proc;
pub mod process;
pub mod users;
