"""tether.Jobs: background jobs held by a supervisor (the `tether` program, $TETHER_BIN, which
scripts/test-python.sh builds and names). Every test has its own state directory and removes
its jobs when it ends, passed or failed: no supervisor or job process is left behind."""

from __future__ import annotations

import inspect
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


@pytest.fixture
def jobs(tmp_path):
    """Jobs in a fresh state directory; every job (and so its supervisor and tree) is removed
    at the end, and the supervisors are checked gone."""
    j = tether.Jobs(tmp_path / "state")
    try:
        yield j
    finally:
        supervisors = []
        try:
            left = j.list()
        except tether.NoSuchProcess:
            left = []  # the state directory was never created
        for s in left:
            supervisors.append(s.supervisor)
            j.remove(s.name, grace=1)
        assert all(gone(s) for s in supervisors)


def alive(identity) -> bool:
    return identity is not None and identity.check() is tether.IdentityCheck.SAME


def gone(identity) -> bool:
    """The process is gone, or soon: an exited supervisor (detached, so a child of init) is a
    zombie until init reaps it, and a zombie still holds its identity."""
    return until(lambda: not alive(identity), limit=30)


def test_start_status_logs_stop_round_trip(jobs, marker):
    s = jobs.start("web", ["sh", "-c", f"echo hello; echo oops >&2; exec sleep 300 # {marker}"])
    assert isinstance(s, tether.JobStatus)
    assert s.name == "web" and s.status == "running" and s and not s.already_running
    assert s.pid and alive(s.identity) and s.identity.pid == s.pid
    assert alive(s.supervisor) and s.restart == "no" and s.restarts == 0
    assert s.command[0] == "sh" and abs(s.started_at - time.time()) < 60
    assert repr(s).startswith("tether.JobStatus(name='web', status='running', pid=")
    with pytest.raises(AttributeError):
        s.status = "stopped"  # frozen

    st = jobs.status("web")
    assert st.status == "running" and st.pid == s.pid and st.id == s.id
    assert st.duration is not None and st.duration >= 0
    assert until(lambda: b"hello\n" in jobs.logs("web"))
    assert until(lambda: jobs.logs("web", stderr=True, lines=1) == b"oops\n")

    stopped = jobs.stop("web", grace=5)
    assert stopped.status == "stopped" and not stopped.already_stopped and not stopped
    assert stopped.signal is not None or stopped.exit_code is not None
    assert not alive(s.identity) and gone(s.supervisor)
    assert jobs.status("web").status == "stopped"
    again = jobs.stop("web")
    assert again.already_stopped and again.status == "stopped"
    # The logs stay until the job is removed.
    assert b"hello" in jobs.logs("web")


def test_starting_a_running_name_starts_nothing(jobs, marker):
    first = jobs.start("one", ["sh", "-c", f"sleep 300; : {marker}"])
    second = jobs.start("one", ["sh", "-c", f"sleep 300; : {marker}"])
    assert second.already_running and second.pid == first.pid and second.id == first.id
    assert "already_running=True" in repr(second)
    assert [p.pid for p in tether.process_iter(["pid"], cmdline=marker)] == [first.pid]


def test_a_readiness_that_never_comes_fails_the_start_and_stops_the_job(jobs, tmp_path):
    never = tmp_path / "never-there"
    began = time.monotonic()
    with pytest.raises(tether.TimeoutExpired):
        jobs.start("slow", ["sleep", "300"], ready=f"file:{never}", timeout=0.5)
    assert time.monotonic() - began < 20
    s = jobs.status("slow")
    assert not s and s.status in ("failed", "stopped", "killed")
    assert not alive(s.identity) and gone(s.supervisor)


def test_readiness_requirements_and_an_explicit_program(jobs, tmp_path):
    flag = tmp_path / "up"
    db = jobs.start(
        "db", ["sh", "-c", f"sleep 0.3; touch {flag}; exec sleep 300"], ready=f"file:{flag}"
    )
    assert db.ready and db.status == "running" and flag.exists()
    # The same state directory, the program named explicitly rather than by $TETHER_BIN.
    other = tether.Jobs(jobs.state_dir, program=os.environ["TETHER_BIN"])
    app = other.start("app", ["sleep", "300"], requires=["db"], timeout=10, log_keep=1)
    assert app.status == "running" and alive(app.identity)
    assert repr(other) == f"tether.Jobs(state_dir='{jobs.state_dir}')"


def test_list_restart_and_remove(jobs):
    a = jobs.start("a", ["sleep", "300"])
    jobs.start("b", ["sleep", "300"], env={"X": "1"}, restart="on-failure", backoff=(0.05, 1))
    assert [s.name for s in jobs.list()] == ["a", "b"]
    assert all(s.status == "running" for s in jobs.list())

    r = jobs.restart("a", grace=2)
    assert r.status == "running" and r.pid != a.pid and not alive(a.identity)

    gone = jobs.remove("b", grace=2)
    assert gone.removed and gone.name == "b" and not alive(gone.identity)
    assert not (jobs.state_dir / "b").exists()
    with pytest.raises(tether.NoSuchProcess):
        jobs.status("b")
    assert [s.name for s in jobs.list()] == ["a"]


def test_a_failing_job_is_restarted_as_the_policy_says(jobs):
    s = jobs.start(
        "flaky", ["sh", "-c", "exit 3"], restart="on-failure", max_restarts=2,
        backoff_min=0.05, backoff_max=0.1, min_uptime=10,
    )
    assert s.restart == "on-failure"
    until(lambda: jobs.status("flaky").status == "failed", limit=30)
    done = jobs.status("flaky")
    assert done.restarts == 2 and done.exit_code == 3 and done.last_exit_reason
    assert len(done.history) == 3 and all(r.exit_code == 3 for r in done.history)
    assert all(r.ended_at >= r.started_at for r in done.history)


def test_bad_input_is_the_usual_error(jobs, tmp_path):
    with pytest.raises(tether.InvalidArgument):
        jobs.start("a/b", ["true"])
    with pytest.raises(ValueError):
        jobs.start("ok", [])
    with pytest.raises(ValueError):
        jobs.start("ok", ["true"], restart="sometimes")
    with pytest.raises(ValueError):
        jobs.start("ok", ["true"], ready="nonsense:")
    with pytest.raises(ValueError):
        jobs.start("ok", ["true"], backoff=(5, 1))
    with pytest.raises(ValueError):
        jobs.start("ok", ["true"], timeout=-1)
    with pytest.raises(ValueError):
        jobs.start("ok", ["true"], max_restarts=-1)
    with pytest.raises(TypeError):
        jobs.start("ok", ["true"], backoff=(1, 2), backoff_min=1)
    with pytest.raises(TypeError):
        jobs.start("ok", ["true"], backoff=1)
    with pytest.raises(TypeError):
        jobs.start("ok", ["true"], env=["A=1"])
    with pytest.raises(tether.NoSuchProcess):
        jobs.status("nothing")
    with pytest.raises(tether.NoSuchProcess):
        jobs.stop("nothing")
    assert jobs.list() == []


def test_a_state_dir_that_is_a_symlink_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(tether.Refused) as e:
        tether.Jobs(link).start("a", ["sleep", "300"])
    assert "link" in str(e.value)
    assert os.listdir(real) == []


def test_the_state_dir_defaults_to_the_environments(tmp_path, monkeypatch):
    monkeypatch.setenv("TETHER_STATE_DIR", str(tmp_path / "from-env"))
    assert tether.Jobs().state_dir == tmp_path / "from-env"
    assert tether.Jobs(tmp_path / "given").state_dir == tmp_path / "given"


def test_a_missing_tether_program_is_named(tmp_path):
    j = tether.Jobs(tmp_path / "state", program=tmp_path / "no-such-tether")
    with pytest.raises(tether.ProgramNotFound) as e:
        j.start("a", ["sleep", "300"])
    assert isinstance(e.value, FileNotFoundError) and e.value.kind == "not_found"
    assert "TETHER_BIN" in str(e.value)


def test_blocking_job_calls_release_the_gil(jobs, tmp_path):
    ticks = []
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    # TERM is ignored (once the shell says so): the stop lasts the whole grace, then KILL.
    trapped = tmp_path / "trapped"
    jobs.start("stubborn", ["sh", "-c", f"trap '' TERM; : > {trapped}; sleep 300 & wait; sleep 300"])
    deadline = time.monotonic() + 20
    while not trapped.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    t = threading.Thread(target=counter)
    t.start()
    try:
        before = len(ticks)
        began = time.monotonic()
        s = jobs.stop("stubborn", grace=0.5)
        assert time.monotonic() - began >= 0.4
        assert len(ticks) - before >= 5
        assert s.status == "stopped"
    finally:
        stop.set()
        t.join()


# Run in a child Python process (the tests signal only processes they create): it starts (or
# restarts) a job whose readiness never comes, with a 60 s timeout; a helper thread polls the
# job's status until its command runs, then sends SIGINT to this process, as Ctrl-C would.
INTERRUPTED_START = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import tether
    what, state, never = sys.argv[1], sys.argv[2], sys.argv[3]
    jobs = tether.Jobs(state)
    if what == "restart":
        open(never, "w").close()
        jobs.start("slow", ["sleep", "300"], ready=f"file:{never}", timeout=60)
        old = jobs.status("slow").pid
        os.remove(never)
    else:
        old = None

    def interrupt():
        while True:
            try:
                s = jobs.status("slow")
                if s.status == "running" and s.pid and s.pid != old:
                    break
            except tether.NoSuchProcess:
                pass
            time.sleep(0.02)
        print("running", s.pid, flush=True)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    began = time.monotonic()
    try:
        if what == "restart":
            jobs.restart("slow", grace=1)
        else:
            jobs.start("slow", ["sleep", "300"], ready=f"file:{never}", timeout=60)
        print("returned", flush=True)
    except KeyboardInterrupt:
        print("interrupted", round(time.monotonic() - began, 1), flush=True)
    """
)


def run_script(tmp_path, source, *args):
    """Run `source` as a Python script with `args` in a child interpreter (which may send
    itself SIGINT); its stdout and stderr once it has exited with 0."""
    script = tmp_path / "interrupted.py"
    script.write_text(source)
    p = subprocess.Popen(
        [sys.executable, str(script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    return out, err


@pytest.mark.parametrize("what", ["start", "restart"])
def test_ctrl_c_cancels_a_start_and_stops_the_job(jobs, tmp_path, what):
    never = tmp_path / "never-there"
    out, err = run_script(tmp_path, INTERRUPTED_START, what, jobs.state_dir, never)
    lines = out.split("\n")
    assert lines[0].startswith("running ") and lines[1].startswith("interrupted "), (out, err)
    pid = int(lines[0].split()[1])
    # Well before the 60 s timeout: the interrupt, then the supervisor's stop (TERM ends sleep).
    assert float(lines[1].split()[1]) < 30
    s = jobs.status("slow")
    assert s.status == "stopped" and not s and s.pid == pid
    assert "cancelled" in (s.last_exit_reason or "")
    assert not alive(s.identity) and gone(s.supervisor)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def follow_threads() -> int:
    """The binding's log-follower threads alive in this process (named by the binding)."""
    return threads_named("tether-follow")


def threads_named(name: str) -> int:
    found = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                found += f.read().strip() == name
        except FileNotFoundError:
            pass  # ended meanwhile
    return found


def drain(follower, enough=lambda got: False, limit=10.0):
    """The chunks of `follower`, read on a helper thread until `enough(all bytes so far)` or
    the iteration ends (then `ended` is true). Past `limit` seconds the follower is closed
    (from this thread) and the test fails, rather than hanging."""
    chunks, ended = [], []

    def read():
        for chunk in follower:
            chunks.append(chunk)
            if enough(b"".join(chunks)):
                return
        ended.append(True)

    t = threading.Thread(target=read)
    t.start()
    t.join(limit)
    if t.is_alive():
        follower.close()
        t.join(10)
        raise AssertionError(f"not received in {limit} s: {chunks!r}")
    return chunks, bool(ended)


def wait_for_file(path) -> str:
    """Shell: wait until `path` exists (the test creates it; the job is removed either way)."""
    return f"while [ ! -e {path} ]; do sleep 0.05; done"


def test_follow_gives_the_last_lines_then_what_comes_and_closes(jobs, tmp_path):
    go = tmp_path / "go"
    jobs.start(
        "talker",
        ["sh", "-c", f"echo one; echo two; echo three; {wait_for_file(go)}; echo four; exec sleep 300"],
    )
    assert until(lambda: jobs.logs("talker") == b"one\ntwo\nthree\n")
    with jobs.follow("talker", lines=2) as f:
        assert isinstance(f, tether.JobLogFollower) and iter(f) is f
        assert repr(f) == "tether.JobLogFollower(name='talker', open=True)"
        # The last lines come first, in one chunk.
        first, ended = drain(f, enough=lambda got: True)
        assert first == [b"two\nthree\n"] and not ended
        go.touch()
        later, ended = drain(f, enough=lambda got: got.endswith(b"\n"))
        assert b"".join(later) == b"four\n" and not ended
        assert follow_threads() == 1
    # Leaving the block stopped the follow: its thread is joined, and the iteration is over.
    assert follow_threads() == 0
    assert "open=False" in repr(f)
    with pytest.raises(StopIteration):
        next(f)
    f.close()  # again: nothing
    assert jobs.status("talker").status == "running"


def test_following_a_job_that_exits_ends_with_all_its_output(jobs, tmp_path):
    go = tmp_path / "go"
    jobs.start("short", ["sh", "-c", f"echo x; {wait_for_file(go)}; echo y; echo z"])
    assert until(lambda: jobs.logs("short") == b"x\n")
    with jobs.follow("short") as f:
        go.touch()
        chunks, ended = drain(f, limit=30)
        assert ended and b"".join(chunks) == b"x\ny\nz\n" and chunks[0] == b"x\n"
        assert follow_threads() == 0
        with pytest.raises(StopIteration):
            next(f)
    assert jobs.status("short").status == "exited"
    # Following a job that has ended already gives its last lines, then ends.
    with jobs.follow("short", lines=2) as f:
        assert drain(f) == ([b"y\nz\n"], True)
    with jobs.follow("short", lines=0) as f:
        assert drain(f) == ([], True)


def test_following_an_unknown_job_raises_at_once(jobs):
    # No state directory yet, then an empty one.
    with pytest.raises(tether.NoSuchProcess):
        jobs.follow("nothing")
    os.makedirs(jobs.state_dir, mode=0o700)
    with pytest.raises(tether.NoSuchProcess):
        jobs.follow("nothing", stderr=True)
    with pytest.raises(tether.InvalidArgument):
        jobs.follow("a/b")
    assert follow_threads() == 0


def test_a_waiting_next_releases_the_gil(jobs, tmp_path):
    go = tmp_path / "go"
    # Writes "late" once `go` exists, or "timeout" after 10 s without it (a failure, not a hang).
    waited = f"i=0; while [ ! -e {go} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done"
    jobs.start(
        "slow",
        ["sh", "-c", f"echo early; {waited}; [ -e {go} ] && echo late || echo timeout; exec sleep 300"],
    )
    assert until(lambda: jobs.logs("slow") == b"early\n")
    with jobs.follow("slow", lines=1) as f:
        assert next(f) == b"early\n"

        def touch():
            time.sleep(0.2)
            go.touch()

        # The only way "late" comes is that this thread runs while next() waits.
        t = threading.Thread(target=touch)
        t.start()
        try:
            assert next(f) == b"late\n"
        finally:
            t.join()


# Run in a child Python process: it follows a job that writes nothing; a helper thread waits
# until next() waits (on the binding's "tether-run" thread), then sends SIGINT to the main
# thread, as Ctrl-C would. `threads_named` is this module's, by its source.
INTERRUPTED_FOLLOW = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import tether

    """
) + inspect.getsource(threads_named) + textwrap.dedent(
    """

    def interrupt():
        while not threads_named("tether-run"):
            time.sleep(0.01)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    f = tether.Jobs(sys.argv[1]).follow(sys.argv[2])
    threading.Thread(target=interrupt, daemon=True).start()
    began = time.monotonic()
    try:
        next(f)
        print("returned", flush=True)
    except KeyboardInterrupt:
        print("interrupted", round(time.monotonic() - began, 1), flush=True)
    print("ended" if next(f, None) is None else "more", threads_named("tether-follow"), flush=True)
    """
)


def test_ctrl_c_ends_a_waiting_follow(jobs, tmp_path):
    jobs.start("quiet", ["sleep", "300"])
    out, err = run_script(tmp_path, INTERRUPTED_FOLLOW, jobs.state_dir, "quiet")
    lines = out.split("\n")
    assert lines[0].startswith("interrupted ") and lines[1] == "ended 0", (out, err)
    assert float(lines[0].split()[1]) < 10
    assert jobs.status("quiet").status == "running"
