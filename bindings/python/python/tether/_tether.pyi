"""Type stubs of tether's native module (re-exported by ``tether``)."""

import datetime
import os
from typing import Any, Dict, Iterable, Iterator, List, Literal, Mapping, Optional, Sequence, Tuple, Union

from ._types import CpuTimes, IdentityCheck, MemoryInfo

__version__: str
ATTRS: Tuple[str, ...]

#: Seconds (int or float), a ``datetime.timedelta``, or a string such as ``"5"``, ``"1.5"``,
#: ``"2m"``, ``"500ms"``, ``"1h30m"``.
Duration = Union[int, float, str, datetime.timedelta]
#: A port number, or ``"8080"``, ``"8080/tcp"``, ``"53/udp"``.
Port = Union[int, str]
Attr = Literal[
    "pid",
    "ppid",
    "pgid",
    "sid",
    "name",
    "exe",
    "cmdline",
    "username",
    "uid",
    "status",
    "create_time",
    "memory_info",
    "cpu_times",
    "cpu_percent",
    "num_threads",
    "terminal",
    "environ",
    "identity",
]
Status = Literal[
    "running",
    "sleeping",
    "disk-sleep",
    "zombie",
    "stopped",
    "tracing-stop",
    "dead",
    "idle",
    "parked",
    "waking",
    "unknown",
]

class ProcessIdentity:
    """PID + start time in clock ticks + boot id (+ pidfs inode): a process identity that
    survives PID reuse. String form ``PID:START_TICKS:BOOT8[:INODE]``."""

    def __init__(self, s: str) -> None: ...
    @staticmethod
    def parse(s: str) -> ProcessIdentity: ...
    @staticmethod
    def of(pid: int) -> ProcessIdentity: ...
    @staticmethod
    def current() -> ProcessIdentity: ...
    def check(self) -> IdentityCheck: ...
    @property
    def pid(self) -> int: ...
    @property
    def start_ticks(self) -> int: ...
    @property
    def boot_id(self) -> str: ...
    @property
    def pidfs_inode(self) -> Optional[int]: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class ProcessInfo:
    """One process as read by ``process_iter``, ``snapshot`` or ``get``. Reading an attribute
    that was not requested raises ``AttributeError``."""

    @property
    def info(self) -> Dict[str, Any]: ...
    @property
    def pid(self) -> int: ...
    @property
    def ppid(self) -> Optional[int]: ...
    @property
    def pgid(self) -> Optional[int]: ...
    @property
    def sid(self) -> Optional[int]: ...
    @property
    def name(self) -> Optional[str]: ...
    @property
    def exe(self) -> Any: ...
    @property
    def cmdline(self) -> Optional[List[str]]: ...
    @property
    def username(self) -> Optional[str]: ...
    @property
    def uid(self) -> Optional[int]: ...
    @property
    def status(self) -> Optional[Status]: ...
    @property
    def create_time(self) -> Optional[float]: ...
    @property
    def memory_info(self) -> Optional[MemoryInfo]: ...
    @property
    def cpu_times(self) -> Optional[CpuTimes]: ...
    @property
    def cpu_percent(self) -> Optional[float]: ...
    @property
    def num_threads(self) -> Optional[int]: ...
    @property
    def terminal(self) -> Optional[str]: ...
    @property
    def environ(self) -> Any: ...
    @property
    def identity(self) -> Optional[ProcessIdentity]: ...

def snapshot(
    attrs: Optional[Iterable[Attr]] = None,
    ad_value: Any = None,
    *,
    cpu_sample: Optional[Duration] = None,
    pids: Union[int, Iterable[int], None] = None,
    name: Optional[str] = None,
    name_contains: Optional[str] = None,
    name_regex: Optional[str] = None,
    cmdline: Optional[str] = None,
    user: Union[str, int, None] = None,
    ppid: Optional[int] = None,
    pgid: Optional[int] = None,
    sid: Optional[int] = None,
    status: Union[str, Iterable[str], None] = None,
    min_cpu_percent: Optional[float] = None,
    min_rss: Union[int, str, None] = None,
    min_age: Optional[Duration] = None,
) -> List[ProcessInfo]: ...
def process_iter(
    attrs: Optional[Iterable[Attr]] = None,
    ad_value: Any = None,
    *,
    cpu_sample: Optional[Duration] = None,
    pids: Union[int, Iterable[int], None] = None,
    name: Optional[str] = None,
    name_contains: Optional[str] = None,
    name_regex: Optional[str] = None,
    cmdline: Optional[str] = None,
    user: Union[str, int, None] = None,
    ppid: Optional[int] = None,
    pgid: Optional[int] = None,
    sid: Optional[int] = None,
    status: Union[str, Iterable[str], None] = None,
    min_cpu_percent: Optional[float] = None,
    min_rss: Union[int, str, None] = None,
    min_age: Optional[Duration] = None,
) -> Iterator[ProcessInfo]: ...
def get(pid: int, attrs: Optional[Iterable[Attr]] = None, ad_value: Any = None) -> ProcessInfo: ...

class Owner:
    """A process holding a socket."""

    @property
    def pid(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def identity(self) -> Optional[ProcessIdentity]: ...
    @property
    def fds(self) -> List[int]: ...

class Socket:
    """One socket and every process holding it."""

    @property
    def proto(self) -> Literal["tcp", "udp", "unix"]: ...
    @property
    def family(self) -> Literal["ipv4", "ipv6", "unix"]: ...
    @property
    def state(self) -> str: ...
    @property
    def local_addr(self) -> Optional[str]: ...
    @property
    def local_port(self) -> Optional[int]: ...
    @property
    def remote_addr(self) -> Optional[str]: ...
    @property
    def remote_port(self) -> Optional[int]: ...
    @property
    def socket_type(self) -> Optional[str]: ...
    @property
    def peer_inode(self) -> Optional[int]: ...
    @property
    def inode(self) -> int: ...
    @property
    def uid(self) -> Optional[int]: ...
    @property
    def owners(self) -> List[Owner]: ...

class PortHolders:
    """What ``who(port)`` found."""

    @property
    def port(self) -> int: ...
    @property
    def protos(self) -> List[Literal["tcp", "udp"]]: ...
    @property
    def source(self) -> Literal["sock_diag", "proc_net"]: ...
    @property
    def note(self) -> Optional[str]: ...
    @property
    def sockets(self) -> List[Socket]: ...
    @property
    def owners(self) -> List[Owner]: ...
    @property
    def pids(self) -> List[int]: ...

def ports(
    proto: Union[Literal["tcp", "udp", "unix"], Sequence[Literal["tcp", "udp", "unix"]], None] = None,
    *,
    port: Optional[Port] = None,
    pids: Union[int, Iterable[int], None] = None,
    all_states: bool = False,
    owners: bool = True,
) -> List[Socket]: ...
def who(port: Port) -> PortHolders: ...

class TargetResult:
    """The state of one target at the end of a wait."""

    @property
    def target(self) -> str: ...
    @property
    def kind(self) -> Literal["tcp", "http", "file", "unix", "log", "exit", "owner", "cmd"]: ...
    @property
    def ready(self) -> bool: ...
    @property
    def time_to_ready(self) -> Optional[float]: ...
    @property
    def attempts(self) -> int: ...
    @property
    def last_error(self) -> Optional[str]: ...

class WaitResult:
    """What ``wait_for`` found. True when the targets are ready."""

    @property
    def outcome(self) -> Literal["ready", "timed_out", "process_died", "failed"]: ...
    @property
    def ready(self) -> bool: ...
    @property
    def elapsed(self) -> float: ...
    @property
    def any(self) -> bool: ...
    @property
    def reverse(self) -> bool: ...
    @property
    def watched(self) -> Optional[str]: ...
    @property
    def targets(self) -> List[TargetResult]: ...
    def __bool__(self) -> bool: ...

def wait_for(
    targets: Union[str, int, Iterable[Union[str, int]]],
    timeout: Optional[Duration] = None,
    *,
    any: bool = False,
    reverse: bool = False,
    interval: Optional[Duration] = None,
    attempt_timeout: Optional[Duration] = None,
    watch_pid: Union[int, str, ProcessIdentity, None] = None,
    watch_pidfile: Union[str, os.PathLike[str], None] = None,
    http_status: Union[str, int, Iterable[Union[int, Tuple[int, int]]], None] = None,
    http_body: Optional[str] = None,
    http_method: Optional[str] = None,
    http_headers: Union[Mapping[str, str], Iterable[Union[str, Tuple[str, str]]], None] = None,
    insecure: bool = False,
    non_empty: bool = False,
    stable: Optional[Duration] = None,
    check: bool = True,
) -> WaitResult: ...
def signal_number(sig: Union[int, str]) -> int: ...
def signal_name(sig: Union[int, str]) -> str: ...
def signals() -> List[Tuple[int, str]]: ...
