"""A high-order ODE integrator in mpmath: Gragg–Bulirsch–Stoer extrapolation.

For y' = g(τ, y) on [τ_0, τ_1] at any working precision. One step of size H runs the modified
midpoint rule with n_j = 2j substeps (j = 1..k) and extrapolates the results polynomially in
(H/n_j)² to h = 0 (Aitken–Neville); the last column has order 2k, the difference of the last two
columns is the error estimate, and H is adapted to keep it below ``rtol`` (Hairer, Nørsett &
Wanner, Solving ODEs I, §II.9). With k ≈ digits/2 the steps stay of order one on smooth problems,
which is what makes 30-digit integration affordable.

This layer knows no SymPy: ``g`` is a callable on lists of mpf.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mpmath

from symescape.errors import ConfigurationError, NotReachedError, NumericalError

Rhs = Callable[[mpmath.mpf, list], list]


@dataclass(frozen=True)
class OdeSolution:
    """The accepted step points ``tau`` and states ``y`` (lists of mpf), with counts."""

    tau: tuple
    y: tuple
    steps: int
    rejected: int
    evaluations: int

    @property
    def final(self) -> list:
        return list(self.y[-1])


def _midpoint(rhs: Rhs, tau: mpmath.mpf, y: list, f0: list, H: mpmath.mpf, n: int) -> list:
    """Gragg's modified midpoint rule with n substeps (n even), smoothed end value."""
    h = H / n
    previous = y
    current = [a + h * b for a, b in zip(y, f0, strict=True)]
    for i in range(1, n):
        slope = rhs(tau + i * h, current)
        previous, current = current, [
            a + 2 * h * b for a, b in zip(previous, slope, strict=True)
        ]
    slope = rhs(tau + H, current)
    return [(a + b + h * c) / 2 for a, b, c in zip(previous, current, slope, strict=True)]


def _extrapolated_step(
    rhs: Rhs, tau: mpmath.mpf, y: list, f0: list, H: mpmath.mpf, columns: int
) -> tuple[list, list]:
    """(order-2k value, order-(2k-2) value) after extrapolating k midpoint results."""
    table: list[list[list]] = []
    substeps = [2 * (j + 1) for j in range(columns)]
    for j, n in enumerate(substeps):
        row = [_midpoint(rhs, tau, y, f0, H, n)]
        for k in range(1, j + 1):
            ratio = mpmath.mpf(substeps[j]) ** 2 / mpmath.mpf(substeps[j - k]) ** 2 - 1
            row.append(
                [a + (a - b) / ratio for a, b in zip(row[k - 1], table[j - 1][k - 1], strict=True)]
            )
        table.append(row)
    return table[-1][-1], table[-1][-2]


def integrate(
    rhs: Rhs,
    tau0: mpmath.mpf,
    y0: Sequence,
    tau1: mpmath.mpf,
    *,
    rtol: mpmath.mpf,
    atol: Sequence | None = None,
    columns: int = 12,
    first_step: mpmath.mpf | None = None,
    max_steps: int = 10_000,
    on_step: Callable[[mpmath.mpf], None] | None = None,
) -> OdeSolution:
    """Integrate y' = rhs(τ, y) from τ_0 to τ_1 (τ_1 > τ_0) by extrapolation of order 2·columns.

    The caller sets the working precision (``mpmath.workdps``); ``rtol`` is the per-step relative
    tolerance and ``atol`` the absolute one per component (default ``rtol``). ``on_step(τ)`` is
    called after each accepted step (a progress bar's hook).

    Raises:
        NotReachedError: more than ``max_steps`` steps.
        NumericalError: the step size underflows.

    >>> with mpmath.workdps(30):
    ...     sol = integrate(lambda t, y: [y[0]], mpmath.mpf(0), [mpmath.mpf(1)], mpmath.mpf(1),
    ...                     rtol=mpmath.mpf(10) ** -28)
    ...     print(abs(sol.final[0] - mpmath.e) < 1e-26)
    True
    """
    if columns < 2:
        raise ConfigurationError(f"at least two extrapolation columns are needed, got {columns}")
    tau, y = mpmath.mpf(tau0), [mpmath.mpf(v) for v in y0]
    tau1 = mpmath.mpf(tau1)
    scale_abs = [mpmath.mpf(a) for a in atol] if atol is not None else [rtol] * len(y)
    H = mpmath.mpf(first_step) if first_step is not None else (tau1 - tau) / 8
    taus, ys = [tau], [list(y)]
    evaluations, rejected = [0], 0
    order = 2 * columns

    def counted(t: mpmath.mpf, state: list) -> list:
        evaluations[0] += 1
        return rhs(t, state)

    while tau < tau1:
        if len(taus) > max_steps:
            raise NotReachedError(f"more than {max_steps} extrapolation steps")
        H = min(H, tau1 - tau)
        if H <= (abs(tau) + 1) * mpmath.eps * 16:
            raise NumericalError("the extrapolation step size underflowed")
        f0 = counted(tau, y)
        high, low = _extrapolated_step(counted, tau, y, f0, H, columns)
        error = max(
            abs(a - b) / (s + rtol * abs(a)) for a, b, s in zip(high, low, scale_abs, strict=True)
        )
        factor = mpmath.mpf("0.9") * (error + mpmath.mpf(10) ** (-mpmath.mp.dps)) ** (
            -mpmath.mpf(1) / (order - 1)
        )
        factor = min(mpmath.mpf(3), max(mpmath.mpf("0.2"), factor))
        if error <= 1:
            tau = tau1 if tau1 - tau - H <= 0 else tau + H
            y = high
            taus.append(tau)
            ys.append(list(y))
            if on_step is not None:
                on_step(tau)
        else:
            rejected += 1
        H *= factor
    return OdeSolution(tuple(taus), tuple(ys), len(taus) - 1, rejected, evaluations[0])
