"""Signal names and numbers, side by side with Python's own signal module."""

from __future__ import annotations

import signal

import pytest

import tether


def test_names_and_numbers_match_pythons_signal_module():
    for sig in signal.Signals:
        assert tether.signal_number(sig) == sig.value
        assert tether.signal_number(sig.name) == sig.value
        assert tether.signal_number(sig.name[3:].lower()) == sig.value
        if sig.name not in ("SIGIOT", "SIGCLD", "SIGPOLL") and not sig.name.startswith("SIGRT"):
            assert tether.signal_name(sig.value) == sig.name


def test_real_time_signals():
    assert tether.signal_number("RTMIN") == signal.SIGRTMIN
    assert tether.signal_number("SIGRTMIN+2") == signal.SIGRTMIN + 2
    assert tether.signal_number("rtmax-1") == signal.SIGRTMAX - 1
    assert tether.signal_name(signal.SIGRTMIN + 1) == "SIGRTMIN+1"


def test_signals_lists_every_signal_in_order():
    table = tether.signals()
    numbers = [n for n, _ in table]
    assert numbers == sorted(numbers)
    assert (9, "SIGKILL") in table and (15, "SIGTERM") in table
    assert numbers[-1] == signal.SIGRTMAX
    assert all(tether.signal_number(name) == n for n, name in table)


@pytest.mark.parametrize(
    "bad, error",
    [
        ("FOO", tether.InvalidArgument),
        ("", tether.InvalidArgument),
        (0, tether.InvalidArgument),
        (-9, tether.InvalidArgument),
        (32, tether.InvalidArgument),
        (65, tether.InvalidArgument),
        (2**70, tether.InvalidArgument),
        ("RTMIN+99", tether.InvalidArgument),
        (9.0, TypeError),
        (True, TypeError),
        (None, TypeError),
    ],
)
def test_bad_signals(bad, error):
    with pytest.raises(error):
        tether.signal_number(bad)
