"""The autoscaling decision, modelled on the Kubernetes HorizontalPodAutoscaler. Pure.

    hpa = Hpa(policy)                         # chaos.system.model.Autoscale
    decision = hpa.decide(now, current=2, metric=0.9)
    decision.desired                          # 3: ceil(2 * 0.9 / 0.6), stabilised, clamped

Each decision follows the HPA algorithm (kubernetes.io, "Horizontal Pod Autoscaling"):

1. raw = ceil(current * metric / target), unless |metric / target - 1| <= tolerance (then
   raw = current: a dead band against flapping);
2. stabilisation: the recommendation is recorded (a new autoscaler starts with the current
   count as its first one); a scale-up goes to the *lowest*
   recommendation of the last `scale_up_after` seconds, a scale-down to the *highest* of the
   last `scale_down_after` seconds (so one noisy reading never moves the count, and the
   count falls only after load stayed low for the whole window);
3. a scale-up adds at most max(4 replicas, 100 %) at once (the HPA's default scale-up policy);
4. the result is clamped to [min, max].

Time is passed in, so tests drive it with plain numbers.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from chaos.system.model import Autoscale

MAX_STEP_REPLICAS = 4  # the HPA's default scale-up policy: +4 pods or +100 %, the larger


@dataclass(frozen=True)
class Decision:
    """What the autoscaler decided at one moment, and why."""

    time: float
    current: int
    metric: float | None
    raw: int  # before stabilisation and limits
    desired: int
    reason: str

    @property
    def changes(self) -> bool:
        """True when the replica count should change."""
        return self.desired != self.current


def raw_recommendation(current: int, metric: float, policy: Autoscale) -> int:
    """ceil(current * metric / target), or `current` inside the tolerance band."""
    ratio = metric / policy.target
    if abs(ratio - 1.0) <= policy.tolerance:
        return current
    return max(1, math.ceil(current * ratio - 1e-9))


class Hpa:
    """One service's autoscaler state: its recent recommendations."""

    def __init__(self, policy: Autoscale) -> None:
        self.policy = policy
        self._history: deque[tuple[float, int]] = deque()

    def decide(self, now: float, current: int, metric: float | None) -> Decision:
        """The replica count to run now, given the metric averaged over the replicas."""
        policy = self.policy
        if metric is None:
            desired = min(policy.max, max(policy.min, current))
            return Decision(now, current, None, current, desired, "no metric reading: hold")
        raw = raw_recommendation(current, metric, policy)
        if not self._history:
            # A new autoscaler has seen no load yet: the count it found stands for its windows.
            self._history.append((now - 1e-9, current))
        self._history.append((now, raw))
        horizon = max(policy.scale_up_after, policy.scale_down_after)
        while self._history and self._history[0][0] < now - horizon:
            self._history.popleft()
        up = min(r for t, r in self._history if t >= now - policy.scale_up_after)
        down = max(r for t, r in self._history if t >= now - policy.scale_down_after)
        if current < up:
            desired = min(up, max(2 * current, current + MAX_STEP_REPLICAS))
            reason = f"{policy.metric} {metric:.3g} > target {policy.target:g}"
        elif current > down:
            desired = down
            reason = (
                f"{policy.metric} {metric:.3g} < target {policy.target:g} for "
                f"{policy.scale_down_after:g}s"
            )
        else:
            desired = current
            reason = "within tolerance or stabilising"
        clamped = min(policy.max, max(policy.min, desired))
        if clamped != desired:
            reason += f"; clamped to [{policy.min}, {policy.max}]"
        return Decision(now, current, metric, raw, clamped, reason)
