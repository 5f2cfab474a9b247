#!/usr/bin/env python3
"""Side-by-side benchmarks of `tether retry` against the shell loop provisioning tools use
(`for i in 1 2 3; do CMD && break || sleep D; done`).

Run from the repository root after `cargo build --release`, on a crowded machine:

    python3 /work/shared/tools/crowd.py 5000 --ns -- python3 bench/retry.py [--quick] [--tether PATH]

Measures (medians over N runs, tether and the peer alternated in the same rounds):
  1. one attempt that succeeds: tether retry -- /bin/true   vs  the shell loop, and vs
     tether run /bin/true (what a contained attempt costs by itself)
  2. three attempts that fail, no delay: tether retry -n 3 --delay 0 -- /bin/false  vs  the loop
     (per-attempt cost = the difference to 1, over 2 more attempts)
  3. delay accuracy: two attempts with a 100 ms delay; the time beyond the 100 ms of waiting
     (tether: a timer on a signalfd poll; the loop: `sleep 0.1`)

No hyperfine needed; timing uses time.perf_counter around subprocess.run.
"""

import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TETHER = os.path.join(ROOT, "target", "release", "tether")
if "--tether" in sys.argv:
    TETHER = os.path.abspath(sys.argv[sys.argv.index("--tether") + 1])
QUICK = "--quick" in sys.argv
N = 15 if QUICK else 60


def timed(argv):
    t = time.perf_counter()
    subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t


def loop(cmd, attempts, delay):
    return ["sh", "-c",
            f"for i in $(seq {attempts}); do {cmd} && exit 0; "
            f"[ $i -lt {attempts} ] && sleep {delay}; done; exit 1"]


def bench(label, cases, n=N):
    """cases: [(name, argv)], alternated round by round; prints medians and ratios."""
    times = {name: [] for name, _ in cases}
    for r in range(n):
        order = cases if r % 2 == 0 else list(reversed(cases))
        for name, argv in order:
            times[name].append(timed(argv))
    meds = {name: statistics.median(v) for name, v in times.items()}
    first = cases[0][0]
    print(f"\n{label}")
    for name, _ in cases:
        ratio = meds[name] / meds[first]
        print(f"  {name:<44} {meds[name] * 1e3:8.2f} ms   {ratio:5.2f}x of {first}")
    return meds


def main():
    if not os.path.exists(TETHER):
        raise SystemExit(f"{TETHER} missing: cargo build --release")
    with open("/proc/loadavg") as f:
        print(f"load average at start: {f.read().split()[0]}; {N} runs each")
    one = bench("1. one attempt that succeeds", [
        ("tether retry -- /bin/true", [TETHER, "retry", "--", "/bin/true"]),
        ("sh loop (1 attempt)", loop("/bin/true", 3, 1)),
        ("tether run /bin/true", [TETHER, "run", "--", "/bin/true"]),
    ])
    three = bench("2. three failing attempts, no delay", [
        ("tether retry -n 3 --delay 0 -- /bin/false",
         [TETHER, "retry", "-q", "-n", "3", "--delay", "0", "--", "/bin/false"]),
        ("sh loop (3 attempts, sleep 0)", loop("/bin/false", 3, 0)),
    ])
    per = (three["tether retry -n 3 --delay 0 -- /bin/false"]
           - one["tether retry -- /bin/true"]) / 2
    print(f"  tether: {per * 1e3:.2f} ms per further attempt")
    d = bench("3. two attempts, 100 ms delay (time beyond the delay)", [
        ("tether retry -n 2 --delay 100ms -- /bin/false",
         [TETHER, "retry", "-q", "-n", "2", "--backoff", "fixed", "--delay", "100ms", "--",
          "/bin/false"]),
        ("sh loop (2 attempts, sleep 0.1)", loop("/bin/false", 2, 0.1)),
    ], n=max(10, N // 3))
    for name, v in d.items():
        print(f"  {name:<44} overshoot {(v - 0.1) * 1e3:6.2f} ms")
    with open("/proc/loadavg") as f:
        print(f"\nload average at end: {f.read().split()[0]}")


if __name__ == "__main__":
    main()
