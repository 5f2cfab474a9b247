"""tether.retry: attempts counted, codes that stop the retries, time limits, streams, bad
options, a thread that keeps running during a retry (the GIL is released), and Ctrl-C
cancelling a retry and ending the running attempt's tree."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import tether

from test_process import until


def test_attempts_are_counted(tmp_path):
    f = tmp_path / "f"
    r = tether.retry(["sh", "-c", f"echo x >> {f}; exit 7"], attempts=3, delay=0.01)
    assert f.read_text() == "x\nx\nx\n"
    assert r.outcome == "exhausted" and r.returncode == 7 and r.exit_code == 7 and not r
    assert [a.number for a in r.attempts] == [1, 2, 3]
    assert all(a.code == 7 and not a.timed_out and a.signal is None for a in r.attempts)
    assert [a.delay is not None for a in r.attempts] == [True, True, False]
    assert r.attempts[0].delay == pytest.approx(0.01, abs=0.005)
    # Exponential: the second delay is twice the first.
    assert r.attempts[1].delay == pytest.approx(0.02, abs=0.005)
    assert r.attempts[1].started_at >= r.attempts[0].started_at + 0.01
    assert r.elapsed >= 0.03 and r.args[0] == "sh"
    assert "outcome='exhausted'" in repr(r) and "number=1" in repr(r.attempts[0])
    with pytest.raises(subprocess.CalledProcessError):
        r.check_returncode()


def test_success_on_the_second_attempt(tmp_path):
    mark = tmp_path / "second"
    r = tether.retry(
        ["sh", "-c", f"[ -e {mark} ] || {{ touch {mark}; exit 7; }}"],
        attempts=5, delay=0.01, backoff="fixed",
    )
    assert r and r.outcome == "succeeded" and r.returncode == 0
    assert [a.code for a in r.attempts] == [7, 0]
    assert all(a.pid for a in r.attempts)
    r.check_returncode()


def test_codes_that_are_not_retried():
    r = tether.retry(["sh", "-c", "exit 2"], attempts=5, delay=0.01)
    assert (r.outcome, r.rule, r.returncode, len(r.attempts)) == ("not_retried", "default", 2, 1)
    r = tether.retry(["sh", "-c", "exit 7"], attempts=5, delay=0.01, stop_on=[7, 9])
    assert (r.outcome, r.rule, len(r.attempts)) == ("not_retried", "stop_on", 1)
    r = tether.retry(["sh", "-c", "exit 7"], attempts=5, delay=0.01, retry_on="3-4")
    assert (r.outcome, r.rule, len(r.attempts)) == ("not_retried", "not_in_retry_on", 1)
    # retry_on overrides the defaults.
    r = tether.retry(["sh", "-c", "exit 2"], attempts=2, delay=0.01, retry_on=2)
    assert (r.outcome, len(r.attempts)) == ("exhausted", 2)
    # A program that is not there is an attempt with code 127, not retried.
    r = tether.retry(["/nonexistent/program"], attempts=3, delay=0.01)
    assert (r.outcome, r.returncode, len(r.attempts)) == ("not_retried", 127, 1)
    assert r.attempts[0].error and r.attempts[0].pid is None


def test_a_signal_kills_an_attempt():
    r = tether.retry(["sh", "-c", "kill -KILL $$"], attempts=2, delay=0.01)
    assert [a.code for a in r.attempts] == [137, 137]
    assert r.attempts[0].signal == signal.SIGKILL and r.outcome == "exhausted"


def test_time_limits():
    r = tether.retry(["sleep", "10"], attempts=2, delay=0, attempt_timeout=0.2)
    assert r.returncode == 124 and r.outcome == "exhausted"
    assert all(a.timed_out and a.limit == "attempt_timeout" and a.code == 124 for a in r.attempts)
    assert r.elapsed < 9
    r = tether.retry(["sleep", "10"], attempts=5, delay=0.01, max_time=0.3)
    assert r.outcome == "max_time" and r.returncode == 124 and len(r.attempts) == 1
    assert r.attempts[0].limit == "max_time" and r.elapsed < 9


def test_streams_and_environment(tmp_path):
    out = tmp_path / "out"
    with open(out, "wb") as f:
        r = tether.retry(
            ["/bin/sh", "-c", 'echo "$A:$HOME"; exit 1'],
            attempts=2, delay=0, env={"A": "1"}, stdout=f, stderr=tether.DEVNULL,
            stdin=tether.DEVNULL, cwd=tmp_path,
        )
    assert len(r.attempts) == 2
    # The same file for every attempt; the environment is the whole one, as in run().
    assert out.read_text() == "1:\n1:\n"
    r = tether.retry(["sh", "-c", "pwd > where"], cwd=tmp_path)
    assert r and (tmp_path / "where").read_text().strip() == str(tmp_path)


def test_bad_options_are_the_usual_errors():
    for kwargs in (
        dict(backoff="cubic"),
        dict(retry_on="0"),
        dict(retry_on="3", stop_on=[3]),
        dict(delay=-1),
        dict(attempt_timeout="soon"),
        dict(retry_on=[]),
        dict(stdout=tether.PIPE),
        dict(attempts=-1),
    ):
        with pytest.raises(ValueError):
            tether.retry(["true"], **kwargs)
    with pytest.raises(tether.InvalidArgument):
        tether.retry([])
    for kwargs in (dict(retry_on=[1.5]), dict(env=["A=1"]), dict(delay=[1]), dict(attempts="3")):
        with pytest.raises(TypeError):
            tether.retry(["true"], **kwargs)


def test_a_thread_keeps_running_during_a_retry():
    ticks = []
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=counter)
    t.start()
    try:
        began = time.monotonic()
        r = tether.retry(["sh", "-c", "sleep 0.3; exit 1"], attempts=2, delay=0.2)
        assert len(r.attempts) == 2 and time.monotonic() - began >= 0.7
        # The thread ran throughout (it would have got no turn had the GIL been held).
        assert len(ticks) >= 30
    finally:
        stop.set()
        t.join()


# Run in a child Python process (the tests signal only processes they create): it starts a
# retry whose attempt writes its tree's PIDs, and reports how KeyboardInterrupt ended it.
INTERRUPTED = textwrap.dedent(
    """
    import sys, time
    import tether
    when, pids = sys.argv[1], sys.argv[2]
    tree = f"echo $$ > {pids}.tmp; sleep 300 & echo $! >> {pids}.tmp; mv {pids}.tmp {pids}; "
    tree += "exit 1" if when == "delay" else "wait"
    began = time.monotonic()
    try:
        tether.retry(["sh", "-c", tree], attempts=3, delay=300)
    except KeyboardInterrupt:
        print("interrupted", round(time.monotonic() - began, 1), flush=True)
    """
)


@pytest.mark.parametrize("when", ["attempt", "delay"])
def test_ctrl_c_cancels_a_retry_and_ends_the_attempt_tree(tmp_path, when):
    script = tmp_path / "interrupted.py"
    script.write_text(INTERRUPTED)
    pids = tmp_path / "pids"
    p = subprocess.Popen(
        [sys.executable, str(script), when, str(pids)], stdout=subprocess.PIPE, text=True
    )
    try:
        until(pids.exists, limit=60)
        if when == "attempt":
            ids = [tether.ProcessIdentity.of(int(n)) for n in pids.read_text().split()]
            assert len(ids) == 2
        else:
            # The attempt has failed (its `sleep` was ended with it); now in the 300 s delay.
            ids = []
            time.sleep(0.5)
        began = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
        assert "interrupted" in out and p.returncode == 0
        assert time.monotonic() - began < 30  # at once, not after the delay or the attempt
        until(lambda: all(i.check() is not tether.IdentityCheck.SAME for i in ids), limit=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
