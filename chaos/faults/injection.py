"""Applying one fault through the journal, and undoing it from what the journal lists.

The journal is written before anything is touched and after every change, so it always
names everything that might still be in place (chaos.faults.journal):

    index = inject(journal, injector, fault, plan_fault(fault, topology))
    ...
    errors = remove(journal, injector, index)    # newest action first; [] when all undone
    errors = remove_live(journal, injector)      # every fault still live, newest first

`inject` either returns with the whole fault in place, or raises with what it had applied
undone again (an action refused by the proxy, Ctrl-C half-way through a fault).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from chaos.errors import GamedayError
from chaos.experiment.model import Fault
from chaos.faults.actions import Action, Injector
from chaos.faults.journal import Journal

logger = logging.getLogger(__name__)


def inject(journal: Journal, injector: Injector, fault: Fault, actions: Sequence[Action]) -> int:
    """Journal `fault` as pending, apply its actions, journal it applied; its journal index."""
    index = journal.begin_fault(fault, actions)
    done: list[Action] = []
    try:
        for action in actions:
            done.append(injector.apply(action))
    except BaseException as exc:
        # The interrupted action may have taken effect: every action counts as applied, and
        # undoing one that never was is harmless (a missing toxic, an enabled proxy...).
        journal.fault_applied(index, done + list(actions[len(done) :]))
        journal.fault_failed(index, f"apply failed: {exc or type(exc).__name__}")
        remove(journal, injector, index)
        raise
    journal.fault_applied(index, done)
    return index


def remove(journal: Journal, injector: Injector, index: int) -> list[str]:
    """Undo the fault at `index`, newest action first; the errors ([] when it is removed)."""
    entry = journal.data["faults"][index]
    errors: list[str] = []
    for action in reversed([Action.from_json(a) for a in entry["actions"]]):
        try:
            injector.undo(action)
        except GamedayError as exc:
            errors.append(f"could not undo {action.describe()}: {exc}")
            logger.error("could not undo %s: %s", action.describe(), exc)
    if errors:
        journal.fault_failed(index, "undo failed: " + "; ".join(errors))
    else:
        journal.fault_removed(index)
    return errors


def remove_live(journal: Journal, injector: Injector) -> list[str]:
    """Undo every fault the journal lists as still live, newest first; the errors."""
    errors: list[str] = []
    for index, _ in journal.live_faults():
        errors += remove(journal, injector, index)
    return errors
