"""Signals during a session: a removal Ctrl-C cannot cut short; SIGTERM as a clean stop."""

from __future__ import annotations

import signal

import pytest

from chaos.testing.signals import deferred_signals, sigterm_raises


class Stopped(Exception):
    pass


def _stop() -> None:
    raise Stopped


def test_ctrl_c_inside_waits_until_the_block_is_done() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt), deferred_signals():
        signal.raise_signal(signal.SIGINT)
        done.append("the rest of the block ran")
    assert done == ["the rest of the block ran"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_raises_inside_and_waits_during_a_deferred_block() -> None:
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        pytest.skip("this process has a SIGTERM handler already; sigterm_raises keeps it")
    done = []
    with sigterm_raises(_stop):
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # else SIGTERM kills us
        with pytest.raises(Stopped), deferred_signals():
            signal.raise_signal(signal.SIGTERM)
            done.append("removed")
        with pytest.raises(Stopped):
            signal.raise_signal(signal.SIGTERM)
    assert done == ["removed"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
