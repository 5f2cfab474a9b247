//! Clocks and boot facts, read once per process.

use std::sync::OnceLock;

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), the unit of /proc start and CPU times.
pub fn ticks_per_second() -> u64 {
    static HZ: OnceLock<u64> = OnceLock::new();
    *HZ.get_or_init(|| {
        // SAFETY: sysconf has no preconditions.
        let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if v > 0 {
            v as u64
        } else {
            100
        }
    })
}

/// Page size in bytes, the unit of RSS in /proc/PID/stat.
pub fn page_size() -> u64 {
    static PS: OnceLock<u64> = OnceLock::new();
    *PS.get_or_init(|| rustix::param::page_size() as u64)
}

/// The kernel's boot id (`/proc/sys/kernel/random/boot_id`), without dashes, lower-case hex.
/// Empty when the file cannot be read (then identities carry no boot id and match any boot).
pub fn boot_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().replace('-', "").to_ascii_lowercase())
            .unwrap_or_default()
    })
}

fn clock_ns(id: rustix::time::ClockId) -> u128 {
    let t = rustix::time::clock_gettime(id);
    t.tv_sec as u128 * 1_000_000_000 + t.tv_nsec as u128
}

/// Nanoseconds since boot, on the clock /proc start times are measured with (CLOCK_BOOTTIME).
pub fn since_boot_ns() -> u128 {
    clock_ns(rustix::time::ClockId::Boottime)
}

/// Unix time of boot in milliseconds, at sub-second precision (unlike `btime` in /proc/stat,
/// which is whole seconds): wall clock now minus time since boot, computed once.
pub fn boot_unix_ms() -> u64 {
    static B: OnceLock<u64> = OnceLock::new();
    *B.get_or_init(|| {
        let real = clock_ns(rustix::time::ClockId::Realtime);
        let boot = since_boot_ns();
        (real.saturating_sub(boot) / 1_000_000) as u64
    })
}

/// Clock ticks since boot, now.
pub fn now_ticks() -> u64 {
    (since_boot_ns() * ticks_per_second() as u128 / 1_000_000_000) as u64
}

/// Convert clock ticks to milliseconds.
pub fn ticks_to_ms(ticks: u64) -> u64 {
    (ticks as u128 * 1000 / ticks_per_second() as u128) as u64
}
