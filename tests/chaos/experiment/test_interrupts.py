"""Signals during a run: raised as Interrupted until held, then logged and finished."""

from __future__ import annotations

import logging
import os
import signal

import pytest

from chaos.errors import FaultInjectionError
from chaos.experiment.interrupts import ENDINGS, Interrupted, Signals, ending


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_interrupts_the_run_until_it_is_held(sig: signal.Signals) -> None:
    with Signals(), pytest.raises(Interrupted) as raised:
        os.kill(os.getpid(), sig)
    assert raised.value.signum == sig


def test_a_held_signal_is_logged_with_what_the_run_finishes_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = signal.getsignal(signal.SIGINT)
    with Signals() as signals:
        signals.hold("writing the run's summary and JUnit")
        with caplog.at_level(logging.WARNING):
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGINT) is before  # the previous handlers are back
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("SIGINT while writing the run's summary and JUnit: finishing")
    assert "SIGKILL" in messages[1] and "gameday rollback" in messages[1]


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (Interrupted(signal.SIGINT), ("interrupted", "interrupted by SIGINT", 130)),
        (Interrupted(signal.SIGTERM), ("interrupted", "interrupted by SIGTERM", 143)),
        (KeyboardInterrupt(), ("interrupted", "interrupted by SIGINT", 130)),
        (FaultInjectionError("proxy x: 404"), ("failed", "proxy x: 404", 2)),
        (OSError("disk full"), ("failed", "disk full", 2)),
    ],
)
def test_how_a_run_ended_early(exc: BaseException, expected: tuple[str, str, int]) -> None:
    assert isinstance(exc, ENDINGS)
    assert ending(exc) == expected
