"""Shared fixtures: child processes the tests start and always end, free ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from typing import Iterator, List

import pytest


class Children:
    """Processes started by one test; every one is killed and reaped when the test ends,
    whether it passed or not. Tests signal only these."""

    def __init__(self) -> None:
        self.procs: List[subprocess.Popen] = []
        self.groups: List[subprocess.Popen] = []

    def sleeper(self, *extra: str) -> subprocess.Popen:
        """A Python child that sleeps for a minute, with `extra` on its command line. Returns
        once the child runs: right after exec, /proc shows its new name and executable but,
        for a moment, an empty command line."""
        p = subprocess.Popen(
            [sys.executable, "-c", "import time; print(flush=True); time.sleep(60)", *extra],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        self.procs.append(p)
        p.stdout.readline()
        return p

    def session(self, script: str) -> subprocess.Popen:
        """`sh -c script` as the leader of a new session (and process group), with its stdout
        piped. At the end of the test the whole group is killed, while the unreaped leader
        still holds its number (so that it cannot name anyone else's group)."""
        p = subprocess.Popen(
            ["sh", "-c", script], stdout=subprocess.PIPE, start_new_session=True
        )
        self.procs.append(p)
        self.groups.append(p)
        return p

    def close(self) -> None:
        for p in self.groups:
            if p.returncode is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            if p.stdout:
                p.stdout.close()


@pytest.fixture
def children() -> Iterator[Children]:
    c = Children()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def marker() -> str:
    """A string no other process has on its command line."""
    return f"tether-test-{uuid.uuid4().hex}"
