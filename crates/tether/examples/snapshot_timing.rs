//! In-library timing of a full snapshot with chosen fields, for `bench/python.py` (the Rust
//! figure the Python binding is held against). One warm-up snapshot, then ROUNDS timed ones,
//! each after PAUSE_MS idle (default 0: right after the previous one); prints one JSON line
//! with the median.
//!
//! `cargo run --profile bindings -p tether --example snapshot_timing -- FIELDS [ROUNDS [PAUSE_MS]]`
//! where FIELDS is a `--fields` list, e.g. `ppid,name,exe,cmdline,user,state,start,rss,vsz`.

use std::time::Instant;

use tether::inspect::{snapshot, FieldSet, Filter, Query};

fn main() {
    let mut args = std::env::args().skip(1);
    let fields = args.next().unwrap_or_else(|| "pid,name".into());
    let (fields, _) = FieldSet::parse_list(&fields).expect("a field list");
    let rounds: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    let pause_ms: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let q = Query::new(fields, Filter::default());
    std::hint::black_box(snapshot(&q).expect("snapshot"));
    let mut ms = Vec::with_capacity(rounds);
    let mut count = 0;
    for _ in 0..rounds.max(1) {
        std::thread::sleep(std::time::Duration::from_millis(pause_ms));
        let t = Instant::now();
        let all = snapshot(&q).expect("snapshot");
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        count = std::hint::black_box(all).len();
    }
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{{\"median_ms\": {:.3}, \"processes\": {count}}}",
        ms[ms.len() / 2]
    );
}
