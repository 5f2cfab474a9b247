"""process_iter, snapshot and get: inspecting this process and children it starts."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time

import pytest

import tether


def own_cmdline() -> list:
    with open("/proc/self/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0")[:-1]]


def test_inspects_itself():
    me = tether.get(os.getpid(), tether.ATTRS)
    assert me.pid == os.getpid()
    assert me.ppid == os.getppid()
    assert me.pgid == os.getpgid(0)
    assert me.sid == os.getsid(0)
    assert me.exe == os.readlink("/proc/self/exe")
    assert me.cmdline == own_cmdline()
    assert me.name == os.path.basename(own_cmdline()[0])[:15]
    assert me.uid == os.geteuid()
    assert me.username == pwd.getpwuid(os.geteuid()).pw_name
    assert me.status == tether.STATUS_RUNNING
    # Start time to the clock tick, as Unix time: before now, after the machine booted.
    with open("/proc/uptime") as f:
        booted = time.time() - float(f.read().split()[0])
    assert booted - 1 <= me.create_time <= time.time()
    assert me.memory_info.rss > 0 and me.memory_info.vms >= me.memory_info.rss
    assert isinstance(me.memory_info, tether.MemoryInfo) and me.memory_info[0] == me.memory_info.rss
    user, system = me.cpu_times
    assert user >= 0 and system >= 0 and user + system > 0
    assert me.cpu_percent >= 0
    assert me.num_threads == len(os.listdir("/proc/self/task"))
    tty = os.ttyname(0) if os.isatty(0) else None
    assert me.terminal == tty
    assert me.environ["PATH"] == os.environ["PATH"]
    assert me.identity == tether.ProcessIdentity.current()
    # psutil's info dict: exactly the requested attributes, in the order asked.
    assert list(me.info) == list(tether.ATTRS)
    assert me.info["cmdline"] == me.cmdline
    assert me.info is me.info  # made once, as psutil's is a plain attribute
    assert repr(me).startswith(f"tether.ProcessInfo(pid={os.getpid()}, name=")


def test_process_iter_finds_itself_and_is_sorted():
    procs = list(tether.process_iter(["name"]))
    pids = [p.pid for p in procs]
    assert os.getpid() in pids
    assert pids == sorted(pids)
    assert len(pids) == len(set(pids))
    # snapshot is the same as a list.
    assert isinstance(tether.snapshot(["pid"]), list)


def test_attrs_choose_what_is_returned():
    me = tether.get(os.getpid(), ["name", "memory_info"])
    assert me.info == {"name": me.name, "memory_info": me.memory_info}
    with pytest.raises(AttributeError, match="not requested"):
        me.cmdline
    assert not hasattr(me, "exe")
    assert me.pid == os.getpid()  # always there
    # None: every attribute but the environment, which is read only when asked for.
    every = tether.get(os.getpid())
    assert list(every.info) == [a for a in tether.ATTRS if a != "environ"]
    with pytest.raises(AttributeError):
        every.environ
    # Repeats are dropped; an empty list asks for the PID only.
    assert list(tether.get(os.getpid(), ["name", "name"]).info) == ["name"]
    assert tether.get(os.getpid(), []).info == {}


def test_filters(children, marker):
    a = children.sleeper(marker, "a")
    b = children.sleeper(marker, "b")
    mine = lambda **f: [p.pid for p in tether.process_iter(["pid"], **f)]  # noqa: E731
    assert mine(cmdline=marker) == sorted([a.pid, b.pid])
    assert mine(cmdline=f"{marker} a$") == [a.pid]
    assert mine(pids=[a.pid, os.getpid()]) == sorted([a.pid, os.getpid()])
    assert mine(pids=a.pid) == [a.pid]
    kids = mine(ppid=os.getpid())
    assert a.pid in kids and b.pid in kids
    assert mine(ppid=os.getpid(), cmdline=marker, user=os.geteuid()) == sorted([a.pid, b.pid])
    name = tether.get(a.pid, ["name"]).name
    assert mine(name=name, cmdline=marker) == sorted([a.pid, b.pid])
    assert mine(name_contains=name[1:], cmdline=marker) == sorted([a.pid, b.pid])
    assert mine(name_regex=f"^{name}$", cmdline=marker) == sorted([a.pid, b.pid])
    assert mine(name="no-such-name-x", cmdline=marker) == []
    assert mine(user=pwd.getpwuid(os.geteuid()).pw_name, pids=a.pid) == [a.pid]
    assert mine(min_age=3600, cmdline=marker) == []
    assert mine(min_rss=1, cmdline=marker) == sorted([a.pid, b.pid])
    assert mine(min_rss="1T", cmdline=marker) == []
    assert mine(pgid=os.getpgid(0), pids=a.pid) == [a.pid]
    # A filter's field is read even when not asked for, but only asked-for attributes show.
    p = next(tether.process_iter(["pid"], cmdline=marker))
    with pytest.raises(AttributeError):
        p.cmdline
    # None means "not given".
    assert mine(cmdline=marker, name=None) == sorted([a.pid, b.pid])


def test_status_uses_psutils_spellings(children, marker):
    stopped = children.sleeper(marker)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    children.procs.append(zombie)
    stopped.send_signal(signal.SIGSTOP)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        states = {p.pid: p.status for p in tether.process_iter(["status"], pids=[stopped.pid, zombie.pid])}
        if states.get(stopped.pid) == "stopped" and states.get(zombie.pid) == "zombie":
            break
        time.sleep(0.01)
    assert states == {stopped.pid: tether.STATUS_STOPPED, zombie.pid: tether.STATUS_ZOMBIE}
    assert [p.pid for p in tether.process_iter(["pid"], status="stopped", cmdline=marker)] == [stopped.pid]
    assert [p.pid for p in tether.process_iter(["pid"], status=["T", "zombie"], pids=[stopped.pid, zombie.pid])] == sorted([stopped.pid, zombie.pid])
    # A zombie has no executable and an empty command line.
    z = tether.get(zombie.pid, ["exe", "cmdline"])
    assert (z.exe, z.cmdline) == (None, [])
    stopped.send_signal(signal.SIGCONT)


def test_cpu_sample_measures_over_an_interval():
    p = tether.get(os.getpid(), ["cpu_percent"])
    assert p.cpu_percent >= 0
    sampled = tether.snapshot(["cpu_percent"], pids=os.getpid(), cpu_sample=0.05)
    assert [s.pid for s in sampled] == [os.getpid()]
    assert sampled[0].cpu_percent >= 0


def test_no_such_process():
    child = subprocess.Popen(["true"])
    child.wait()
    with pytest.raises(tether.NoSuchProcess) as e:
        tether.get(child.pid)
    assert isinstance(e.value, ProcessLookupError) and isinstance(e.value, tether.Error)
    assert e.value.pid == child.pid and e.value.kind == "not_found"
    assert str(child.pid) in str(e.value)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_access_denied_fields_take_ad_value():
    # Unprivileged, another user's executable path is not readable: it is ad_value, not None.
    code = (
        "import os, sys, tether\n"
        "p = tether.get(int(sys.argv[1]), ['exe', 'environ', 'name'], ad_value='denied')\n"
        "print(p.exe, p.environ, p.name == 'sleep' or p.name)\n"
        "q = tether.get(os.getpid(), ['exe'], ad_value='denied')\n"
        "print(q.exe == os.readlink('/proc/self/exe'))\n"
    )
    root = subprocess.Popen(["sleep", "60"])
    try:
        out = subprocess.run(
            ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
             sys.executable, "-c", code, str(root.pid)],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
    finally:
        root.kill()
        root.wait()
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["denied", "denied", "True", "True"]


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: tether.process_iter("name"), TypeError),
        (lambda: tether.process_iter(["bogus"]), tether.InvalidArgument),
        (lambda: tether.process_iter(["user"]), tether.InvalidArgument),
        (lambda: tether.process_iter([1]), TypeError),
        (lambda: tether.process_iter(bogus=1), TypeError),
        (lambda: tether.process_iter(pids=0), tether.InvalidArgument),
        (lambda: tether.process_iter(pids=-5), tether.InvalidArgument),
        (lambda: tether.process_iter(pids=2**40), tether.InvalidArgument),
        (lambda: tether.process_iter(pids="12"), TypeError),
        (lambda: tether.process_iter(pids=[True]), TypeError),
        (lambda: tether.process_iter(name=5), TypeError),
        (lambda: tether.process_iter(name_regex="("), tether.InvalidArgument),
        (lambda: tether.process_iter(cmdline="[x"), tether.InvalidArgument),
        (lambda: tether.process_iter(name="a", name_contains="b"), tether.InvalidArgument),
        (lambda: tether.process_iter(status="bogus"), tether.InvalidArgument),
        (lambda: tether.process_iter(user="no-such-user-xyz"), tether.InvalidArgument),
        (lambda: tether.process_iter(ppid=1.5), TypeError),
        (lambda: tether.process_iter(ppid=2**40), tether.InvalidArgument),
        (lambda: tether.process_iter(min_age=-1), tether.InvalidArgument),
        (lambda: tether.process_iter(min_age="5x"), tether.InvalidArgument),
        (lambda: tether.process_iter(min_age=float("nan")), tether.InvalidArgument),
        (lambda: tether.process_iter(min_age=[1]), TypeError),
        (lambda: tether.process_iter(min_rss="lots"), tether.InvalidArgument),
        (lambda: tether.process_iter(min_cpu_percent=-1), tether.InvalidArgument),
        (lambda: tether.process_iter(cpu_sample=-0.1), tether.InvalidArgument),
        (lambda: tether.get(0), tether.InvalidArgument),
        (lambda: tether.get(-1), tether.InvalidArgument),
        (lambda: tether.get(2**31), tether.InvalidArgument),
        (lambda: tether.get("1"), TypeError),
        (lambda: tether.get(True), TypeError),
    ],
)
def test_bad_input(call, error):
    with pytest.raises(error) as e:
        call()
    if issubclass(error, tether.InvalidArgument):
        assert isinstance(e.value, ValueError) and e.value.kind == "invalid_argument"
        assert str(e.value)  # a message that says what was wrong
