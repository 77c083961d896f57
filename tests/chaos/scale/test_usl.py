"""The USL fit on synthetic capacity curves: it recovers sigma and kappa. Pure."""

from __future__ import annotations

import pytest

from chaos.scale.usl import efficiency, fit_usl, usl


def curve(lam: float, sigma: float, kappa: float, ns: range) -> dict[int, float]:
    return {n: float(usl(n, lam, sigma, kappa)) for n in ns}


def test_recovers_the_parameters_of_a_curve_with_a_peak() -> None:
    fit = fit_usl(curve(20.0, 0.05, 0.02, range(1, 9)))
    assert fit.lam == pytest.approx(20.0, rel=1e-3)
    assert fit.sigma == pytest.approx(0.05, abs=1e-3)
    assert fit.kappa == pytest.approx(0.02, abs=1e-4)
    assert fit.peak_n == pytest.approx((0.95 / 0.02) ** 0.5, rel=1e-2)
    assert fit.r_squared == pytest.approx(1.0)
    assert fit.dof == 5


def test_linear_scaling_has_no_peak() -> None:
    fit = fit_usl({1: 10.0, 2: 20.0, 3: 30.0, 4: 40.0})
    assert fit.sigma == pytest.approx(0.0, abs=1e-4)
    assert fit.kappa == pytest.approx(0.0, abs=1e-5)
    assert fit.peak_n is None
    assert "none (kappa = 0)" in fit.describe()


def test_noisy_points_give_an_honest_r_squared() -> None:
    points = curve(20.0, 0.1, 0.0, range(1, 7))
    points[3] *= 1.15
    fit = fit_usl(points)
    assert fit.r_squared is not None and 0.8 < fit.r_squared < 0.999
    assert fit.rmse > 0.5


def test_three_points_are_an_exact_fit_without_a_quality_figure() -> None:
    fit = fit_usl({1: 19.0, 2: 36.0, 3: 48.0})
    assert fit.dof == 0 and fit.r_squared is None
    assert "quality not measurable" in fit.describe()
    assert fit.predict(2) == pytest.approx(36.0, rel=0.01)


def test_efficiency_and_errors() -> None:
    assert efficiency({1: 20.0, 2: 38.0, 3: 54.0}) == pytest.approx({1: 1.0, 2: 0.95, 3: 0.9})
    with pytest.raises(ValueError, match="include 1"):
        efficiency({2: 10.0})
    with pytest.raises(ValueError, match="two or more"):
        fit_usl({1: 10.0})
