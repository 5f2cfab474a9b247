"""Small value types of tether's Python API (built by the native module)."""

from __future__ import annotations

import enum
from typing import NamedTuple

__all__ = ["IdentityCheck", "MemoryInfo", "CpuTimes"]


class IdentityCheck(str, enum.Enum):
    """What ``ProcessIdentity.check()`` found."""

    SAME = "same"
    """The process is the one the identity was taken from, and it is alive (or a zombie)."""
    GONE = "gone"
    """No process has that PID (or the machine rebooted since)."""
    REUSED = "reused"
    """The PID now belongs to a different process."""

    def __str__(self) -> str:
        return self.value


class MemoryInfo(NamedTuple):
    """``memory_info``: psutil's ``pmem`` for the two fields tether reads (from
    /proc/PID/stat), in bytes."""

    rss: int
    """Resident set size."""
    vms: int
    """Virtual memory size."""


class CpuTimes(NamedTuple):
    """``cpu_times``: psutil's ``pcputimes`` for the process itself, in seconds (to the
    millisecond; children's times are not read)."""

    user: float
    system: float


# Shown and pickled as tether.IdentityCheck etc., where users import them from.
for _cls in (IdentityCheck, MemoryInfo, CpuTimes):
    _cls.__module__ = "tether"
del _cls
