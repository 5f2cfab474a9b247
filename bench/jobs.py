#!/usr/bin/env python3
"""Side-by-side benchmarks of tether's background jobs against pm2 and supervisord.

Run as root from the repository root after `cargo build --release`. The peers are installed once into
a cache directory (network needed, so outside the crowd's network namespace), then measured on a
crowded machine:

    python3 bench/jobs.py --setup            # npm install pm2, pip install supervisor (in a venv)
    python3 /work/shared/tools/crowd.py 5000 --ns -- python3 bench/jobs.py [--rounds N] [--tether PATH]

The cache is $TETHER_BENCH_PEERS, else /tmp/tether-bench-peers; without --setup the bench installs the
peers itself when they are missing (which works only with a network).

Measures (medians over N rounds, the three tools interleaved in each round, order rotated):
  1. start -> running:  tether start NAME -- sleep 3600   (returns once the command runs; no daemon)
                        pm2 start /bin/sleep --name NAME -- 3600   (pm2's daemon already up)
                        supervisorctl start NAME   (supervisord already up; startsecs=0, so it returns
                        once the process runs, as the others do)
  2. stop -> gone:      tether stop NAME   /   pm2 delete NAME   /   supervisorctl stop NAME
                        (each returns once the process has exited)
  3. tether status --json with 100 jobs running (target <= 20 ms)
  4. follow -> end:     how long after a command's exit a follower of its log returns:
                        tether logs -f NAME   against GNU   tail -F --pid=PID LOG   (default -s 1)
                        (the command, sh -c 'sleep 0.2; : > done', stamps its end; the follower's
                        end is when the bench's waitpid returns)

Every job, daemon and state file is removed at the end.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TETHER = os.path.join(ROOT, "target", "release", "tether")
if "--tether" in sys.argv:
    TETHER = os.path.abspath(sys.argv[sys.argv.index("--tether") + 1])
ROUNDS = 20
if "--rounds" in sys.argv:
    ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1])
PEERS = os.environ.get("TETHER_BENCH_PEERS", "/tmp/tether-bench-peers")
PM2 = os.path.join(PEERS, "npm", "node_modules", ".bin", "pm2")
VENV = os.path.join(PEERS, "venv")
SUPERVISORD = os.path.join(VENV, "bin", "supervisord")
SUPERVISORCTL = os.path.join(VENV, "bin", "supervisorctl")
STATUS_TARGET_MS = 20.0
STATUS_JOBS = 100


def run(cmd, env=None, check=True):
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r


def setup():
    os.makedirs(PEERS, exist_ok=True)
    if not os.path.exists(PM2):
        print("installing pm2 (npm) ...", file=sys.stderr)
        run(["npm", "install", "--prefix", os.path.join(PEERS, "npm"), "pm2@7", "--no-audit", "--no-fund",
             "--silent"])
    if not os.path.exists(SUPERVISORCTL):
        print("installing supervisor (PyPI, venv) ...", file=sys.stderr)
        run([sys.executable, "-m", "venv", VENV])
        run([os.path.join(VENV, "bin", "pip"), "install", "-q", "supervisor"])


def timed(cmd, env=None):
    t = time.perf_counter()
    run(cmd, env=env)
    return (time.perf_counter() - t) * 1e3


def alive(pid):
    """Running (a zombie is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Pm2:
    name = "pm2"

    def __init__(self, tmp):
        self.env = dict(os.environ, PM2_HOME=os.path.join(tmp, "pm2home"))
        run([PM2, "ping"], env=self.env)  # starts the daemon

    def start(self, name):
        return timed([PM2, "start", "/bin/sleep", "--name", name, "--", "3600"], env=self.env)

    def stop(self, name):
        return timed([PM2, "delete", name], env=self.env)

    def close(self):
        run([PM2, "kill"], env=self.env, check=False)


class Supervisor:
    name = "supervisorctl"

    def __init__(self, tmp):
        self.conf = os.path.join(tmp, "supervisord.conf")
        sock = os.path.join(tmp, "supervisor.sock")
        with open(self.conf, "w") as f:
            f.write(f"""[unix_http_server]
file={sock}
[supervisord]
pidfile={tmp}/supervisord.pid
logfile={tmp}/supervisord.log
childlogdir={tmp}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[supervisorctl]
serverurl=unix://{sock}
""")
            for i in range(ROUNDS):
                f.write(f"""[program:b{i}]
command=/bin/sleep 3600
autostart=false
autorestart=false
startsecs=0
stopwaitsecs=10
""")
        run([SUPERVISORD, "-c", self.conf])
        deadline = time.time() + 20
        while run([SUPERVISORCTL, "-c", self.conf, "pid"], check=False).returncode != 0:
            if time.time() > deadline:
                raise SystemExit("supervisord did not come up")
            time.sleep(0.1)

    def start(self, name):
        return timed([SUPERVISORCTL, "-c", self.conf, "start", name])

    def stop(self, name):
        return timed([SUPERVISORCTL, "-c", self.conf, "stop", name])

    def close(self):
        run([SUPERVISORCTL, "-c", self.conf, "shutdown"], check=False)


class Tether:
    name = "tether"

    def __init__(self, tmp):
        self.state = os.path.join(tmp, "tether-state")

    def start(self, name):
        return timed([TETHER, "start", name, "--state-dir", self.state, "--", "sleep", "3600"])

    def stop(self, name):
        return timed([TETHER, "stop", name, "--state-dir", self.state])

    def close(self):
        if os.path.isdir(self.state):
            for n in os.listdir(self.state):
                run([TETHER, "rm", n, "--state-dir", self.state, "--grace", "1"], check=False)


def bench_start_stop(tools):
    res = {t.name: {"start": [], "stop": []} for t in tools}
    for r in range(ROUNDS):
        order = tools[r % len(tools):] + tools[:r % len(tools)]
        for t in order:
            res[t.name]["start"].append(t.start(f"b{r}"))
        for t in order:
            res[t.name]["stop"].append(t.stop(f"b{r}"))
    return res


def bench_status(tmp):
    state = os.path.join(tmp, "status-state")
    names = [f"j{i}" for i in range(STATUS_JOBS)]
    procs = [subprocess.Popen([TETHER, "start", n, "--state-dir", state, "--", "sleep", "3600"],
                              stdout=subprocess.DEVNULL) for n in names]
    for p in procs:
        p.wait()
    out = run([TETHER, "status", "--json", "--state-dir", state]).stdout
    running = out.count('"status": "running"')
    times = [timed([TETHER, "status", "--json", "--state-dir", state]) for _ in range(max(ROUNDS, 20))]
    procs = [subprocess.Popen([TETHER, "rm", n, "--state-dir", state, "--grace", "1"],
                              stdout=subprocess.DEVNULL) for n in names]
    for p in procs:
        p.wait()
    return running, times


FOLLOW_CMD = "sleep 0.2; : > done"


def follow_latency_ms(cwd, follower):
    """Milliseconds from the stamp `done` (the command's last act) to `follower`'s exit."""
    # A blocking wait (Popen.wait with a timeout would poll, adding up to 50 ms); a timer
    # ends a follower that would never end by itself.
    watchdog = threading.Timer(30, follower.kill)
    watchdog.start()
    follower.wait()
    end = time.time_ns()
    watchdog.cancel()
    if follower.returncode < 0:
        raise SystemExit(f"{follower.args[0]} did not end with the command it followed")
    return (end - os.stat(os.path.join(cwd, "done")).st_mtime_ns) / 1e6


def bench_follow_end(tmp):
    """tether logs -f against tail -F --pid, alternated, each following a command to its end."""
    state = os.path.join(tmp, "follow-state")
    res = {"tether": [], "tail": []}
    for r in range(ROUNDS):
        for tool in (("tether", "tail") if r % 2 == 0 else ("tail", "tether")):
            cwd = os.path.join(tmp, f"follow-{tool}-{r}")
            os.makedirs(cwd)
            if tool == "tether":
                name = f"f{r}"
                run([TETHER, "start", name, "--state-dir", state, "--cwd", cwd, "--", "sh", "-c", FOLLOW_CMD])
                f = subprocess.Popen([TETHER, "logs", "-f", name, "--state-dir", state],
                                     stdout=subprocess.DEVNULL)
            else:
                log = os.path.join(cwd, "log")
                with open(log, "w") as out:
                    cmd = subprocess.Popen(["sh", "-c", FOLLOW_CMD], cwd=cwd, stdout=out)
                f = subprocess.Popen(["tail", "-F", f"--pid={cmd.pid}", log], stdout=subprocess.DEVNULL)
            if tool == "tail":
                # Reaped at once, as a supervisor would: tail's kill(PID, 0) succeeds on a zombie.
                cmd.wait()
            res[tool].append(follow_latency_ms(cwd, f))
            if tool == "tether":
                run([TETHER, "rm", name, "--state-dir", state], check=False)
    return res


def main():
    if not os.path.exists(TETHER):
        raise SystemExit(f"{TETHER} missing: cargo build --release first")
    setup()
    if "--setup" in sys.argv:
        return
    nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
    load = os.getloadavg()
    tmp = tempfile.mkdtemp(prefix="tether-bench-jobs-")
    tools = []
    try:
        tools = [Tether(tmp), Pm2(tmp), Supervisor(tmp)]
        res = bench_start_stop(tools)
        running, status_times = bench_status(tmp)
        follow = bench_follow_end(tmp)
    finally:
        for t in tools:
            t.close()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"# bench/jobs.py: {ROUNDS} rounds; {nproc} processes in /proc; load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f} at the start (other builds may be running: figures are noisy)")
    print(f"# command: python3 /work/shared/tools/crowd.py 5000 --ns -- python3 bench/jobs.py")
    print()
    print("| operation | tether ms | pm2 ms | supervisorctl ms | pm2 / tether | supervisorctl / tether |")
    print("|---|---:|---:|---:|---:|---:|")
    for op, label in (("start", "start -> running"), ("stop", "stop -> gone")):
        m = {k: statistics.median(v[op]) for k, v in res.items()}
        print(f"| {label} | {m['tether']:.1f} | {m['pm2']:.1f} | {m['supervisorctl']:.1f} | "
              f"{m['pm2'] / m['tether']:.1f}x | {m['supervisorctl'] / m['tether']:.1f}x |")
    med = statistics.median(status_times)
    verdict = "meets" if med <= STATUS_TARGET_MS else "MISSES"
    print()
    print(f"tether status --json with {STATUS_JOBS} jobs ({running} running): median {med:.1f} ms, "
          f"p90 {sorted(status_times)[int(len(status_times) * 0.9)]:.1f} ms ({verdict} the {STATUS_TARGET_MS:.0f} ms "
          f"target)")
    ft, fg = statistics.median(follow["tether"]), statistics.median(follow["tail"])
    print()
    print(f"follow -> end after the command exits: tether logs -f median {ft:.1f} ms (max "
          f"{max(follow['tether']):.1f}), tail -F --pid median {fg:.1f} ms (max {max(follow['tail']):.1f}): "
          f"{fg / ft:.0f}x sooner")


if __name__ == "__main__":
    main()
