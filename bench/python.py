#!/usr/bin/env python3
"""Side-by-side: tether.process_iter against psutil.process_iter with psutil's common attributes,
in the same interpreter, alternating, plus the Rust library's snapshot of the same fields.

Each round times, in alternating order:
  - tether:  [p.info for p in tether.process_iter(ATTRS)]
  - psutil:  [p.info for p in psutil.process_iter(ATTRS)]
  - Rust:    tether::inspect::snapshot with the same fields (examples/snapshot_timing: one
             timed snapshot after a warm-up one, run between the Python rounds)
Every timed call comes right after an untimed call of the same function, as the Rust example
times its snapshot after a warm-up one: the three are measured in the same state. How warm that
state is matters (a snapshot right after another runs about 30% faster than one after 300 ms
idle, in Rust as in Python), so `--pause-ms 300` measures all three after an idle pause instead.
It reports medians and ratios. Targets (issue 11): tether >= 5x faster than psutil, and within
1.3x of the Rust snapshot. A sanity check compares the values both libraries return.

Run it with the Python that has tether and psutil installed (scripts/test-python.sh makes one
under target/venv-python), on a crowd of idle processes:

    python3 /work/shared/tools/crowd.py 3000 --ns -- target/venv-python/bin/python bench/python.py
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATTRS = ["pid", "ppid", "name", "exe", "cmdline", "username", "status", "create_time",
         "memory_info", "cpu_times", "num_threads"]
# The same in tether's field names (`tether ps --fields`).
FIELDS = "pid,ppid,name,exe,cmdline,user,state,start,rss,vsz,cpu_time,threads"
EXAMPLE = os.path.join(ROOT, "target", "bindings", "examples", "snapshot_timing")


def timed(fn, pause):
    """One timed call in the state the Rust example times its snapshot in: right after an
    untimed call of the same function (then `pause` seconds idle, 0 by default)."""
    fn()
    gc.collect()
    time.sleep(pause)
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def rust_ms(rounds, pause):
    out = subprocess.check_output([EXAMPLE, FIELDS, str(rounds), str(round(pause * 1e3))])
    r = json.loads(out)
    return r["median_ms"] / 1e3, r["processes"]


def compare(ours, theirs):
    """Values that must agree where both read the same process. Allowed to differ: psutil's
    `name` may be longer than the kernel's 15-byte comm that tether reports; psutil's `exe` is
    '' where tether's is None (kernel threads); psutil's boot time is /proc/stat's whole
    seconds, so its create_time may be up to 1 s off tether's; memory and times move."""
    mine = {d["pid"]: d for d in ours}
    diffs = 0
    both = 0
    for d in theirs:
        o = mine.get(d["pid"])
        # This process is left out: its thread count includes tether's reader threads.
        if o is None or d["pid"] == os.getpid():
            continue
        both += 1
        for k in ("ppid", "exe", "cmdline", "username", "num_threads", "name", "create_time"):
            a, b = o[k], d[k]
            same = {
                "exe": lambda: (a or "") == (b or ""),
                "name": lambda: b.startswith(a),
                "create_time": lambda: abs(a - b) < 1.0,
            }.get(k, lambda: a == b)()
            if not same:
                diffs += 1
                if diffs <= 5:
                    print(f"  differs: pid {d['pid']} {k}: tether {a!r} psutil {b!r}")
    return both, diffs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--pause-ms", type=int, default=0,
                    help="idle time before every timed call, on all three sides (a cold cache "
                         "and CPU: a snapshot taken once in a while)")
    ap.add_argument("--no-build", action="store_true", help="use the example binary as it is")
    a = ap.parse_args()
    import psutil
    import tether

    if not a.no_build:
        subprocess.check_call(["cargo", "build", "-q", "--profile", "bindings", "-p", "tether",
                               "--example", "snapshot_timing"], cwd=ROOT)
    print(f"tether {tether.__version__} ({tether.__file__}), psutil {psutil.__version__}, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
    print(f"/proc has {nproc} processes; attrs: {', '.join(ATTRS)}; "
          f"each timed call right after an untimed one, {a.pause_ms} ms idle between")

    def run_tether():
        return [p.info for p in tether.process_iter(ATTRS)]

    def run_psutil():
        return [p.info for p in psutil.process_iter(ATTRS)]

    # Warm-up: imports, caches (user names), the first /proc walk.
    pause = a.pause_ms / 1e3
    run_tether(), run_psutil(), rust_ms(1, 0)
    t_t, t_p, t_r = [], [], []
    n_t = n_p = n_r = 0
    for i in range(a.runs):
        order = [("t", run_tether), ("p", run_psutil)]
        if i % 2:
            order.reverse()
        for name, fn in order:
            dt, out = timed(fn, pause)
            if name == "t":
                t_t.append(dt)
                n_t = len(out)
            else:
                t_p.append(dt)
                n_p = len(out)
            # Dropped before the next timing, so that neither side pays for the garbage
            # collector walking the other's objects.
            out = None
        # One timed snapshot per run, as on the Python side (a median of several would hide
        # the load spikes that single Python runs take).
        dt, n_r = rust_ms(1, pause)
        t_r.append(dt)
    last_t, last = run_tether(), run_psutil()
    both, diffs = compare(last_t, last)
    mt, mp, mr = (statistics.median(x) for x in (t_t, t_p, t_r))
    ms = lambda s: f"{s * 1e3:8.2f} ms"  # noqa: E731
    print(f"tether.process_iter  {ms(mt)}  ({n_t} processes, {a.runs} runs)")
    print(f"psutil.process_iter  {ms(mp)}  ({n_p} processes)")
    print(f"Rust inspect::snapshot {ms(mr)}  ({n_r} processes, same fields)")
    print(f"ratio psutil/tether = {mp / mt:5.2f}x  (target >= 5)")
    print(f"ratio tether/Rust   = {mt / mr:5.2f}x  (target <= 1.3)")
    print(f"values compared on {both} processes: {diffs} differences")
    print(f"tether runs (ms): {' '.join(f'{x * 1e3:.1f}' for x in t_t)}")
    print(f"psutil runs (ms): {' '.join(f'{x * 1e3:.1f}' for x in t_p)}")
    print(f"Rust runs (ms):   {' '.join(f'{x * 1e3:.1f}' for x in t_r)}")


if __name__ == "__main__":
    main()
