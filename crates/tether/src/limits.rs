//! Process limits that a caller may raise before large operations. The library never changes
//! them on its own: a limit is the caller's to set.

use crate::error::{Error, Result};

/// Raise the soft limit on open files (`RLIMIT_NOFILE`) to the hard limit, and return the new
/// soft limit.
///
/// Operations that hold one pidfd per process keep that many files open at once: ending a tree
/// ([`crate::terminate::stop`], [`crate::net::stop_port`]) holds one per member, and waiting
/// ([`crate::wait::wait_many`]) one per target. The usual soft limit of 1024 is too low for
/// huge trees; the hard limit usually is not. The new limit is inherited by every process
/// started afterwards.
///
/// ```
/// let n = tether::limits::raise_open_files().unwrap();
/// assert!(n >= 3);
/// ```
pub fn raise_open_files() -> Result<u64> {
    crate::sys::os::supervise::raise_nofile_limit()
        .map_err(|e| Error::from_io("raising the open-files limit", &e))
}
