"""Every invariant proven by a planted violation: the audit names exactly it, and the entity.

The shop runs for real (SQLite files, HTTP, NATS); each case writes one break straight into
a service's file and asks the audit, over the services' admin APIs, what is wrong.
"""

from __future__ import annotations

import pytest

from sample_system.audit.collect import audit
from sample_system.audit.invariants import INVARIANTS
from tests.sample_system.audit.planters import PLANTS, Plant
from tests.sample_system.audit.shopdata import ShopData


def test_the_clean_data_set_breaks_no_invariant(data: ShopData):
    report = audit(data.targets)
    assert report.violations == []
    assert report.counts == {
        "confirmed": 1, "failed": 3, "pending": 0,
        "charges": 3, "reservations": 4, "notifications": 1, "events": 1,
    }  # fmt: skip


def test_every_invariant_has_a_planted_violation():
    registered = [rule.id for rule in INVARIANTS]
    assert len(set(registered)) == len(registered), "two invariants share an id"
    planted = {p.invariant for p in PLANTS}
    assert [i for i in registered if i not in planted] == [], "plant a violation of each"
    assert sorted(planted - set(registered)) == [], "planters for invariants the audit lacks"


@pytest.mark.parametrize("case", PLANTS, ids=lambda p: f"{p.invariant}: {p.how}")
def test_a_planted_violation_is_reported_alone(data: ShopData, case: Plant):
    entity = case.plant(data)
    report = audit(data.targets)
    found = [(v.invariant, str(v.entity)) for v in report.violations]
    assert found == [(case.invariant, entity)], report.as_dict()["violations"]
    assert report.violations[0].detail


def test_restoring_the_files_undoes_a_plant(data: ShopData):
    PLANTS[0].plant(data)
    assert not audit(data.targets).ok
    data.restore()
    assert audit(data.targets).ok
