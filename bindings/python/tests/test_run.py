"""tether.run and tether.spawn: contained trees ended whole, GNU timeout's results, bounded
capture, waits with timeouts, bad input, a thread that keeps running while the main thread
waits, and Ctrl-C ending a wait or a run (and the run's tree)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import tether

from test_process import until


def members(child: tether.Child, n: int):
    """The command's process and its `n` descendants once they all run."""
    root = tether.Process(child.pid)
    return [root] + until(lambda: len(root.children(recursive=True)) == n and root.children(recursive=True))


def ended(identity) -> bool:
    """Exited: gone, or a zombie that its new parent has yet to reap (the orphans of an ended
    tree go to init, or to a subreaper, which reaps them in its own time)."""
    if identity.check() is not tether.IdentityCheck.SAME:
        return True
    try:
        return tether.get(identity.pid, ["status"]).status == tether.STATUS_ZOMBIE
    except tether.NoSuchProcess:
        return True


def test_a_spawned_tree_is_ended_whole():
    with tether.spawn(["sh", "-c", "sleep 300 & sleep 300 & wait"]) as child:
        ids = [m.identity for m in members(child, 2)]
        assert child.identity == ids[0] and child.pid == ids[0].pid
        assert child.containment.mechanism in ("cgroup", "session_subreaper")
        r = child.terminate_tree(grace=5)
        assert r and r.remaining == [] and set(i.pid for i in ids) <= set(r.signalled)
        assert all(ended(i) for i in ids)
        assert child.returncode == -signal.SIGTERM
    # Leaving a block ends the tree too, also when it is left by an exception.
    with pytest.raises(RuntimeError):
        with tether.spawn(["sh", "-c", "sleep 300 & sleep 300 & wait"]) as child:
            ids = [m.identity for m in members(child, 2)]
            raise RuntimeError("leave")
    assert all(ended(i) for i in ids)
    assert child.returncode == -signal.SIGKILL
    assert child.close() == []  # closing again does nothing


def test_kill_tree_and_signals():
    with tether.spawn(["sh", "-c", "sleep 300 & sleep 300 & wait"]) as child:
        ids = [m.identity for m in members(child, 2)]
        delivered = child.send_signal("CONT")
        assert set(i.pid for i in ids) <= set(delivered)
        killed = child.kill_tree()
        assert set(killed) <= set(i.pid for i in ids)
        assert all(ended(i) for i in ids)


def test_child_wait_with_a_timeout_and_poll():
    with tether.spawn(["sleep", "300"]) as child:
        assert child.poll() is None and child.returncode is None
        with pytest.raises(tether.TimeoutExpired) as e:
            child.wait(timeout=0.2)
        assert e.value.pid == child.pid and e.value.seconds == pytest.approx(0.2)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == -signal.SIGTERM
        assert child.poll() == -signal.SIGTERM == child.returncode


def test_spawn_pipes_and_its_time_limit():
    with tether.spawn(["cat"], stdin=tether.PIPE, stdout=tether.PIPE) as child:
        child.stdin.write(b"hello\n")
        child.stdin.close()
        assert child.stdout.read() == b"hello\n"
        assert child.wait(timeout=30) == 0
        child.stdout.close()
    with tether.spawn(["sleep", "300"], timeout=0.2, stdout=tether.DEVNULL) as child:
        assert child.wait(timeout=60) == -signal.SIGTERM


def test_run_captures_output_and_codes():
    r = tether.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.returncode, r.exit_code, r.signal) == (3, 3, None)
    assert (r.stdout, r.stderr) == (b"out\n", b"err\n")
    assert not r.timed_out and r.error is None and r.elapsed > 0
    assert r.args == ["sh", "-c", "echo out; echo err >&2; exit 3"]
    with pytest.raises(subprocess.CalledProcessError) as e:
        r.check_returncode()
    assert e.value.returncode == 3 and e.value.stdout == b"out\n"
    with pytest.raises(subprocess.CalledProcessError):
        tether.run(["false"], check=True)
    assert tether.run(["true"], check=True).returncode == 0
    # A signal: 128 + N, as GNU timeout and shells report it.
    r = tether.run(["sh", "-c", "kill -KILL $$"])
    assert r.returncode == 137 and r.signal == signal.SIGKILL and r.exit_code is None
    # Not captured: inherited, or sent where asked.
    r = tether.run(["sh", "-c", "echo hidden"], capture_output=False, stdout=tether.DEVNULL)
    assert r.stdout is None and r.returncode == 0


def test_run_keeps_the_last_bytes_and_counts_the_rest():
    r = tether.run(["sh", "-c", "seq 1 1000; echo oops >&2"], capture_limit=16)
    assert r.stdout == b"97\n998\n999\n1000\n"
    assert r.stdout_dropped == 3893 - 16 and r.stderr_dropped == 0
    assert tether.run(["seq", "1", "1000"], capture_limit="1K").stdout_dropped == 3893 - 1024


def test_run_that_times_out():
    # Limits long enough for the shell to have printed, or set its trap, on a loaded machine.
    r = tether.run(["sh", "-c", "echo started; sleep 300"], timeout=1)
    assert r.timed_out and r.returncode == 124
    assert r.signal == signal.SIGTERM and r.stdout == b"started\n"
    # Ignoring the signal: KILL after kill_after, and GNU's 137.
    r = tether.run(["sh", "-c", "trap '' TERM; sleep 300"], timeout=1, kill_after=0.3)
    assert r.timed_out and r.escalated and r.returncode == 137
    # Another signal, as GNU -s.
    r = tether.run(["sleep", "300"], timeout="200ms", timeout_signal="INT")
    assert r.timed_out and r.returncode == 124 and r.signal == signal.SIGINT


def test_run_in_a_directory_with_an_environment(tmp_path):
    r = tether.run(
        ["sh", "-c", 'pwd; echo "$A"; echo "${HOME-unset}"'],
        cwd=tmp_path,
        env={"A": "b c", "PATH": os.environ["PATH"]},
    )
    assert r.stdout.decode().splitlines() == [str(tmp_path), "b c", "unset"]


def test_start_failures_and_bad_input(tmp_path):
    with pytest.raises(tether.ProgramNotFound) as e:
        tether.run(["tether-no-such-program"])
    assert isinstance(e.value, FileNotFoundError) and e.value.errno == 2
    with pytest.raises(tether.ProgramNotExecutable) as e:
        tether.spawn([str(tmp_path)])
    assert isinstance(e.value, PermissionError)
    with pytest.raises(tether.InvalidArgument):
        tether.run([])
    with pytest.raises(tether.InvalidArgument):
        tether.run(["true"], timeout="soon")
    with pytest.raises(tether.InvalidArgument):
        tether.run(["true"], timeout=-1)
    with pytest.raises(tether.InvalidArgument):
        tether.run(["true"], contain="bogus")
    with pytest.raises(tether.InvalidArgument):
        tether.run(["true"], timeout_signal="NOPE")
    with pytest.raises(tether.InvalidArgument):
        tether.run(["true"], capture_limit=-1)
    with pytest.raises(TypeError):
        tether.run(5)
    with pytest.raises(TypeError):
        tether.run(["true"], env=["A=b"])
    with pytest.raises(ValueError):
        tether.run(["true"], stdout=tether.PIPE, capture_output=False)
    with pytest.raises(ValueError):
        tether.run(["true"], stdout=tether.DEVNULL)  # capture_output=True captures it
    with pytest.raises(tether.InvalidArgument):
        tether.run(["sh", "-c", "true", "a\0b"])
    child = tether.spawn(["true"])
    child.close()
    with pytest.raises(tether.Error):
        child.send_signal("TERM")


def test_a_thread_keeps_running_while_the_main_thread_waits():
    ticks = []
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    started = []

    def popen_waited_by_tether():
        started.append(subprocess.Popen(["sleep", "0.5"]))
        return tether.Process(started[0].pid).wait(timeout=60)

    t = threading.Thread(target=counter)
    t.start()
    try:
        for call in (
            lambda: tether.run(["sleep", "0.5"]),
            lambda: tether.spawn(["sleep", "0.5"]).wait(timeout=60),
            popen_waited_by_tether,
        ):
            before = len(ticks)
            began = time.monotonic()
            call()
            assert time.monotonic() - began >= 0.3
            # The thread ran throughout (it would have got no turn had the GIL been held).
            assert len(ticks) - before >= 5, call
    finally:
        stop.set()
        t.join()
        for p in started:
            p.kill()
            p.wait()


# Run in a child Python process (the tests signal only processes they create): it starts the
# named call, tells the test it has begun, and reports how KeyboardInterrupt ended it.
INTERRUPTED = textwrap.dedent(
    """
    import os, sys, time
    import tether
    what, pids = sys.argv[1], sys.argv[2]
    tree = f"echo $$ > {pids}.tmp; sleep 300 & echo $! >> {pids}.tmp; mv {pids}.tmp {pids}; wait"
    began = None
    try:
        if what == "run":
            tether.run(["sh", "-c", tree])
        elif what == "child":
            with tether.spawn(["sh", "-c", tree]) as child:
                child.wait()
        else:
            with tether.spawn(["sh", "-c", tree]) as child:
                tether.Process(child.pid).wait()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    """
)


@pytest.mark.parametrize("what", ["run", "child", "process"])
def test_ctrl_c_ends_a_wait_or_a_run_and_its_tree(tmp_path, what):
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED)
    pids = tmp_path / "pids"
    p = subprocess.Popen(
        [sys.executable, str(script), what, str(pids)], stdout=subprocess.PIPE, text=True
    )
    try:
        until(pids.exists, limit=60)
        ids = [tether.ProcessIdentity.of(int(n)) for n in pids.read_text().split()]
        assert len(ids) == 2
        began = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
        assert "interrupted" in out and p.returncode == 0
        assert time.monotonic() - began < 30  # promptly: within a check (0.1 s) on a quiet machine
        # Whole tree gone: the run ended it, the child's `with` block closed it.
        until(lambda: all(i.check() is not tether.IdentityCheck.SAME for i in ids), limit=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


# Run in a child Python process: a helper thread sends SIGINT to it while its main thread waits
# for a long command, five times; prints how long each KeyboardInterrupt took after the signal.
LATENCY = textwrap.dedent(
    """
    import json, os, signal, sys, threading, time
    import tether
    what = sys.argv[1]
    took = []
    for _ in range(5):
        sent = []
        def ctrl_c():
            sent.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGINT)
        with tether.spawn(["sleep", "300"]) as child:
            threading.Timer(0.3, ctrl_c).start()
            try:
                if what == "child":
                    child.wait()
                else:
                    tether.Process(child.pid).wait()
            except KeyboardInterrupt:
                took.append(time.monotonic() - sent[0])
    print(json.dumps(took))
    """
)


# Waits only: an interrupted run returns once the library has ended its tree (10 to 60 ms here),
# which this would measure too.
@pytest.mark.parametrize("what", ["child", "process"])
def test_ctrl_c_ends_a_wait_at_once(what):
    # The main thread sleeps in one poll that the signal interrupts (EINTR): no 0.1 s steps.
    out = subprocess.run(
        [sys.executable, "-c", LATENCY, what], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    took = sorted(json.loads(out.stdout))
    assert len(took) == 5
    # Well under 0.1 s, with room for a loaded machine (a quiet one takes about a millisecond).
    # Checks every 0.1 s would often pass this by luck (and the old 0.1 s steps of a wait,
    # which the signal's EINTR also cut short, passed it); the test below tells them apart.
    assert took[2] < 0.08, took


# Run in a child Python process: the main thread's voluntary context switches (each time it
# slept and was woken) over a 1 s blocking call.
WAKEUPS = textwrap.dedent(
    """
    import sys, threading
    import tether
    what = sys.argv[1]
    status = f"/proc/self/task/{threading.get_native_id()}/status"
    def switches():
        with open(status) as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    if what == "run":
        before = switches()
        tether.run(["sleep", "1"])
        after = switches()
    else:
        with tether.spawn(["sleep", "1"]) as child:
            before = switches()
            if what == "child":
                child.wait()
            else:
                tether.Process(child.pid).wait()
            after = switches()
    print(after - before)
    """
)


@pytest.mark.parametrize("what", ["child", "process", "run"])
def test_a_blocking_call_does_not_wake_periodically(what):
    # Checking for Ctrl-C every 0.1 s would wake the main thread about ten times in 1 s.
    out = subprocess.run(
        [sys.executable, "-c", WAKEUPS, what], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) < 5, out.stdout


def test_other_threads_act_on_a_child_the_main_thread_waits_for():
    # The main thread's wait holds the child while it sleeps; a call from another thread makes
    # it let go (and take it back after) rather than wait for the exit.
    seen = []
    with tether.spawn(["sleep", "300"]) as child:

        def later():
            time.sleep(0.3)
            seen.append(child.poll())
            child.send_signal("TERM")

        t = threading.Thread(target=later)
        t.start()
        began = time.monotonic()
        code = child.wait(timeout=60)
        t.join()
    assert seen == [None] and code == -signal.SIGTERM
    assert time.monotonic() - began < 30
