"""Gaussian quadrature rules and Gaussian expectations of numeric integrands, s ~ N(0, 1).

- :func:`gauss_hermite_rule`: probabilists' Gauss–Hermite nodes and weights in double precision;
- :func:`split_gauss_hermite_rule`: half-range rules on each side of 0, for integrands with a kink
  at 0 (ReLU), built by the Chebyshev algorithm in mpmath, then Golub–Welsch;
- :func:`expectation_gauss_hermite`: E_s[g(s)] ≈ Σ_i w_i g(s_i) (the fast path);
- :func:`expectation_mpmath`: adaptive tanh-sinh quadrature in mpmath at a chosen precision.

This layer knows no SymPy: integrands are callables. The symbolic layer's exact expectations and
the dispatcher over all three methods live in :mod:`symescape.symbolic.gaussian`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import mpmath
import numpy as np

DEFAULT_NODES = 128
"""Default number of Gauss–Hermite nodes."""

DEFAULT_DPS = 40
"""Default mpmath working precision (decimal digits)."""


@lru_cache(maxsize=64)
def gauss_hermite_rule(n: int = DEFAULT_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights with Σ w_i g(s_i) ≈ E_s[g(s)] (weights sum to 1), exact for degree < 2n.

    From ``scipy.special.roots_hermitenorm`` (numpy's ``hermegauss`` overflows to NaN near
    n = 500). The returned arrays are read-only (they are cached and shared).
    """
    from scipy.special import roots_hermitenorm

    if n < 1:
        raise ValueError(f"the number of Gauss–Hermite nodes must be ≥ 1, got {n}")
    nodes, weights = roots_hermitenorm(n)
    weights = weights / np.sqrt(2 * np.pi)
    if not (np.all(np.isfinite(nodes)) and np.all(np.isfinite(weights))):
        raise ArithmeticError(f"the {n}-node Gauss–Hermite rule is not finite in double precision")
    return _frozen(nodes), _frozen(weights)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=float)
    array.setflags(write=False)
    return array


@lru_cache(maxsize=64)
def split_gauss_hermite_rule(n: int = DEFAULT_NODES // 2) -> tuple[np.ndarray, np.ndarray]:
    """A 2n-node rule for E_s[g(s)] exact for g piecewise-polynomial of degree < 2n with a
    breakpoint at 0: the half-range Gauss rule of weight e^{-x²/2} on [0, ∞), mirrored.

    For integrands with a kink at 0 (ReLU chains), where the full-line rule converges only
    algebraically. Recurrence coefficients come from the exact moments
    ∫_0^∞ x^k e^{-x²/2} dx = 2^{(k-1)/2} Γ((k+1)/2) by Gautschi's Chebyshev algorithm in mpmath
    (the algorithm loses about a digit per node, so it runs at 1.5 n + 40 digits); nodes and weights
    then follow by Golub–Welsch in double precision.
    """
    if n < 1:
        raise ValueError(f"the number of half-range nodes must be ≥ 1, got {n}")
    with mpmath.workdps(int(1.5 * n) + 40):
        moments = [
            mpmath.mpf(2) ** (mpmath.mpf(k - 1) / 2) * mpmath.gamma(mpmath.mpf(k + 1) / 2)
            for k in range(2 * n)
        ]
        alpha, beta = _chebyshev_algorithm(moments, n)
        if min(beta) <= 0:
            raise ArithmeticError(f"half-range rule with {n} nodes lost positivity (precision)")
        alpha_f = np.array([float(a) for a in alpha])
        off = np.array([float(mpmath.sqrt(b)) for b in beta[1:]])
        beta0 = float(beta[0])
    jacobi = np.diag(alpha_f) + np.diag(off, 1) + np.diag(off, -1)
    half_nodes, vectors = np.linalg.eigh(jacobi)
    half_weights = beta0 * vectors[0] ** 2 / np.sqrt(2 * np.pi)
    nodes = np.concatenate([-half_nodes[::-1], half_nodes])
    weights = np.concatenate([half_weights[::-1], half_weights])
    return _frozen(nodes), _frozen(weights)


def _chebyshev_algorithm(moments: list, n: int) -> tuple[list, list]:
    """Recurrence coefficients (α_k, β_k), k < n, of the orthogonal polynomials of a measure
    from its moments μ_0..μ_{2n-1} (Gautschi, Orthogonal Polynomials, Alg. 2.1)."""
    alpha = [moments[1] / moments[0]]
    beta = [moments[0]]
    previous = [mpmath.mpf(0)] * (2 * n)
    current = list(moments)
    for k in range(1, n):
        following = [mpmath.mpf(0)] * (2 * n)
        for index in range(k, 2 * n - k):
            following[index] = (
                current[index + 1] - alpha[k - 1] * current[index] - beta[k - 1] * previous[index]
            )
        alpha.append(following[k + 1] / following[k] - current[k] / current[k - 1])
        beta.append(following[k] / current[k - 1])
        previous, current = current, following
    return alpha, beta


def expectation_gauss_hermite(
    values: Callable[[np.ndarray], np.ndarray],
    n: int = DEFAULT_NODES,
    *,
    split_at_zero: bool = False,
) -> np.ndarray:
    """E_s[g(s)] ≈ Σ_i w_i g(s_i); ``values`` maps the node array (last axis) to g's values.

    ``values`` may return an array of shape ``(..., n)``: the expectation is taken on the last axis.
    With ``split_at_zero`` the rule is :func:`split_gauss_hermite_rule` (n nodes in all), for
    integrands with a kink at 0.

    >>> round(float(expectation_gauss_hermite(lambda s: s**4, 8)), 12)
    3.0
    """
    nodes, weights = split_gauss_hermite_rule(n // 2) if split_at_zero else gauss_hermite_rule(n)
    return np.asarray(values(nodes)) @ weights


def expectation_mpmath(
    integrand: Callable[[mpmath.mpf], mpmath.mpf],
    dps: int = DEFAULT_DPS,
    breakpoints: tuple[float, ...] = (0.0,),
) -> mpmath.mpf:
    """E_s[g(s)] by mpmath quadrature at ``dps`` digits (10 guard digits added).

    ``integrand`` is g as an mpmath function. Points where g has a kink are given in
    ``breakpoints`` (default 0, which ReLU-like functions need).

    Raises:
        ArithmeticError: mpmath's error estimate exceeds 10^-(dps - 5) (relative to the value).
    """
    with mpmath.workdps(dps + 10):
        norm = 1 / mpmath.sqrt(2 * mpmath.pi)
        points = [-mpmath.inf, *sorted(mpmath.mpf(b) for b in breakpoints), mpmath.inf]
        value, error = mpmath.quad(
            lambda s: integrand(s) * mpmath.exp(-s * s / 2) * norm, points, error=True
        )
        scale = max(abs(value), mpmath.mpf(1))
        if error > scale * mpmath.mpf(10) ** (-(dps - 5)):
            raise ArithmeticError(
                f"mpmath quadrature reached only ~{mpmath.nstr(error, 3)} absolute error, "
                f"short of {dps} digits"
            )
        # Returned inside the context: unary plus outside would round to double precision.
        return +value
