"""tether.Process: inspecting itself, children, signals, waits, tree stops, identity refusals
(PID reuse forced inside a PID namespace), bad input."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import tether


def until(cond, limit=20.0):
    """Poll `cond` until true, up to `limit` seconds (tolerant: the machine is shared)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_inspecting_itself():
    me = tether.Process()
    assert me.pid == os.getpid()
    assert me.identity == tether.ProcessIdentity.current()
    assert me.is_running()
    info = me.info(["name", "cmdline", "ppid"])
    assert info.pid == os.getpid() and info.ppid == os.getppid()
    assert info.cmdline[0] == sys.executable or "python" in info.name
    # psutil's one-attribute methods.
    assert me.ppid() == os.getppid() and me.cmdline() == info.cmdline
    assert me.name() == info.name and me.status() == "running"
    assert me.exe() == os.path.realpath(sys.executable)
    assert abs(me.create_time() - tether.get(os.getpid(), ["create_time"]).create_time) < 0.01
    assert isinstance(me.username(), str)
    # The same process by identity, string or object, compares equal.
    again = tether.Process(str(me.identity))
    assert again == me and hash(again) == hash(me)
    assert tether.Process.from_identity(me.identity) == me
    assert os.getppid() in me.ancestors()


def test_children_recursive_and_not(children):
    p = children.session("sleep 300 & sleep 300 & echo up; wait")
    p.stdout.readline()
    sh = tether.Process(p.pid)
    kids = until(lambda: len(sh.children()) == 2 and sh.children())
    assert all(isinstance(k, tether.Process) for k in kids)
    assert {k.pid for k in sh.children(recursive=True)} == {k.pid for k in kids}
    assert p.pid in [c.pid for c in tether.Process().children()]
    assert sh.pid in kids[0].ancestors()


def test_signal_and_wait_of_our_child(children):
    c = children.sleeper()
    p = tether.Process(c.pid)
    with pytest.raises(tether.TimeoutExpired) as e:
        p.wait(timeout=0.1)
    assert e.value.pid == c.pid and e.value.seconds == pytest.approx(0.1)
    assert isinstance(e.value, TimeoutError)
    p.terminate()
    # Our child: the exit status is known, minus the signal as subprocess has it.
    assert p.wait(timeout=30) == -signal.SIGTERM
    assert not p.is_running()
    # Nothing was reaped: the owner still collects the status.
    assert c.wait(timeout=30) == -signal.SIGTERM
    # The handle signals nobody now, although it still exists.
    with pytest.raises(tether.NoSuchProcess) as e:
        p.kill()
    assert e.value.pid == c.pid


def test_wait_for_a_process_that_is_not_our_child(children):
    p = children.session("sleep 300 & echo $!; wait")
    grandchild = tether.Process(int(p.stdout.readline()))
    grandchild.kill()
    # Not our child: the kernel does not tell its status.
    assert grandchild.wait(timeout=30) is None


def test_terminate_tree_ends_every_member(children):
    p = children.session("sleep 300 & sleep 300 & echo up; wait")
    p.stdout.readline()
    root = tether.Process(p.pid)
    members = [root] + until(lambda: len(root.children()) == 2 and root.children())
    r = root.terminate_tree(grace=5)
    assert r and not r.already_gone and r.remaining == []
    assert {m.pid for m in members} <= set(r.signalled)
    assert r.signal == "SIGTERM" and r.kill_signal == "SIGKILL" and r.grace == 5.0
    # Every member has exited (a zombie until its parent, or init, reaps it).
    assert not any(m.is_running() for m in members)
    assert p.wait(timeout=30) == -signal.SIGTERM
    # Again: the process is gone, which is a success.
    again = root.terminate_tree(grace=1)
    assert again and again.signalled == []


def test_an_identity_with_another_start_time_is_refused(children):
    c = children.sleeper()
    real = tether.ProcessIdentity.of(c.pid)
    wrong = tether.ProcessIdentity(f"{c.pid}:{real.start_ticks + 1}:{real.boot_id[:8]}")
    with pytest.raises(tether.ProcessReused) as e:
        tether.Process(wrong)
    assert isinstance(e.value, tether.NoSuchProcess) and e.value.kind == "identity_mismatch"
    with pytest.raises(tether.ProcessReused):
        tether.Process(str(wrong))
    assert c.poll() is None  # nothing was sent to it


REUSE = textwrap.dedent(
    """
    import os, subprocess, sys
    import tether

    def sleeper():
        return subprocess.Popen(["sleep", "300"])

    first = sleeper()
    pid = first.pid
    held = tether.Process(pid)
    ident = held.identity
    first.kill(); first.wait()
    second = None
    for _ in range(50):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(pid - 1))
        s = sleeper()
        if s.pid == pid:
            second = s
            break
        s.kill(); s.wait()
    assert second is not None, "the kernel did not hand out the PID again"
    try:
        assert ident.check() is tether.IdentityCheck.REUSED
        try:
            tether.Process(ident)
        except tether.ProcessReused:
            pass
        else:
            raise AssertionError("the reused identity was opened")
        # The handle taken before the reuse reaches nobody and reads nothing of the new one.
        assert not held.is_running()
        for call in (held.kill, held.terminate, held.info):
            try:
                call()
            except tether.NoSuchProcess:
                pass
            else:
                raise AssertionError(f"{call} reached the new process")
        assert second.poll() is None, "the new process was signalled"
        r = held.terminate_tree(grace=1)
        assert second.poll() is None, "the new process was stopped"
    finally:
        second.kill(); second.wait()
    print("reuse refused")
    """
)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="forcing PID reuse needs root and unshare (a PID namespace of its own)",
)
def test_pid_reuse_is_refused_inside_a_pid_namespace(tmp_path):
    script = tmp_path / "reuse.py"
    script.write_text(REUSE)
    r = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "reuse refused" in r.stdout


def test_bad_input():
    for bad in (0, -1, 2**31, 2**80, "0", "abc", "1:2"):
        with pytest.raises(tether.InvalidArgument) as e:
            tether.Process(bad)
        assert isinstance(e.value, ValueError)
    for bad in (1.5, b"12", [1], True):
        with pytest.raises(TypeError):
            tether.Process(bad)
    me = tether.Process()
    with pytest.raises(tether.InvalidArgument):
        me.send_signal("NOPE")
    with pytest.raises(TypeError):
        me.send_signal(1.0)
    with pytest.raises(tether.InvalidArgument):
        me.wait(timeout=-1)
    with pytest.raises(tether.InvalidArgument):
        me.terminate_tree(grace="soon")
    with pytest.raises(tether.InvalidArgument):
        me.info(["no_such_attr"])


def test_no_such_process(children):
    c = children.sleeper()
    pid = c.pid
    c.kill()
    c.wait()
    with pytest.raises(tether.NoSuchProcess) as e:
        tether.Process(pid)
    assert e.value.pid == pid and isinstance(e.value, ProcessLookupError)
