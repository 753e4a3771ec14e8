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
