"""Fitted exponents: the next-term column removes the bias a plain log-log slope carries."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from symescape.numeric.fits import leading_power_with_next_term, log_log_slope

EPS = np.array([1e-2, 10**-2.5, 1e-3, 10**-3.5, 1e-4])  # the thirty-digit claim's window


@settings(max_examples=60, deadline=None)
@given(
    power=st.integers(-4, 5),
    gap=st.integers(1, 2),
    log_power=st.integers(0, 1),
    next_log_power=st.integers(0, 1),
    amplitude=st.floats(0.1, 10),
    ratio=st.floats(-0.5, 0.5).filter(lambda r: abs(r) > 0.01),
)
def test_the_leading_power_is_recovered_beside_a_known_next_term(
    power: int, gap: int, log_power: int, next_log_power: int, amplitude: float, ratio: float
) -> None:
    # ratio: the second term's size relative to the first at ε = 1e-2 (the asymptotic regime)
    logs = np.log(1 / EPS)
    first = amplitude * EPS**power * logs**log_power
    shape = EPS ** (power + gap) * logs**next_log_power
    second = ratio * first[0] / shape[0] * shape
    fitted = leading_power_with_next_term(
        EPS, first + second, log_power, power + gap, next_log_power
    )
    assert abs(fitted - power) < 1e-6


def test_a_plain_slope_is_biased_where_the_column_fit_is_not() -> None:
    """2ε² − 100ε³ over [1e-4, 1e-2]: the plain slope is 1.867, beyond the claims' ±0.1."""
    r = 2 * EPS**2 - 100 * EPS**3
    assert abs(log_log_slope(EPS, np.abs(r)) - 2) > 0.1
    assert abs(leading_power_with_next_term(EPS, r, 0, 3) - 2) < 1e-6


def test_points_past_a_sign_change_are_outside_the_asymptotic_regime() -> None:
    """gelu L = 4 after its ε² term: r = ε³(17.4 ln(1/ε) − 87.3) + 10ε⁴ changes sign near
    ε = 1e-2, where relative weights would magnify the ε⁴ term (all five points: 3.21)."""
    logs = np.log(1 / EPS)
    r = EPS**3 * (17.4 * logs - 87.3) + 10 * EPS**4
    assert r[0] < 0 < r[1]
    assert abs(leading_power_with_next_term(EPS, r, 1, 3, 0) - 3) < 2e-3


def test_three_points_fall_back_to_the_plain_slope() -> None:
    x, r = EPS[:3], 3 * EPS[:3] ** 2
    plain = log_log_slope(x, np.abs(r))
    assert abs(leading_power_with_next_term(x, r, 0, 3) - plain) < 1e-12


def test_no_power_is_fitted_across_a_sign_change_or_through_a_zero() -> None:
    # the sign changes between the 3rd and 4th smallest point: three are left, too few
    r = EPS**2 * (np.log(1 / EPS) - np.log(1 / 10**-2.75))
    assert np.sum(np.sign(r) == np.sign(r[-1])) == 3
    assert np.isnan(leading_power_with_next_term(EPS, r, 0, 3))
    exact_zero = 2 * EPS**2
    exact_zero[2] = 0.0
    assert np.isnan(leading_power_with_next_term(EPS, exact_zero, 0, 3))
    assert np.isnan(leading_power_with_next_term(EPS, np.full(5, np.nan), 0, 3))
