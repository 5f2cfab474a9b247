"""ProcessIdentity: parse, format, take, check; the exception hierarchy."""

from __future__ import annotations

import os
import pickle

import pytest

import tether


def test_string_round_trip():
    id = tether.ProcessIdentity("4242:1234567:9F1C0A3E:88")
    assert (id.pid, id.start_ticks, id.boot_id, id.pidfs_inode) == (4242, 1234567, "9f1c0a3e", 88)
    assert str(id) == "4242:1234567:9f1c0a3e:88"
    assert repr(id) == "tether.ProcessIdentity('4242:1234567:9f1c0a3e:88')"
    assert tether.ProcessIdentity.parse(str(id)) == id
    assert tether.ProcessIdentity("1:2:ab").pidfs_inode is None
    assert pickle.loads(pickle.dumps(id)) == id
    assert len({id, tether.ProcessIdentity(str(id))}) == 1
    assert id != str(id)


@pytest.mark.parametrize("bad", ["", "10", "10:20", "x:1:ab", "0:1:ab", "10:-1:ab", "10:1:zz", "1:2:ab:c", "1:2:ab:3:4"])
def test_malformed_identity_is_a_value_error(bad):
    with pytest.raises(tether.InvalidArgument) as e:
        tether.ProcessIdentity(bad)
    assert isinstance(e.value, ValueError)


def test_wrong_types_are_type_errors():
    with pytest.raises(TypeError):
        tether.ProcessIdentity(42)
    with pytest.raises(TypeError):
        tether.ProcessIdentity.of("42")
    with pytest.raises(tether.InvalidArgument):
        tether.ProcessIdentity.of(0)


def test_own_identity_checks_same():
    me = tether.ProcessIdentity.current()
    assert me.pid == os.getpid()
    assert me == tether.ProcessIdentity.of(os.getpid())
    assert me.check() is tether.IdentityCheck.SAME
    # Parsed from its string (8 digits of the boot id), it is still the same process.
    assert tether.ProcessIdentity(str(me)).check() == "same"
    later = tether.ProcessIdentity(f"{me.pid}:{me.start_ticks + 1}:{me.boot_id[:8]}")
    assert later.check() is tether.IdentityCheck.REUSED
    other_boot = tether.ProcessIdentity(f"{me.pid}:{me.start_ticks}:00000000")
    assert other_boot.check() is tether.IdentityCheck.GONE


def test_exited_child_is_gone(children):
    child = children.sleeper()
    id = tether.ProcessIdentity.of(child.pid)
    assert id.check() is tether.IdentityCheck.SAME
    child.kill()
    child.wait()
    assert id.check() is tether.IdentityCheck.GONE
    with pytest.raises(tether.NoSuchProcess) as e:
        tether.ProcessIdentity.of(child.pid)
    assert e.value.pid == child.pid


def test_exception_hierarchy():
    for cls in (
        tether.NoSuchProcess,
        tether.ProcessReused,
        tether.AccessDenied,
        tether.Refused,
        tether.InvalidArgument,
        tether.TimeoutExpired,
        tether.NotSupported,
        tether.WaitFailed,
    ):
        assert issubclass(cls, tether.Error)
    assert issubclass(tether.ProcessReused, tether.NoSuchProcess)
    assert issubclass(tether.NoSuchProcess, ProcessLookupError)
    assert issubclass(tether.AccessDenied, PermissionError)
    assert issubclass(tether.InvalidArgument, ValueError)
    assert issubclass(tether.TimeoutExpired, TimeoutError)
    e = tether.NoSuchProcess("no process 5", kind="not_found", errno=3, pid=5)
    again = pickle.loads(pickle.dumps(e))
    assert (type(again), str(again), again.kind, again.errno, again.pid) == (tether.NoSuchProcess, "no process 5", "not_found", 3, 5)


def test_value_types_pickle_and_show_as_tethers():
    me = tether.get(os.getpid(), ["memory_info", "cpu_times"])
    for value in (me.memory_info, me.cpu_times, tether.IdentityCheck.GONE):
        assert type(value).__module__ == "tether"
        assert pickle.loads(pickle.dumps(value)) == value
    assert repr(tether.NoSuchProcess("x")) == "NoSuchProcess('x')"
    assert tether.NoSuchProcess.__module__ == "tether"
