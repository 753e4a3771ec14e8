"""Fitted exponents: the slope of log y against log x, by least squares.

Every asymptotic order the toolkit claims (escape-time exponents, correction orders, drift orders)
is checked by such a fit against the theory's exponent with a stated tolerance.
"""

from __future__ import annotations

import numpy as np


def log_log_slope(x: np.ndarray, y: np.ndarray) -> float:
    """The least-squares slope p of ln y = p ln x + c (y ∝ x^p).

    >>> round(log_log_slope(np.array([1.0, 2.0, 4.0]), np.array([3.0, 12.0, 48.0])), 12)
    2.0
    """
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def leading_power_with_next_term(
    x: np.ndarray,
    residual: np.ndarray,
    log_power: int = 0,
    next_power: float | None = None,
    next_log_power: int = 0,
    window: float = 1.0,
) -> float:
    """The fitted power p̂ of r(x) = a x^p̂ (ln 1/x)^k + b x^{p₂} (ln 1/x)^{k₂}, with the next
    term's known power p₂ (and log power k₂) as a second column.

    Over a window of two or more decades the next term biases a plain log-log slope (it falls
    only x^{p₂ − p} faster); fitting it as a column removes that bias. For each trial p̂ the
    amplitudes (a, b) solve a linear least-squares problem in relative terms (rows divided by
    |r|); p̂ minimises the residual within ``window`` of the plain slope. Needs the signed
    residuals and at least four points (one degree of freedom); with fewer, or no next term,
    the plain slope of |r|/(ln 1/x)^k is returned. Meant for the asymptotic regime, where the
    first term dominates the second: points past the residual's first sign change (counting
    from the smallest x) are dropped when four or more remain, and the result is NaN (a fit
    that fails every tolerance) when fewer remain, or a residual is zero or not finite.

    >>> x = np.array([1e-2, 10**-2.5, 1e-3, 10**-3.5, 1e-4])
    >>> r = 2 * x**2 - 30 * x**3
    >>> round(leading_power_with_next_term(x, r, next_power=3), 9)
    2.0
    """
    from scipy.optimize import minimize_scalar

    order = np.argsort(x)
    x = np.asarray(x, dtype=float)[order]
    residual = np.asarray(residual, dtype=float)[order]
    # The first term dominates only where the residual keeps one sign: points beyond its last
    # sign change (toward large x) are outside the asymptotic regime, and near the change the
    # relative weights would magnify the terms the model leaves out.
    if not np.all(np.isfinite(residual)) or np.any(residual == 0):
        return float("nan")  # no power: a term that vanishes exactly, or a failed evaluation
    kept = int(np.argmax(np.sign(residual) != np.sign(residual[0]))) or len(x)
    if kept < len(x):
        if kept < 4:
            # |r| dips through zero at the sign change: no window in the asymptotic regime
            # is left to fit, and a slope across the change would be a number without meaning
            return float("nan")
        x, residual = x[:kept], residual[:kept]
    logs = np.log(1 / x)
    plain = log_log_slope(x, np.abs(residual) / logs**log_power)
    if next_power is None or len(x) < 4:
        return plain
    weights = 1 / np.abs(residual)
    second = x**next_power * logs**next_log_power

    def misfit(power: float) -> float:
        columns = np.column_stack([x**power * logs**log_power, second]) * weights[:, None]
        amplitudes = np.linalg.lstsq(columns, np.ones_like(x), rcond=None)[0]
        return float(np.sum((columns @ amplitudes - 1) ** 2))

    # a coarse grid first (the misfit can have more than one dip), then a bounded refinement
    trial = np.linspace(plain - window, plain + window, 201)
    centre = trial[int(np.argmin([misfit(p) for p in trial]))]
    spacing = trial[1] - trial[0]
    best = minimize_scalar(
        misfit,
        bounds=(centre - spacing, centre + spacing),
        method="bounded",
        options={"xatol": 1e-12},
    )
    return float(best.x)
