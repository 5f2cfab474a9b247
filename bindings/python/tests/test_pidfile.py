"""PID files: a tether record and a bare PID, alive, stale and gone; bad files."""

from __future__ import annotations

import json
import os

import pytest

import tether


def record(ident: tether.ProcessIdentity, **over) -> str:
    r = {
        "format": "tether.pidfile/v1",
        "pid": ident.pid,
        "start_ticks": ident.start_ticks,
        "boot_id": ident.boot_id,
        "pidfs_inode": ident.pidfs_inode,
        "exe": None,
        "argv": ["sleep"],
        "start_unix_ms": 0,
    }
    r.update(over)
    return json.dumps(r)


def test_a_record_alive_then_reused_then_gone(tmp_path, children):
    c = children.sleeper()
    ident = tether.ProcessIdentity.of(c.pid)
    path = tmp_path / "app.pid"
    path.write_text(record(ident))
    f = tether.pidfile_read(path)
    assert (f.pid, f.identity, f.format, f.argv, f.locked) == (c.pid, ident, "tether", ["sleep"], False)
    assert f.path == path and f.modified > 0
    s = f.check()
    assert s and s.state == "alive" and s.strength == "strong" and s.identity == ident
    # Another start time: the PID names another process now.
    path.write_text(record(ident, start_ticks=ident.start_ticks + 1, pidfs_inode=None))
    s = tether.pidfile_check(path)
    assert not s and s.state == "stale" and s.reason == "reused" and "another process" in s.message
    path.write_text(record(ident))
    c.kill()
    c.wait()
    assert tether.pidfile_check(str(path)).state == "gone"


def test_a_bare_pid(tmp_path, children):
    c = children.sleeper()
    path = tmp_path / "legacy.pid"
    path.write_text(f"{c.pid}\n")
    f = tether.pidfile_read(path)
    assert (f.pid, f.identity, f.format) == (c.pid, None, "legacy")
    s = f.check()
    assert s.state == "alive" and s.strength == "weak"


def test_bad_pid_files(tmp_path):
    with pytest.raises(tether.NoSuchProcess):
        tether.pidfile_read(tmp_path / "missing.pid")
    for content in ("", "abc\n", "0\n", "1 2\n", '{"format": "x"}'):
        path = tmp_path / "bad.pid"
        path.write_text(content)
        with pytest.raises(tether.InvalidArgument):
            tether.pidfile_check(path)
    with pytest.raises(tether.InvalidArgument):
        tether.pidfile_read(tmp_path)  # a directory
    link = tmp_path / "link.pid"
    os.symlink(tmp_path / "bad.pid", link)
    with pytest.raises(tether.InvalidArgument):
        tether.pidfile_read(link)
    with pytest.raises(TypeError):
        tether.pidfile_read(5)
