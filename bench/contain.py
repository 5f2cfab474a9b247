#!/usr/bin/env python3
"""Side-by-side benchmarks of `tether run`, `tether wait` and `tether stop` against their peers.

Run as root from the repository root after `cargo build --release`, on a crowded machine:

    python3 /work/shared/tools/crowd.py 5000 --ns -- python3 bench/contain.py [--quick] [--tether PATH]
        [--baseline PATH]

--baseline PATH times another tether binary (e.g. main's) in the same rounds of the overhead bench,
alternating which goes first, and prints the per-mode ratios against it.

Measures (medians over N runs, peers interleaved with tether in the same run):
  1. overhead per mode: tether run --contain MODE --timeout 10 /bin/true  vs  timeout 10 /bin/true,
                   for MODE none, group, auto (cgroup here); a table with ratios and targets
  2. exit latency: child exit -> run returns           vs  GNU timeout
  3. deadline:     deadline -> run returns (child obeys TERM)  vs  GNU timeout
  4. wait:         non-child exit -> tether wait returns  vs  pidwait, and a 25 ms kill -0 loop
  5. stop:         a 3-process tree (group leader; session leader), target <= 20 ms; 500-process
                   trees obeying TERM, and with a TERM-ignoring member (grace 1 s), in group mode
                   and cgroup mode; baseline: kill -TERM -PGID + 25 ms polling loop

Every tree runs in a cgroup this script creates, and is killed and removed at the end.
No hyperfine needed; timing uses time.perf_counter / CLOCK_REALTIME stamps written by `date`.
"""

import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TETHER = os.path.join(ROOT, "target", "release", "tether")
if "--tether" in sys.argv:
    TETHER = os.path.abspath(sys.argv[sys.argv.index("--tether") + 1])
QUICK = "--quick" in sys.argv
# Another tether binary (e.g. main's) timed in the same rounds as TETHER, for before/after ratios.
BASELINE = None
if "--baseline" in sys.argv:
    BASELINE = os.path.abspath(sys.argv[sys.argv.index("--baseline") + 1])
# Targets of issue 7, per call of `run --timeout 10 /bin/true`, as a ratio to GNU timeout.
MODE_TARGETS = {"none": 1.0, "group": 1.2, "auto": 1.3}


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            if post.split()[0] == "cgroup2" and pre.split()[3] == "/":
                return pre.split()[4]
    raise SystemExit("no cgroup2 mount")


class Cgroup:
    def __init__(self, path):
        self.path = path
        os.mkdir(path)

    def enter(self):
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write("0")

    def child(self, name):
        return Cgroup(os.path.join(self.path, name))

    def destroy(self):
        try:
            with open(os.path.join(self.path, "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError:
            pass
        for _ in range(200):
            with open(os.path.join(self.path, "cgroup.events")) as f:
                if "populated 0" in f.read():
                    break
            time.sleep(0.01)  # cleanup only, not a measured path
        for d, _, _ in sorted(os.walk(self.path), key=lambda w: -len(w[0])):
            try:
                os.rmdir(d)
            except OSError:
                pass


def med(xs):
    return statistics.median(xs)


def fmt_ms(x):
    return f"{x * 1000:8.2f} ms"


def row(label, a, b=None, bname=""):
    line = f"  {label:<44} {fmt_ms(a)}"
    if b is not None:
        line += f"   {bname} {fmt_ms(b)}   ratio {a / b:5.2f}"
    print(line)


def run_time(argv, preexec=None):
    t = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=preexec)
    return time.perf_counter() - t


def bench_overhead(n, preexec):
    """Every round runs GNU timeout once per mode, each right before tether in that mode, in a
    rotating order, so that both see the same load."""
    modes = list(MODE_TARGETS)
    t = {m: [] for m in modes}
    g = {m: [] for m in modes}
    b = {m: [] for m in modes}
    for i in range(n):
        for m in modes[i % len(modes):] + modes[:i % len(modes)]:
            g[m].append(run_time(["timeout", "10", "/bin/true"], preexec))
            run = ["run", "--contain", m, "--timeout", "10", "/bin/true"]
            # With a baseline, which of the two goes first alternates from round to round.
            pair = [TETHER, BASELINE] if i % 2 == 0 else [BASELINE, TETHER]
            for exe in pair if BASELINE else [TETHER]:
                (t if exe == TETHER else b)[m].append(run_time([exe] + run, preexec))
    print("1. overhead of running /bin/true, per containment mode (median wall time)")
    print(f"  {'mode':<8} {'tether run':>12} {'GNU timeout':>12} {'ratio':>7} {'target':>7}")
    ratios = {}
    for m in modes:
        ratios[m] = med(t[m]) / med(g[m])
        ok = "met" if ratios[m] <= MODE_TARGETS[m] else "NOT met"
        print(f"  {m:<8} {fmt_ms(med(t[m]))} {fmt_ms(med(g[m]))} {ratios[m]:7.2f} "
              f"{MODE_TARGETS[m]:7.1f}  {ok}")
    if BASELINE:
        print(f"  against the baseline {BASELINE} (same rounds, alternating order):")
        for m in modes:
            print(f"  {m:<8} {fmt_ms(med(t[m]))} baseline {fmt_ms(med(b[m]))}  "
                  f"ratio {med(t[m]) / med(b[m]):5.2f}  (baseline/GNU {med(b[m]) / med(g[m]):5.2f})")
    return ratios


def exit_latency(argv, preexec):
    """The child prints its CLOCK_REALTIME in ns right before exiting (exec date)."""
    p = subprocess.run(argv, capture_output=True, text=True, preexec_fn=preexec)
    back = time.time_ns()
    exited = int(p.stdout.strip().splitlines()[-1])
    return (back - exited) / 1e9


def bench_exit(n, preexec):
    script = "sleep 0.05; exec date +%s%N"
    t, g = [], []
    for _ in range(n):  # interleaved, like the overhead bench, so both see the same load
        t.append(exit_latency([TETHER, "run", "--timeout", "10", "sh", "-c", script], preexec))
        g.append(exit_latency(["timeout", "10", "sh", "-c", script], preexec))
    print("2. child exit -> run returns (median)")
    row("tether run", med(t), med(g), "GNU timeout:")


def deadline_latency(argv, limit, preexec):
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=preexec)
    return time.perf_counter() - t0 - limit


def bench_deadline(n, preexec):
    t, g = [], []
    for _ in range(n):
        t.append(deadline_latency([TETHER, "run", "--timeout", "0.1", "sleep", "10"], 0.1, preexec))
        g.append(deadline_latency(["timeout", "0.1", "sleep", "10"], 0.1, preexec))
    print("3. deadline -> run returns, child obeys TERM (median, includes start-up)")
    row("tether run --timeout 0.1 sleep 10", med(t), med(g), "GNU timeout:")


def wait_latency(waiter, preexec, tmp):
    """Start a non-child of the waiter, start the waiter, measure exit -> waiter returns."""
    target = subprocess.Popen(["sh", "-c", "sleep 0.15; exec date +%s%N"], stdout=subprocess.PIPE,
                              text=True, preexec_fn=preexec)
    # Reap the target promptly (a polling kill -0 loop would see a zombie as alive).
    out = {}
    reaper = threading.Thread(target=lambda: out.setdefault("o", target.communicate()[0]))
    reaper.start()
    pidfile = os.path.join(tmp, "pid")
    with open(pidfile, "w") as f:
        f.write(f"{target.pid}\n")
    argv = {
        "tether": [TETHER, "wait", str(target.pid)],
        "pidwait": ["pidwait", "-F", pidfile],
        "poll25": ["sh", "-c", f"while kill -0 {target.pid} 2>/dev/null; do sleep 0.025; done"],
    }[waiter]
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=preexec)
    back = time.time_ns()
    reaper.join()
    return (back - int(out["o"].strip())) / 1e9


def bench_wait(n, preexec, tmp):
    res = {w: [] for w in ("tether", "pidwait", "poll25")}
    for _ in range(n):
        for w in res:
            res[w].append(wait_latency(w, preexec, tmp))
    print("4. non-child exit -> waiter returns (median)")
    row("tether wait PID", med(res["tether"]), med(res["pidwait"]), "pidwait:")
    row("25 ms kill -0 loop (peer baseline)", med(res["poll25"]))


# The trees: a root that starts N sleeps (and a TERM-ignoring shell), and on TERM reaps them all
# before it exits. Under `crowd.py --ns` the PID 1 of the namespace does not reap orphans, and
# their zombies would keep a process group "alive" for the `kill -0 -PGID` loop of the baseline.
# Python rather than a shell trap: a shell's fresh child still runs the shell's TERM trap until it
# execs, and so `sleep` there would survive TERM; here the handler is set once every child runs.
TREE_PY = r"""
import os, signal, subprocess, sys
kids = [subprocess.Popen(["sleep", "100"]) for _ in range(int(sys.argv[1]))]
if sys.argv[2] == "1":
    kids.append(subprocess.Popen(["sh", "-c", "trap '' TERM; echo; exec sleep 100"],
                                 stdout=subprocess.PIPE))
    kids[-1].stdout.readline()
def on_term(*_):
    for k in kids:
        k.wait()
    os._exit(0)
signal.signal(signal.SIGTERM, on_term)
print("ready", flush=True)
while True:
    signal.pause()
"""


def start_tree(cg, members, ignore_term):
    p = subprocess.Popen(["setsid", sys.executable, "-c", TREE_PY, str(members),
                          "1" if ignore_term else "0"],
                         stdout=subprocess.PIPE, text=True, preexec_fn=cg.enter)
    p.stdout.readline()
    return p


def small_tree(session):
    """A 3-process tree (the root and two sleeps) that leads its own process group, or its
    session."""
    argv = [sys.executable, "-c", TREE_PY, "2", "0"]
    p = subprocess.Popen(["setsid"] + argv if session else argv, stdout=subprocess.PIPE,
                         text=True, process_group=None if session else 0)
    p.stdout.readline()
    return p


def bench_stop_small(n):
    print("5. stop a 3-process tree obeying TERM (median; target <= 20 ms)")
    for session in (False, True):
        times = []
        for _ in range(n):
            p = small_tree(session)
            t0 = time.perf_counter()
            r = subprocess.run([TETHER, "--json", "stop", "--grace", "5", str(p.pid)],
                               capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            p.wait()
            if '"remaining": []' not in r.stdout:
                print("    unexpected:", r.stdout[:300], r.stderr[:300])
        label = "tether stop, " + ("session leader" if session else "process group leader")
        line = f"  {label:<44} {fmt_ms(med(times))}"
        print(line + ("   target met" if med(times) <= 0.020 else "   target NOT met"))


def bench_stop(n, base):
    print("6. stop a 500-process tree (median; grace 1 s)")
    for mode in ("group", "cgroup"):
        for ignore in (False, True):
            times, peer = [], []
            for i in range(n):
                tree_cg = base.child(f"{mode}-{int(ignore)}-{i}") if mode == "cgroup" else base
                p = start_tree(tree_cg, 500, ignore)
                # group mode: tether shares the tree's cgroup (the bench's), so it does not own it.
                pre = None
                t0 = time.perf_counter()
                r = subprocess.run([TETHER, "--json", "stop", "--grace", "1", str(p.pid)],
                                   capture_output=True, text=True, preexec_fn=pre)
                times.append(time.perf_counter() - t0)
                p.wait()
                if '"mechanism": "%s"' % ("cgroup" if mode == "cgroup" else "process_group") not in r.stdout:
                    print("    unexpected mechanism:", r.stdout[:300])
                if mode == "cgroup":
                    tree_cg.destroy()
                if not ignore and mode == "group":
                    p2 = start_tree(base, 500, False)
                    reaper = threading.Thread(target=p2.wait)
                    reaper.start()
                    t0 = time.perf_counter()
                    subprocess.run(["sh", "-c", f"/bin/kill -TERM -- -{p2.pid}; "
                                    f"while /bin/kill -0 -- -{p2.pid} 2>/dev/null; do sleep 0.025; done"])
                    peer.append(time.perf_counter() - t0)
                    reaper.join()
            label = f"tether stop, {mode} mode, " + ("TERM-ignoring member" if ignore else "obeys TERM")
            if peer:
                row(label, med(times), med(peer), "kill -PGID + 25ms loop:")
            else:
                row(label, med(times))


def main():
    if os.geteuid() != 0:
        raise SystemExit("run as root (cgroups)")
    if not os.path.exists(TETHER):
        raise SystemExit("build first: cargo build --release")
    mount = cgroup2_mount()
    own = open("/proc/self/cgroup").read().split("0::", 1)[1].split("\n")[0]
    base = Cgroup(os.path.join(mount + own.rstrip("/"), f"tether-bench-{os.getpid()}-{time.time_ns()}"))
    tmp = os.path.join("/tmp", f"tether-bench-{os.getpid()}")
    os.makedirs(tmp, exist_ok=True)
    try:
        # Everything measured runs in the bench cgroup: enter it ourselves, so that children
        # inherit it and no preexec_fn slows down (and skews) the spawns being timed.
        base.enter()
        n = 40 if QUICK else 200
        procs = sum(1 for d in os.listdir("/proc") if d.isdigit())
        print(f"command: {' '.join(sys.argv)}")
        print(f"tether {TETHER}; {os.cpu_count()} CPUs; kernel {os.uname().release}; "
              f"{procs} processes in /proc; load average {os.getloadavg()[0]:.2f} at start")
        ratios = bench_overhead(n, None)
        bench_exit(10 if QUICK else 30, None)
        bench_deadline(10 if QUICK else 30, None)
        if shutil.which("pidwait"):
            bench_wait(10 if QUICK else 30, None, tmp)
        bench_stop_small(10 if QUICK else 30)
        bench_stop(2 if QUICK else 5, base)
        print(f"load average {os.getloadavg()[0]:.2f} at the end; overhead ratios: "
              + ", ".join(f"{m} {r:.2f} (target <= {MODE_TARGETS[m]})" for m, r in ratios.items()))
    finally:
        # Leave the bench cgroup before destroying it (cgroup.kill would end this script too).
        with open(os.path.join(mount + own.rstrip("/"), "cgroup.procs"), "w") as f:
            f.write("0")
        base.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
