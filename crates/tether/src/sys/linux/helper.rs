//! What tether's helper processes (the per-command watchdog, the shared guard of the keeper)
//! share. They run after a fork or clone of a process that may be multi-threaded: every
//! function here makes only async-signal-safe calls, on fixed buffers.

use std::ffi::CStr;
use std::os::fd::RawFd;

/// Keep only the descriptors in `keep` (-1: none) and name the process: 0, 1 and 2 become
/// /dev/null (unless kept), everything else is closed, so that the helper holds nobody's pipe
/// or socket open.
pub(super) unsafe fn keep_only(keep: [RawFd; 2], name: &CStr) {
    let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
    for i in 0..3 {
        if !keep.contains(&i) && null >= 0 {
            libc::dup2(null, i);
        }
    }
    let mut keep = keep;
    keep.sort_unstable();
    let mut from: i32 = 3;
    for k in keep {
        if k >= from {
            if k > from {
                libc::syscall(libc::SYS_close_range, from as u32, (k - 1) as u32, 0u32);
            }
            from = k + 1;
        }
    }
    libc::syscall(libc::SYS_close_range, from as u32, u32::MAX, 0u32);
    libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0);
}

/// Write `n` in decimal at the start of `out` (at least 20 bytes); returns how many bytes.
pub(super) fn decimal(mut n: u64, out: &mut [u8]) -> usize {
    let mut digits = [0u8; 20];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (i, d) in digits[..len].iter().rev().enumerate() {
        out[i] = *d;
    }
    len
}

/// CLOCK_MONOTONIC in milliseconds.
pub(super) fn now_ms() -> i64 {
    // SAFETY: clock_gettime on a local timespec.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
        ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }
}

/// Whether the cgroup whose `cgroup.events` is open as `events` has members.
pub(super) unsafe fn populated(events: RawFd) -> bool {
    let mut buf = [0u8; 256];
    let n = libc::pread(events, buf.as_mut_ptr().cast(), buf.len(), 0);
    n > 0 && contains(&buf[..n as usize], b"populated 1")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `sig` to the process of a pidfd (errors ignored: it may be gone).
pub(super) unsafe fn send_signal(fd: RawFd, sig: i32) {
    libc::syscall(
        libc::SYS_pidfd_send_signal,
        fd,
        sig,
        std::ptr::null::<libc::siginfo_t>(),
        0,
    );
}

/// Write `value` to the control file `file` of the cgroup directory `dir`.
pub(super) unsafe fn write_at(dir: RawFd, file: &CStr, value: &[u8]) -> bool {
    let fd = libc::openat(dir, file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
    if fd < 0 {
        return false;
    }
    let ok = libc::write(fd, value.as_ptr().cast(), value.len()) == value.len() as isize;
    libc::close(fd);
    ok
}

/// Freeze (or thaw) the leaf; freezing waits up to a second for `frozen 1`.
pub(super) unsafe fn freeze(dir: RawFd, events: RawFd, on: bool) -> bool {
    if !write_at(dir, c"cgroup.freeze", if on { b"1" } else { b"0" }) {
        return false;
    }
    if !on || events < 0 {
        return on;
    }
    let limit = now_ms() + 1000;
    loop {
        let mut buf = [0u8; 256];
        let n = libc::pread(events, buf.as_mut_ptr().cast(), buf.len(), 0);
        if n > 0 && contains(&buf[..n as usize], b"frozen 1") {
            return true;
        }
        let left = limit - now_ms();
        if left <= 0 {
            // Not frozen in time: the members are stopped one by one instead.
            write_at(dir, c"cgroup.freeze", b"0");
            return false;
        }
        let mut pfd = libc::pollfd {
            fd: events,
            events: libc::POLLPRI,
            revents: 0,
        };
        libc::poll(&mut pfd, 1, left as libc::c_int);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_digits() {
        let mut out = [0u8; 24];
        for (n, text) in [
            (0u64, "0"),
            (7, "7"),
            (4194304, "4194304"),
            (u64::MAX, "18446744073709551615"),
        ] {
            let len = super::decimal(n, &mut out);
            assert_eq!(&out[..len], text.as_bytes());
        }
    }
}
