//! In-library timings for `bench/inspect.py`: `info` of one process (open, record, re-verify)
//! and a full snapshot with the fields of the `ps` comparison. Prints one JSON line.
//!
//! `cargo run --release -p tether --example inspect_timing -- PID [ROUNDS]`

use std::time::Instant;

use tether::inspect::{snapshot, Field, FieldSet, Filter, Query};
use tether::Process;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pid: u32 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(std::process::id);
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    let mut info_us = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let t = Instant::now();
        // What `tether info` does: open (pidfd + identity), read, re-verify.
        let p = Process::open(pid).expect("open");
        let info = p.info(FieldSet::standard()).expect("record");
        std::hint::black_box((p, info));
        info_us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let fields = FieldSet::of(&[
        Field::Ppid,
        Field::Name,
        Field::Cmdline,
        Field::Start,
        Field::Rss,
        Field::User,
        Field::State,
    ]);
    let mut snap_ms = Vec::new();
    let mut count = 0;
    for _ in 0..(rounds / 10).max(5) {
        let t = Instant::now();
        let all = snapshot(&Query::new(fields, Filter::default())).expect("snapshot");
        snap_ms.push(t.elapsed().as_secs_f64() * 1e3);
        count = all.len();
    }
    println!(
        "{{\"info_median_us\": {:.1}, \"snapshot_median_ms\": {:.2}, \"processes\": {count}}}",
        median(info_us),
        median(snap_ms)
    );
}
