"""The mutants of scripts/mutants.py stay usable: each applies to today's shop and names cells
the shop's matrix really has (the mutation run itself is heavy: scripts/mutants.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.matrix.plan import plan_cells
from chaos.system.model import load_system

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("mutants", ROOT / "scripts" / "mutants.py")
assert spec is not None and spec.loader is not None
mutants = importlib.util.module_from_spec(spec)
sys.modules["mutants"] = mutants  # dataclasses look their module up there
spec.loader.exec_module(mutants)
MUTANTS = mutants.read_mutants(None)


def test_there_are_mutants_of_several_kinds() -> None:
    assert len(MUTANTS) >= 6


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_a_mutant_applies_and_names_real_cells(mutant) -> None:  # type: ignore[no-untyped-def]
    check = subprocess.run(
        ["git", "apply", "--check", str(mutant.patch)], cwd=ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, f"{mutant.patch.name} no longer applies: {check.stderr}"
    assert mutant.bug, f"{mutant.patch.name}: say what the bug is in a 'Bug:' line"
    cells = {c.id for c in plan_cells(load_system(ROOT / "sample_system" / "system.yaml"))}
    assert set(mutant.expected) <= cells, f"{mutant.name}: no such cell {mutant.expected}"
