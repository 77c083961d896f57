"""The Universal Scalability Law (Gunther) fitted to capacity per replica count. Pure.

    C(N) = lambda * N / (1 + sigma * (N - 1) + kappa * N * (N - 1))

sigma is contention (the share of work that serialises), kappa coherency (the cost of
replicas coordinating, which makes capacity fall after a peak at N* = sqrt((1 - sigma) /
kappa)). Fitted with scipy's bounded least squares (all three >= 0, sigma <= 1).

With as many points as parameters the fit is exact and says nothing about its quality:
`dof` (points - 3) is reported and R^2 is None then, rather than a meaningless 1.0.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

PARAMETERS = 3


def usl(n: Any, lam: float, sigma: float, kappa: float) -> Any:
    """Capacity at `n` replicas (works on numpy arrays)."""
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


@dataclass(frozen=True)
class UslFit:
    """The fitted law and how well it fits."""

    lam: float  # capacity of one replica, as the law sees it
    sigma: float
    kappa: float
    points: int
    r_squared: float | None  # None without degrees of freedom
    rmse: float

    @property
    def dof(self) -> int:
        """Degrees of freedom left: measured counts minus the three parameters."""
        return self.points - PARAMETERS

    @property
    def peak_n(self) -> float | None:
        """Replica count of the capacity peak; None when the law has no peak (kappa = 0)."""
        if self.kappa < 1e-6:  # a peak beyond ~1000 replicas is no peak
            return None
        return math.sqrt(max(0.0, 1 - self.sigma) / self.kappa)

    def predict(self, n: float) -> float:
        """Capacity the law predicts at `n` replicas."""
        return float(usl(float(n), self.lam, self.sigma, self.kappa))

    def describe(self) -> str:
        """One line for summaries."""
        peak = f"{self.peak_n:.1f}" if self.peak_n is not None else "none (kappa = 0)"
        quality = (
            f"R^2 {self.r_squared:.3f}"
            if self.r_squared is not None
            else f"exact fit: {self.points} points for 3 parameters, quality not measurable"
        )
        return (
            f"sigma {self.sigma:.4f}, kappa {self.kappa:.5f}, predicted peak N {peak}; "
            f"{quality}, RMSE {self.rmse:.2f}/s"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "lambda": self.lam,
            "sigma": self.sigma,
            "kappa": self.kappa,
            "peak_n": self.peak_n,
            "points": self.points,
            "dof": self.dof,
            "r_squared": self.r_squared,
            "rmse": self.rmse,
        }


def fit_usl(capacities: Mapping[int, float]) -> UslFit:
    """Fit the USL to {replicas: capacity}; needs at least two counts, one of them 1 or more."""
    usable = {n: c for n, c in capacities.items() if n >= 1 and c > 0}
    if len(usable) < 2:
        raise ValueError(
            f"the USL needs capacities at two or more replica counts, got {dict(capacities)}; "
            "measure e.g. --replicas 1,2,3"
        )
    ns = np.array(sorted(usable), dtype=float)
    cs = np.array([usable[int(n)] for n in ns], dtype=float)
    guess = (cs[0] / ns[0], 0.01, 0.0001)
    with warnings.catch_warnings():
        # An exact fit (3 points) has no covariance; quality is reported through dof instead.
        warnings.simplefilter("ignore", OptimizeWarning)
        params, _ = curve_fit(
            usl, ns, cs, p0=guess, bounds=([0.0, 0.0, 0.0], [np.inf, 1.0, np.inf]), maxfev=20_000
        )
    lam, sigma, kappa = (float(p) for p in params)
    residuals = cs - usl(ns, lam, sigma, kappa)
    rmse = float(np.sqrt(np.mean(residuals**2)))
    r_squared = None
    if len(ns) > PARAMETERS:
        total = float(np.sum((cs - cs.mean()) ** 2))
        r_squared = 1 - float(np.sum(residuals**2)) / total if total > 0 else 1.0
    return UslFit(lam, sigma, kappa, len(ns), r_squared, rmse)


def efficiency(capacities: Mapping[int, float]) -> dict[int, float]:
    """Scaling efficiency C(N) / (N * C(1)) per replica count (needs C(1))."""
    base = capacities.get(1)
    if not base:
        raise ValueError("scaling efficiency needs the capacity at 1 replica; include 1")
    return {n: c / (n * base) for n, c in sorted(capacities.items())}
