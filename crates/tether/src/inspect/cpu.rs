//! CPU use sampled over an interval.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::sys::os::clock;

use super::snapshot::open_proc;

/// CPU percent (of one CPU) of each PID over `interval`. A PID whose start time changed during
/// the interval (it exited and the PID was reused) or that vanished is left out.
pub fn sample_cpu(pids: &[u32], interval: Duration) -> Result<HashMap<u32, f64>> {
    let mut r = open_proc()?;
    let first: Vec<(u32, u64, u64)> = pids
        .iter()
        .filter_map(|&pid| {
            r.stat(pid)
                .ok()
                .map(|s| (pid, s.starttime, s.utime + s.stime))
        })
        .collect();
    let t0 = Instant::now();
    // Sampling needs the interval to pass; there is no event to wait for here.
    std::thread::sleep(interval);
    let secs = t0.elapsed().as_secs_f64();
    let hz = clock::ticks_per_second() as f64;
    let mut out = HashMap::with_capacity(first.len());
    for (pid, start, used) in first {
        if let Ok(s) = r.stat(pid) {
            if s.starttime == start {
                let delta = (s.utime + s.stime).saturating_sub(used) as f64;
                out.insert(pid, delta / hz / secs * 100.0);
            }
        }
    }
    Ok(out)
}
