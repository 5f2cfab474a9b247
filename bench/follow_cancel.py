#!/usr/bin/env python3
"""How long stopping a log follow takes: `JobLogFollower.close()` of the Python binding, from the
call to the follower thread being gone, on a job that keeps running.

Run with the interpreter of a venv that has the binding installed (scripts/test-python.sh makes
target/venv-python), as root, after `cargo build -p tether-cli`:

    python3 /work/shared/tools/crowd.py 5000 --ns -- target/venv-python/bin/python bench/follow_cancel.py

Each round starts a job, follows it until its first line arrives, then times close(). Medians over
--rounds N (default 30). There is no peer: it measures tether's own cancel path (a follow polls its
canceller with the log, rather than looking at a flag between sleeps).
"""

import os
import statistics
import sys
import tempfile
import time

import tether

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 30


def main():
    os.environ.setdefault("TETHER_BIN", os.path.join(ROOT, "target", "debug", "tether"))
    with tempfile.TemporaryDirectory(prefix="tether-bench-follow-") as tmp:
        jobs = tether.Jobs(os.path.join(tmp, "state"))
        jobs.start("talker", ["sh", "-c", "echo up; exec sleep 3600"])
        times = []
        try:
            for _ in range(ROUNDS):
                follower = jobs.follow("talker", lines=1)
                assert next(follower) == b"up\n"
                t = time.perf_counter()
                follower.close()
                times.append((time.perf_counter() - t) * 1e3)
        finally:
            jobs.remove("talker", grace=1)
    nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
    print(f"# bench/follow_cancel.py: {ROUNDS} rounds; {nproc} processes in /proc")
    print(f"JobLogFollower.close(): median {statistics.median(times):.2f} ms, "
          f"max {max(times):.2f} ms")


if __name__ == "__main__":
    main()
