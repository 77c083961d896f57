"""How long the runner runs the load: the whole schedule, whatever the shape's own default."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import GamedayError
from chaos.experiment.file import load_experiment
from chaos.experiment.runner import LOAD_SLACK_S, load_duration, validate

HERE = Path(__file__).parent
SEASON = """\
name: season
system: system.yaml
load:
  locustfile: locustfile.py
  users: 2
  shape: season
  options: {{spike_at: 15s, spike_for: 25s{duration}}}
schedule: {{warmup: 5s, baseline: 10s, fault: 25s, recovery: 30s}}
faults: [{{target: {{service: back}}, kind: down}}]
hypothesis: {{steady: [fast]}}
"""


def _season(tmp_path: Path, duration: str = "") -> Path:
    for name in ("system.yaml", "app.py", "locustfile.py"):
        (tmp_path / name).write_text((HERE / name).read_text())
    path = tmp_path / "season.yaml"
    path.write_text(SEASON.format(duration=duration))
    return path


def test_the_load_outlasts_the_schedule(tmp_path: Path) -> None:
    # the season shape stops at 60 s by default: a 70 s schedule needs the runner to say so
    experiment = load_experiment(_season(tmp_path))
    assert load_duration(experiment) == 70 + LOAD_SLACK_S


def test_a_duration_of_the_experiment_is_kept_when_long_enough(tmp_path: Path) -> None:
    experiment = load_experiment(_season(tmp_path, ", duration: 90s"))
    validate(experiment)
    assert load_duration(experiment) is None  # Locust gets the experiment's own


def test_a_duration_shorter_than_the_schedule_is_refused(tmp_path: Path) -> None:
    experiment = load_experiment(_season(tmp_path, ", duration: 60s"))
    with pytest.raises(GamedayError, match=r"duration 60s ends before the schedule \(70s\)"):
        validate(experiment)
