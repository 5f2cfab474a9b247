"""ports() and who(): sockets this test opens, held by this very process."""

from __future__ import annotations

import os
import socket

import pytest

import tether


@pytest.fixture
def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        yield s
    finally:
        s.close()


def test_who_finds_this_process(listener):
    port = listener.getsockname()[1]
    w = tether.who(port)
    assert w.port == port and w.protos == ["tcp", "udp"]
    assert w.pids == [os.getpid()]
    (me,) = w.owners
    assert (me.pid, me.fds) == (os.getpid(), [listener.fileno()])
    assert me.identity == tether.ProcessIdentity.current()
    (s,) = w.sockets
    assert (s.proto, s.family, s.state, s.local_addr, s.local_port) == ("tcp", "ipv4", "LISTEN", "127.0.0.1", port)
    assert s.uid == os.geteuid() and s.inode > 0
    assert s.owners[0].pid == os.getpid()
    assert w.source in ("sock_diag", "proc_net")
    # The protocol may be named; nothing UDP is bound there.
    assert tether.who(f"{port}/tcp").pids == [os.getpid()]
    assert tether.who(str(port)).pids == [os.getpid()]
    assert tether.who(f"{port}/udp").owners == []


def test_who_of_a_free_port_is_empty_not_an_error(listener):
    port = listener.getsockname()[1]
    listener.close()
    w = tether.who(port)
    assert (w.owners, w.sockets, w.pids) == ([], [], [])


def test_udp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        (sock,) = tether.who(f"{port}/udp").sockets
        assert (sock.proto, sock.state, sock.owners[0].pid) == ("udp", "UNCONN", os.getpid())
    finally:
        s.close()


def test_ports_lists_the_socket(listener):
    port = listener.getsockname()[1]
    (s,) = tether.ports("tcp", port=port)
    assert (s.local_port, s.state, [o.pid for o in s.owners]) == (port, "LISTEN", [os.getpid()])
    assert port in [x.local_port for x in tether.ports(pids=os.getpid())]
    assert port in [x.local_port for x in tether.ports(["tcp", "udp"], pids=[os.getpid()])]
    (bare,) = tether.ports(port=f"{port}/tcp", owners=False)
    assert bare.owners == []
    assert "LISTEN" in repr(bare)
    # An established connection shows only with all_states.
    c = socket.create_connection(("127.0.0.1", port))
    try:
        states = {x.state for x in tether.ports("tcp", port=port, all_states=True)}
        assert "LISTEN" in states
    finally:
        c.close()


def test_unix_socket(tmp_path):
    path = str(tmp_path / "sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(path)
        s.listen()
        mine = [x for x in tether.ports("unix", pids=os.getpid()) if x.local_addr == path]
        assert len(mine) == 1 and mine[0].family == "unix" and mine[0].socket_type == "stream"
    finally:
        s.close()


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: tether.who(0), tether.InvalidArgument),
        (lambda: tether.who(65536), tether.InvalidArgument),
        (lambda: tether.who(-1), tether.InvalidArgument),
        (lambda: tether.who("80/sctp"), tether.InvalidArgument),
        (lambda: tether.who("http"), tether.InvalidArgument),
        (lambda: tether.who(80.0), TypeError),
        (lambda: tether.who(True), TypeError),
        (lambda: tether.ports("sctp"), tether.InvalidArgument),
        (lambda: tether.ports(port=0), tether.InvalidArgument),
        (lambda: tether.ports(pids=0), tether.InvalidArgument),
        (lambda: tether.ports(pids=["1"]), TypeError),
        (lambda: tether.ports(bogus=1), TypeError),
    ],
)
def test_bad_input(call, error):
    with pytest.raises(error):
        call()
