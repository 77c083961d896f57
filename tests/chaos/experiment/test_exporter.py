"""The experiment exporter: phase and active faults as gauges, registered for file_sd."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from chaos.experiment.exporter import ExperimentExporter
from chaos.experiment.model import Fault
from chaos.system.target import parse_target


def scrape(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        return response.read().decode()


def test_phases_and_faults_are_served_and_the_target_is_removed_on_close(tmp_path: Path):
    exporter = ExperimentExporter.start("payments-down", tmp_path, system="shop")
    try:
        assert exporter.url is not None
        group = json.loads((tmp_path / "experiment.json").read_text())[0]
        labels = {"system": "shop", "service": "gameday-experiment", "replica": "0"}
        assert group["labels"] == labels
        assert group["targets"] == [exporter.url.removeprefix("http://")]
        exporter.phase("fault", 0.0)
        fault = Fault(name="payments-down", target=parse_target("payments"), kind="down")
        exporter.fault(fault, "applied")
        text = scrape(exporter.url)
        assert 'gameday_experiment_phase{experiment="payments-down",phase="fault"} 1.0' in text
        assert 'gameday_experiment_phase{experiment="payments-down",phase="baseline"} 0.0' in text
        assert (
            'gameday_fault_active{experiment="payments-down",kind="down",target="payments"} 1.0'
            in text
        )
        exporter.fault(fault, "removed")
        assert 'kind="down",target="payments"} 0.0' in scrape(exporter.url)
    finally:
        exporter.close()
    assert not (tmp_path / "experiment.json").exists()
