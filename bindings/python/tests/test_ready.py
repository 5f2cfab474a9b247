"""wait_for: ports and files made ready by a thread, timeouts, watched processes, Ctrl-C, and
the GIL released while waiting."""

from __future__ import annotations

import datetime
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import tether


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def later(delay: float, action) -> threading.Thread:
    t = threading.Thread(target=lambda: (time.sleep(delay), action()))
    t.start()
    return t


def test_wait_for_a_port_opened_by_a_thread():
    port = free_port()
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)

    def listen():
        server.bind(("127.0.0.1", port))
        server.listen()

    t = later(0.3, listen)
    try:
        r = tether.wait_for(f"127.0.0.1:{port}", timeout=60)
        t.join()
        assert r and r.ready and r.outcome == "ready"
        (tr,) = r.targets
        assert (tr.target, tr.kind, tr.ready) == (f"127.0.0.1:{port}", "tcp", True)
        assert tr.attempts >= 1 and tr.time_to_ready is not None and tr.time_to_ready <= r.elapsed
        # Ready at once now; an int port means ":PORT" on localhost.
        assert tether.wait_for(port, timeout=5).targets[0].target == f":{port}"
    finally:
        t.join()
        server.close()


def test_wait_for_a_file_and_any(tmp_path):
    path = tmp_path / "ready"
    t = later(0.2, path.touch)
    r = tether.wait_for([f"file:{path}", f"file:{tmp_path}/never"], timeout=60, any=True)
    t.join()
    assert r.ready and [x.ready for x in r.targets] == [True, False]


def test_reverse_waits_until_not_ready(tmp_path):
    path = tmp_path / "lock"
    path.touch()
    t = later(0.2, path.unlink)
    assert tether.wait_for(f"file:{path}", timeout=datetime.timedelta(seconds=60), reverse=True).ready
    t.join()


def test_timeout_raises_with_the_result(tmp_path):
    target = f"file:{tmp_path}/never"
    with pytest.raises(tether.TimeoutExpired) as e:
        tether.wait_for(target, timeout="200ms")
    assert isinstance(e.value, TimeoutError) and e.value.kind == "timed_out"
    assert e.value.seconds == pytest.approx(0.2)
    assert e.value.result.outcome == "timed_out" and not e.value.result
    assert target in str(e.value)
    r = tether.wait_for(target, timeout=0.1, check=False)
    assert (r.outcome, r.ready, r.targets[0].ready) == ("timed_out", False, False)
    assert r.elapsed >= 0.1


def test_watched_process_dying_first(children, tmp_path):
    child = children.sleeper()
    later(0.2, child.kill)
    with pytest.raises(tether.WaitFailed) as e:
        tether.wait_for(f"file:{tmp_path}/never", timeout=60, watch_pid=child.pid)
    assert e.value.result.outcome == "process_died"
    assert e.value.result.watched.startswith(f"{child.pid}:")
    child.wait()
    # A watched identity that is already gone ends the wait at once.
    gone = tether.ProcessIdentity(e.value.result.watched)
    r = tether.wait_for(f"file:{tmp_path}/never", watch_pid=gone, check=False)
    assert r.outcome == "process_died"


def test_wait_for_exit(children):
    child = children.sleeper()
    id = tether.ProcessIdentity.of(child.pid)
    t = later(0.2, child.kill)
    r = tether.wait_for(f"exit:{id}", timeout=60)
    t.join()
    assert r.targets[0].kind == "exit" and r.ready


def test_gil_is_released_while_waiting(tmp_path):
    """A Python thread keeps counting while wait_for blocks the main thread."""
    count = 0
    stop = threading.Event()

    def counter():
        nonlocal count
        while not stop.is_set():
            count += 1

    t = threading.Thread(target=counter)
    t.start()
    try:
        time.sleep(0.05)
        before = count
        r = tether.wait_for(f"file:{tmp_path}/never", timeout=1.0, check=False)
        during = count - before
    finally:
        stop.set()
        t.join()
    assert r.outcome == "timed_out"
    # Held, the GIL would let the counter run at most a switch interval (5 ms) before the wait
    # started; released, it counts for the whole second (millions of steps on an idle machine).
    assert during > 10_000, during


def test_wait_in_another_thread(tmp_path):
    path = tmp_path / "ready"
    out = {}
    t = threading.Thread(target=lambda: out.update(r=tether.wait_for(f"file:{path}", timeout=60)))
    t.start()
    time.sleep(0.1)
    path.touch()
    t.join()
    assert out["r"].ready


CTRL_C = textwrap.dedent(
    """
    import os, signal, sys, threading, time, tether
    handled = []
    if sys.argv[1] == "quiet":
        signal.signal(signal.SIGINT, lambda *a: handled.append(1))
    t0 = time.monotonic()
    try:
        # Sent while the wait runs (it starts well within the second).
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
        r = tether.wait_for("file:/nonexistent/tether/never", timeout=float(sys.argv[2]), check=False)
        print("ended", r.outcome, len(handled))
    except KeyboardInterrupt:
        print("interrupted", round(time.monotonic() - t0, 1))
    """
)


def test_ctrl_c_interrupts_the_wait():
    # In a child interpreter: the signal goes to a process this test started.
    out = subprocess.run([sys.executable, "-c", CTRL_C, "default", "60"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    word, secs = out.stdout.split()
    assert word == "interrupted" and 1.0 <= float(secs) < 30


def test_a_signal_handler_that_does_not_raise_lets_the_wait_go_on():
    out = subprocess.run([sys.executable, "-c", CTRL_C, "quiet", "2"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ended", "timed_out", "1"]


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: tether.wait_for("bogus://x"), tether.InvalidArgument),
        (lambda: tether.wait_for("localhost"), tether.InvalidArgument),
        (lambda: tether.wait_for(":70000"), tether.InvalidArgument),
        (lambda: tether.wait_for(70000), tether.InvalidArgument),
        (lambda: tether.wait_for([]), tether.InvalidArgument),
        (lambda: tether.wait_for("log:/tmp/x=("), tether.InvalidArgument),
        (lambda: tether.wait_for(":80", timeout=-1), tether.InvalidArgument),
        (lambda: tether.wait_for(":80", timeout="soon"), tether.InvalidArgument),
        (lambda: tether.wait_for(":80", interval=0), tether.InvalidArgument),
        (lambda: tether.wait_for(":80", http_method="BREW"), tether.InvalidArgument),
        (lambda: tether.wait_for(":80", http_status="700"), tether.InvalidArgument),
        (lambda: tether.wait_for(":80", http_headers={"bad name": "x"}), tether.InvalidArgument),
        (lambda: tether.wait_for(":80", watch_pid=0), tether.InvalidArgument),
        (lambda: tether.wait_for(":80", watch_pid="1:x:y"), tether.InvalidArgument),
        (lambda: tether.wait_for(":80", watch_pid=1, watch_pidfile="/x"), tether.InvalidArgument),
        (lambda: tether.wait_for(object()), TypeError),
        (lambda: tether.wait_for([1.5]), TypeError),
        (lambda: tether.wait_for(b":80"), TypeError),
        (lambda: tether.wait_for(":80", timeout=[1]), TypeError),
        (lambda: tether.wait_for(":80", timeout=True), TypeError),
        (lambda: tether.wait_for(":80", watch_pid=1.0), TypeError),
        (lambda: tether.wait_for(":80", bogus=1), TypeError),
    ],
)
def test_bad_input(call, error):
    with pytest.raises(error):
        call()
