"""A service's `autoscale:` policy in the system file (docs/system-file.md, docs/scaling.md)."""

from __future__ import annotations

import yaml

from chaos.system.model import AUTOSCALE_METRICS, Autoscale
from chaos.yamldoc import YamlDoc, suggest
from loadtests.units import parse_duration

AUTOSCALE_KEYS = (
    "min",
    "max",
    "metric",
    "target",
    "scale_up_after",
    "scale_down_after",
    "tolerance",
)
AUTOSCALE_EXAMPLE = "'{min: 1, max: 4, metric: busy, target: 0.6}'"


def read_autoscale(doc: YamlDoc, node: yaml.Node, what: str) -> Autoscale:
    """A service's `autoscale:` policy (the runtime's autoscaler follows the Kubernetes HPA)."""
    where = f"{what}.autoscale"
    keys = doc.mapping(
        node,
        where,
        allowed=AUTOSCALE_KEYS,
        required=("max", "metric", "target"),
        example=AUTOSCALE_EXAMPLE,
    )
    low = doc.integer(keys["min"].value, f"{where}.min", "1", minimum=1) if "min" in keys else 1
    high = doc.integer(keys["max"].value, f"{where}.max", "4", minimum=1)
    if high < low:
        raise doc.fail(
            keys["max"].value, f"{where}.max {high} is below min {low}; write max >= min"
        )
    metric = doc.string(keys["metric"].value, f"{where}.metric", "busy")
    if metric not in AUTOSCALE_METRICS:
        raise doc.fail(
            keys["metric"].value,
            f"{where}.metric {metric!r} is not one gameday measures"
            f"{suggest(metric, AUTOSCALE_METRICS)}; use busy (fraction of the concurrency "
            "limit in use), cpu (cores per replica) or in_flight (requests per replica)",
        )
    target = doc.scalar(keys["target"].value, f"{where}.target", "0.6")
    if isinstance(target, bool) or not isinstance(target, int | float) or target <= 0:
        raise doc.fail(
            keys["target"].value,
            f"{where}.target must be a number > 0 (the {metric} per replica to hold), "
            f"got {target!r}; write e.g. 0.6",
        )
    if metric == "busy" and target > 1:
        raise doc.fail(
            keys["target"].value,
            f"{where}.target {target} is a busy fraction and cannot exceed 1; write e.g. 0.6",
        )
    windows = {}
    for key, default in (("scale_up_after", 0.0), ("scale_down_after", 300.0)):
        windows[key] = (
            doc.parsed(keys[key].value, f"{where}.{key}", parse_duration, "30s")
            if key in keys
            else default
        )
    tolerance = 0.1
    if "tolerance" in keys:
        value = doc.scalar(keys["tolerance"].value, f"{where}.tolerance", "0.1")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise doc.fail(
                keys["tolerance"].value,
                f"{where}.tolerance must be a fraction in [0, 1), got {value!r}; write 0.1",
            )
        tolerance = float(value)
    return Autoscale(
        min=low,
        max=high,
        metric=metric,
        target=float(target),
        scale_up_after=windows["scale_up_after"],
        scale_down_after=windows["scale_down_after"],
        tolerance=tolerance,
        where=doc.where(node),
    )
