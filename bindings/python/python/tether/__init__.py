"""tether: process primitives that get identity, containment and waiting right.

The Python binding of the tether Rust library, shaped for psutil users::

    import tether

    for p in tether.process_iter(["pid", "name", "memory_info"], name_contains="python"):
        print(p.pid, p.info["name"], p.memory_info.rss)

    holders = tether.who(8080)                      # every process holding port 8080
    tether.wait_for(":8080", timeout=30)            # until something accepts connections
    me = tether.ProcessIdentity.current()           # survives PID reuse: str(me) -> "PID:START:BOOT"
    assert me.check() is tether.IdentityCheck.SAME

    r = tether.run(["make", "test"], timeout=600, kill_after=10)   # a contained tree, GNU timeout
    print(r.returncode, r.timed_out, r.stdout[-200:])
    with tether.spawn(["server", "--port", "8080"]) as child:     # leaving the block ends the tree
        tether.wait_for(8080, timeout=30, watch_pid=child.identity)
    tether.Process(1234).terminate_tree(grace=5)                  # TERM, 5 s, KILL: the whole tree
    r = tether.retry(["curl", "-f", url], attempts=5, delay=0.5)   # until it succeeds; r.outcome
    jobs = tether.Jobs()                                          # background jobs, no daemon
    web = jobs.start("web", ["python3", "-m", "http.server"], ready=":8000", restart="on-failure")
    jobs.stop("web")

Every call that reads /proc, the socket tables or waits releases the GIL. Errors are
``tether.Error`` subclasses that also derive from the matching built-in exception
(``NoSuchProcess`` is a ``ProcessLookupError``, ``AccessDenied`` a ``PermissionError``,
``InvalidArgument`` a ``ValueError``, ``TimeoutExpired`` a ``TimeoutError``); arguments of the
wrong type raise ``TypeError``.
"""

from . import _errors
from ._errors import (
    AccessDenied,
    Error,
    ProgramNotExecutable,
    ProgramNotFound,
    InvalidArgument,
    NoSuchProcess,
    NotSupported,
    ProcessReused,
    Refused,
    TimeoutExpired,
    WaitFailed,
)
from ._tether import (
    ATTRS,
    Child,
    CompletedProcess,
    Containment,
    JobLogFollower,
    JobRun,
    Jobs,
    JobStatus,
    Owner,
    PidFile,
    PidFileStatus,
    Process,
    StopResult,
    PortHolders,
    ProcessIdentity,
    ProcessInfo,
    RetryAttempt,
    RetryResult,
    Socket,
    TargetResult,
    WaitResult,
    __version__,
    get,
    pidfile_check,
    pidfile_read,
    ports,
    process_iter,
    retry,
    run,
    signal_name,
    signal_number,
    signals,
    snapshot,
    spawn,
    wait_for,
    who,
)
from ._types import CpuTimes, IdentityCheck, MemoryInfo

# subprocess's values, for the stdin/stdout/stderr of spawn and run.
PIPE = -1
DEVNULL = -3

# psutil's status strings, as ProcessInfo.status spells them.
STATUS_RUNNING = "running"
STATUS_SLEEPING = "sleeping"
STATUS_DISK_SLEEP = "disk-sleep"
STATUS_STOPPED = "stopped"
STATUS_TRACING_STOP = "tracing-stop"
STATUS_ZOMBIE = "zombie"
STATUS_DEAD = "dead"
STATUS_IDLE = "idle"
STATUS_PARKED = "parked"
STATUS_WAKING = "waking"

__all__ = [
    "__version__",
    "ATTRS",
    # processes
    "process_iter",
    "snapshot",
    "get",
    "ProcessInfo",
    "MemoryInfo",
    "CpuTimes",
    # identity
    "ProcessIdentity",
    "IdentityCheck",
    # one process
    "Process",
    "StopResult",
    "Containment",
    # commands
    "run",
    "spawn",
    "CompletedProcess",
    "Child",
    "PIPE",
    "DEVNULL",
    # retry
    "retry",
    "RetryResult",
    "RetryAttempt",
    # background jobs
    "Jobs",
    "JobStatus",
    "JobRun",
    "JobLogFollower",
    # PID files
    "pidfile_read",
    "pidfile_check",
    "PidFile",
    "PidFileStatus",
    # sockets
    "ports",
    "who",
    "Socket",
    "Owner",
    "PortHolders",
    # readiness
    "wait_for",
    "WaitResult",
    "TargetResult",
    # signals
    "signal_number",
    "signal_name",
    "signals",
    # psutil's status constants
    "STATUS_RUNNING",
    "STATUS_SLEEPING",
    "STATUS_DISK_SLEEP",
    "STATUS_STOPPED",
    "STATUS_TRACING_STOP",
    "STATUS_ZOMBIE",
    "STATUS_DEAD",
    "STATUS_IDLE",
    "STATUS_PARKED",
    "STATUS_WAKING",
    *_errors.__all__,
]
