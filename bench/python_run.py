#!/usr/bin/env python3
"""Side-by-side: tether.run of /bin/true against subprocess.run of /bin/true, in the same
interpreter, alternating, medians and ratios. tether.run starts a contained tree (a watchdog
and, as root with cgroup v2, a cgroup leaf) and captures output; subprocess.run with
capture_output=True is its nearest peer. Also tether with contain="group" and contain="none",
to show what containment costs. No target in issue 11 for Python (Go's is <= 1.2x over os/exec);
the figures are for information.

    python3 /work/shared/tools/crowd.py 5000 --ns -- target/venv-python/bin/python bench/python_run.py
"""

import argparse
import os
import statistics
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200)
    a = ap.parse_args()
    import tether

    cases = {
        "subprocess.run": lambda: subprocess.run(["/bin/true"], capture_output=True),
        "tether.run (auto)": lambda: tether.run(["/bin/true"]),
        "tether.run (group)": lambda: tether.run(["/bin/true"], contain="group"),
        "tether.run (none)": lambda: tether.run(["/bin/true"], contain="none"),
    }
    print(f"tether {tether.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{sum(1 for d in os.listdir('/proc') if d.isdigit())} processes in /proc")
    for fn in cases.values():  # warm-up
        fn()
    times = {k: [] for k in cases}
    names = list(cases)
    for i in range(a.runs):
        order = names if i % 2 == 0 else names[::-1]
        for k in order:
            t = time.perf_counter()
            r = cases[k]()
            times[k].append(time.perf_counter() - t)
            assert r.returncode == 0
    base = statistics.median(times["subprocess.run"])
    for k in names:
        m = statistics.median(times[k])
        print(f"{k:20} median {m * 1e3:7.3f} ms   ratio to subprocess.run {m / base:5.2f}x")


if __name__ == "__main__":
    main()
