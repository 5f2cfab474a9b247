#!/usr/bin/env python3
"""Side-by-side benchmark of port lookups and readiness latency.

1. `tether who PORT` and `tether ports` against `ss -ltnp 'sport = :PORT'` and
   `lsof -nP -iTCP:PORT -sTCP:LISTEN`. Runs are interleaved in a shuffled order each round;
   medians and ratios to `ss`.
2. Time from a port opening to `tether wait-for` returning, against a 1-second polling loop as
   wait-for-it uses (`until (exec 3<>/dev/tcp/HOST/PORT); do sleep 1; done`).

Usage (the project's standard: 5000 idle processes whose fds are sparse, 0, 1, 2, 10 and 251,
in fresh PID and network namespaces):

    cargo build --release -p tether-cli
    python3 /work/shared/tools/crowd.py 5000 --ns -- python3 bench/net.py [path/to/tether]

BENCH_EXTRA=N starts N more `sleep` processes with dense fds (0, 1, 2) here (default 0), to
measure that layout too; BENCH_BASELINE=path/to/other/tether adds rows for another build.
Only loopback is used. Every process this script starts is killed and reaped at the end.
"""

import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TETHER = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/release/tether")
EXTRA = int(os.environ.get("BENCH_EXTRA", "0"))
BASELINE = os.environ.get("BENCH_BASELINE")
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
LAT_RUNS = int(os.environ.get("BENCH_LAT_RUNS", "10"))


def run_quiet(cmd):
    """Wall time and CPU time (user + system, all threads) of one run."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = 0  # reaped by wait4
    return wall, ru.ru_utime + ru.ru_stime


def lookups(port):
    cmds = {
        "tether who PORT": [TETHER, "who", str(port)],
        "tether ports --tcp --port PORT": [TETHER, "ports", "--tcp", "--port", str(port)],
        "tether ports (all, with owners)": [TETHER, "ports"],
        **({"baseline who PORT": [BASELINE, "who", str(port)],
            "baseline ports (all, with owners)": [BASELINE, "ports"]} if BASELINE else {}),
        "ss -ltnp 'sport = :PORT'": ["ss", "-ltnp", f"sport = :{port}"],
        "ss -ltnp (all)": ["ss", "-ltnp"],
    }
    if shutil.which("lsof"):
        cmds["lsof -nP -iTCP:PORT -sTCP:LISTEN"] = ["lsof", "-nP", f"-iTCP:{port}", "-sTCP:LISTEN"]
    # Correctness first: every tool must see the server.
    for name, c in cmds.items():
        out = subprocess.run(c, capture_output=True, text=True).stdout
        if "python3" not in out and "PORT" in name:
            print(f"warning: {name} did not show the owner:\n{out}", file=sys.stderr)
    times = {k: [] for k in cmds}
    cpu = {k: [] for k in cmds}
    order = list(cmds)
    for _ in range(RUNS):
        random.shuffle(order)  # no tool always runs right after another one
        for k in order:
            w, c = run_quiet(cmds[k])
            times[k].append(w)
            cpu[k].append(c)
    return ({k: statistics.median(v) for k, v in times.items()},
            {k: statistics.median(v) for k, v in cpu.items()})


def latency_tether(port_of):
    out = []
    for _ in range(LAT_RUNS):
        port = port_of()
        p = subprocess.Popen([TETHER, "wait-for", f"127.0.0.1:{port}", "--timeout", "20s", "--quiet"])
        time.sleep(random.uniform(0.2, 1.2))
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        t_open = time.perf_counter()
        s.listen(8)
        rc = p.wait()
        out.append(time.perf_counter() - t_open)
        s.close()
        assert rc == 0, rc
    return out


def latency_loop(port_of):
    out = []
    for _ in range(LAT_RUNS):
        port = port_of()
        loop = f"until (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; do sleep 1; done"
        p = subprocess.Popen(["bash", "-c", loop])
        time.sleep(random.uniform(0.2, 1.2))
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        t_open = time.perf_counter()
        s.listen(8)
        p.wait()
        out.append(time.perf_counter() - t_open)
        s.close()
    return out


def fd_layouts():
    """How many processes have which fd numbers (the five most common layouts)."""
    count = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fds = tuple(sorted(int(f) for f in os.listdir(f"/proc/{d}/fd")))
        except OSError:
            continue
        count[fds] = count.get(fds, 0) + 1
    top = sorted(count.items(), key=lambda kv: -kv[1])[:5]
    return ", ".join(f"{n} x fds {list(k)}" for k, n in top)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    if not os.path.exists(TETHER):
        sys.exit(f"{TETHER} not found: cargo build --release -p tether-cli")
    server = subprocess.Popen(
        [sys.executable, "-c",
         "import os,socket,time\n"
         "s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(16)\n"
         "kids=[]\n"
         "for _ in range(3):\n"
         "    pid=os.fork()\n"
         "    if pid==0:\n"
         "        time.sleep(600); os._exit(0)\n"
         "    kids.append(pid)\n"
         "print(s.getsockname()[1], flush=True)\n"
         "time.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    extra = []
    try:
        port = int(server.stdout.readline())
        print(f"server on 127.0.0.1:{port} (1 parent + 3 pre-fork workers)")
        t0 = time.perf_counter()
        for _ in range(EXTRA):
            extra.append(subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL))
        nproc = len([d for d in os.listdir("/proc") if d.isdigit()])
        print(f"started {EXTRA} extra sleep processes in {time.perf_counter() - t0:.1f}s; "
              f"{nproc} processes visible"
              f"{' (in the PID namespace of crowd.py --ns)' if os.environ.get('CROWD_IN_NS') else ''}")
        print(f"fd layouts: {fd_layouts()}")
        print(f"load average before: {' '.join(open('/proc/loadavg').read().split()[:3])}; "
              f"{os.cpu_count()} CPUs")
        res, cpu = lookups(port)
        print(f"load average after:  {' '.join(open('/proc/loadavg').read().split()[:3])}")
        base = res["ss -ltnp 'sport = :PORT'"]
        cbase = cpu["ss -ltnp 'sport = :PORT'"]
        print(f"\nport lookup, median of {RUNS} runs each, interleaved "
              f"(wall time; CPU time = user + system of all threads):")
        print(f"  {'command':36s} {'wall':>11s} {'vs ss':>7s} {'CPU':>11s} {'vs ss':>7s}")
        for k, v in res.items():
            print(f"  {k:36s} {v * 1000:8.2f} ms {v / base:6.2f}x {cpu[k] * 1000:8.2f} ms "
                  f"{cpu[k] / cbase:6.2f}x")
    finally:
        for p in extra:
            p.kill()
        for p in extra:
            p.wait()
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    print(f"\nremoved the extra processes; port-open -> return latency, {LAT_RUNS} runs each:")
    t = latency_tether(free_port)
    l = latency_loop(free_port)
    mt, ml = statistics.median(t), statistics.median(l)
    print(f"  tether wait-for 127.0.0.1:PORT     median {mt * 1000:7.1f} ms  max {max(t) * 1000:7.1f} ms")
    print(f"  1 s polling loop (wait-for-it)     median {ml * 1000:7.1f} ms  max {max(l) * 1000:7.1f} ms")
    print(f"  ratio (loop / tether)              {ml / mt:7.1f}x")


if __name__ == "__main__":
    main()
