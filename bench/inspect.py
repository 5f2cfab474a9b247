#!/usr/bin/env python3
"""Side-by-side: tether's process inspection against ps and psutil, in one run.

Starts its own 3000 processes (and removes them afterwards), then times, median of N runs:
  - full snapshot: `tether ps --json` with the ps fields, vs `ps -eo pid,ppid,comm,args,lstart,rss,user,stat`,
    vs psutil.process_iter with the same fields (in-process, so psutil pays no interpreter start);
  - one process: `tether info PID` vs `ps -p PID -o ...`, and tether's library call alone.
Targets (issue 2): snapshot <= 0.5x ps and >= 10x faster than psutil; info < 1 ms in the library.

Usage: python3 bench/inspect.py [--procs 3000] [--runs 15]
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TETHER = os.path.join(ROOT, "target", "release", "tether")


def ensure_psutil():
    try:
        import psutil  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "psutil"])


def timed(cmd, runs):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def psutil_snapshot(runs):
    import psutil

    attrs = ["pid", "ppid", "name", "cmdline", "create_time", "memory_info", "username", "status"]
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        n = sum(1 for _ in psutil.process_iter(attrs))
        out.append(time.perf_counter() - t)
    return statistics.median(out), n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    ensure_psutil()
    subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "tether-cli", "-p", "tether",
                           "--example", "inspect_timing"], cwd=ROOT)
    subprocess.check_call(["cargo", "build", "--release", "-q", "-p", "tether-cli"], cwd=ROOT)
    kids = []
    try:
        for _ in range(a.procs):
            kids.append(subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL))
        total = len(os.listdir("/proc"))
        print(f"started {len(kids)} processes; /proc has {total} entries")
        fields = "pid,ppid,name,cmdline,start,rss,user,state"
        t_tether = timed([TETHER, "ps", "--json", "--fields", fields], a.runs)
        t_tether_table = timed([TETHER, "ps", "--fields", fields], a.runs)
        t_ps = timed(["ps", "-eo", "pid,ppid,comm,args,lstart,rss,user,stat"], a.runs)
        t_psutil, n = psutil_snapshot(max(3, a.runs // 3))
        pid = str(kids[len(kids) // 2].pid)
        t_info = timed([TETHER, "info", pid], a.runs * 3)
        t_psp = timed(["ps", "-p", pid, "-o", "pid,ppid,comm,args,lstart,rss,user,stat"], a.runs * 3)
        lib = json.loads(subprocess.check_output(
            [os.path.join(ROOT, "target", "release", "examples", "inspect_timing"), pid, "300"]))
        ms = lambda s: f"{s * 1e3:8.2f} ms"
        print(f"snapshot  tether ps --json   {ms(t_tether)}")
        print(f"snapshot  tether ps (table)  {ms(t_tether_table)}")
        print(f"snapshot  ps -eo ...         {ms(t_ps)}   ratio tether/ps     = {t_tether / t_ps:.2f} (target <= 0.50)")
        print(f"snapshot  psutil ({n} procs) {ms(t_psutil)}   ratio psutil/tether = {t_psutil / t_tether:.1f}x (target >= 10)")
        print(f"info      tether info PID    {ms(t_info)}")
        print(f"info      ps -p PID          {ms(t_psp)}   ratio tether/ps     = {t_info / t_psp:.2f}")
        print(f"library   info (identity + record) median {lib['info_median_us']:.1f} us (target < 1000 us)")
        print(f"library   snapshot of {lib['processes']} processes median {lib['snapshot_median_ms']:.2f} ms")
    finally:
        for k in kids:
            k.send_signal(signal.SIGKILL)
        for k in kids:
            k.wait()
        print(f"removed {len(kids)} processes")


if __name__ == "__main__":
    main()
