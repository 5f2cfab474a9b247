"""tether's exceptions: one class per error kind of the library, all under ``tether.Error``.

Each also derives from the built-in exception a Python program would catch for the same
failure (``AccessDenied`` is a ``PermissionError``, ``InvalidArgument`` a ``ValueError``), so
code written for the standard library keeps working. psutil's names are used where psutil has
the same error.
"""

from __future__ import annotations

from typing import Any, Optional

__all__ = [
    "Error",
    "NoSuchProcess",
    "ProcessReused",
    "AccessDenied",
    "Refused",
    "InvalidArgument",
    "TimeoutExpired",
    "NotSupported",
    "WaitFailed",
    "ProgramNotFound",
    "ProgramNotExecutable",
]


class Error(Exception):
    """Base class of every error tether raises.

    Attributes:
        msg: the message (what was wrong and what to do).
        kind: the library's stable error kind: ``not_found``, ``permission_denied``,
            ``identity_mismatch``, ``refused``, ``invalid_argument``, ``timed_out``,
            ``not_supported`` or ``system``.
        errno: the operating-system error number behind it, when there was one.
        pid: the process concerned, when the call named one.
    """

    def __init__(
        self,
        msg: str = "",
        *,
        kind: str = "system",
        errno: Optional[int] = None,
        pid: Optional[int] = None,
        **extra: Any,
    ) -> None:
        super().__init__(msg)
        self.msg = msg
        self.kind = kind
        self.errno = errno
        self.pid = pid
        for name, value in extra.items():
            setattr(self, name, value)

    def __str__(self) -> str:
        return self.msg

    def __reduce__(self) -> Any:
        # Pickle (multiprocessing) with the keyword attributes, not only the message.
        state = {k: v for k, v in self.__dict__.items() if k != "msg"}
        state["errno"] = self.errno  # a slot, not in __dict__, on OSError subclasses
        return (_rebuild, (type(self), self.msg, state))


def _rebuild(cls: type, msg: str, state: dict) -> Error:
    err = cls.__new__(cls, msg)
    Error.__init__(err, msg, **state)
    return err


class NoSuchProcess(Error, ProcessLookupError):
    """The process (or the file or port it was looked up by) does not exist, or no longer does.
    Kind ``not_found``."""


class ProcessReused(NoSuchProcess):
    """An identity no longer names the same process: its PID now belongs to another one. The
    process the identity named is gone, so this is also a ``NoSuchProcess``. Kind
    ``identity_mismatch``."""


class AccessDenied(Error, PermissionError):
    """The kernel refused for lack of privilege. Kind ``permission_denied``."""


class Refused(Error):
    """A safety rail refused the target (PID 1, this process, its ancestors, its own process
    group). Kind ``refused``."""


class InvalidArgument(Error, ValueError):
    """Bad input: an unknown signal, attribute or filter value, a malformed PID, port, duration,
    regular expression, target or identity string. Kind ``invalid_argument``."""


class TimeoutExpired(Error, TimeoutError):
    """A deadline passed. Kind ``timed_out``.

    From ``wait_for``: ``result`` holds the ``WaitResult`` (which targets were not ready and
    why) and ``seconds`` the timeout. From ``Process.wait`` and ``Child.wait``: ``seconds``
    and ``pid``, as psutil's."""


class NotSupported(Error):
    """The kernel or platform lacks a needed feature. Kind ``not_supported``."""


class WaitFailed(Error):
    """``wait_for`` ended without the targets being ready, for a reason other than its timeout:
    the watched process died (``result.outcome == "process_died"``) or a target can never
    become ready (``"failed"``). ``result`` holds the ``WaitResult``."""


class ProgramNotFound(Error, FileNotFoundError):
    """``run``/``spawn``: the program was not found (no such file, or not on ``PATH``); a
    shell's exit code 127. Kind ``not_found``."""


class ProgramNotExecutable(Error, PermissionError):
    """``run``/``spawn``: the program was found but could not be run (not executable, no
    permission, not a valid executable, a directory); a shell's exit code 126."""


# Shown and pickled as tether.NoSuchProcess etc., where users import them from.
for _cls in (Error, NoSuchProcess, ProcessReused, AccessDenied, Refused, InvalidArgument,
             TimeoutExpired, NotSupported, WaitFailed, ProgramNotFound, ProgramNotExecutable):
    _cls.__module__ = "tether"
del _cls
