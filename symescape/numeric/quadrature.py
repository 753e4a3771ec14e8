"""Escape-time quadratures (MATH.md §6–7), in double precision (vectorised over a grid of ε) and
in mpmath.

Leading order, arbitrary initial scales s_l (gaps Δ_l = s_l² - s_min² conserved, u = X_min²):

    T_lead = ∫_{s_min²}^{u*} du / (2K Π_l √(u + Δ_l)),   Π_l (u* + Δ_l) = ρ*^{2L}.

Balanced start s_l = ε (closed form):

    T_lead = (ε^{-(L-2)} - ρ*^{-(L-2)}) / (K (L-2))  (L ≥ 3),
             ln(ρ*/ε)/K  (L = 2),   (ρ* - ε)/K  (L = 1).

First correction (balanced): T_1 = ∫_ε^{ρ*} dρ / (K ρ^{L-1} (1 + κ ρ^{q-1})).

Double-precision integrals use composite Gauss–Legendre in w = ln u (or ln ρ), where the
integrands are smooth: panels of width ≤ 1/2 with 16 nodes each.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mpmath
import numpy as np
from scipy.optimize import brentq

from symescape.errors import ConfigurationError, NoEscapeError, NumericalError
from symescape.options import (
    RHO_STAR,
    require_int,
    require_real,
    require_real_array,
    validate_depth,
    validate_rho_star,
)

PANEL_WIDTH = 0.5
PANEL_NODES = 16


@lru_cache(maxsize=8)
def _legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.polynomial.legendre.leggauss(n)


def _composite_nodes(
    lower: np.ndarray, upper: np.ndarray, panels: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (G, P·n) and weights of composite Gauss–Legendre on [lower_g, upper_g] per row,
    with ``panels`` panels per row (default: enough that none is wider than PANEL_WIDTH)."""
    lower, upper = np.atleast_1d(lower), np.atleast_1d(upper)
    if panels is None:
        panels = _default_panels(float(np.max(upper - lower)))
    x, w = _legendre(PANEL_NODES)
    edges = lower[:, None] + (upper - lower)[:, None] * np.linspace(0, 1, panels + 1)[None, :]
    half = (edges[:, 1:] - edges[:, :-1]) / 2
    mid = (edges[:, 1:] + edges[:, :-1]) / 2
    nodes = (mid[:, :, None] + half[:, :, None] * x[None, None, :]).reshape(len(lower), -1)
    weights = (half[:, :, None] * w[None, None, :]).reshape(len(lower), -1)
    return nodes, weights


def _default_panels(span: float) -> int:
    return max(1, int(np.ceil(span / PANEL_WIDTH)))


def _check_K(K: float) -> float:
    K = require_real(K, "K")
    if K <= 0:
        raise NoEscapeError(f"K = {K} ≤ 0: no escape at leading order")
    return K


def _check_eps(eps: np.ndarray, rho_star: float) -> np.ndarray:
    rho_star = validate_rho_star(rho_star)
    eps = np.atleast_1d(require_real_array(eps, "ε", finite=False))
    outside = ~(np.isfinite(eps) & (eps > 0) & (eps < rho_star))
    if np.any(outside):
        shown = ", ".join(f"{value:g}" for value in eps[outside][:3])
        more = f" (and {outside.sum() - 3} more)" if outside.sum() > 3 else ""
        raise ConfigurationError(f"need 0 < ε < ρ* = {rho_star:g}; got ε = {shown}{more}")
    return eps


def balanced_time(
    eps: np.ndarray | float, K: float, depth: int, rho_star: float = RHO_STAR
) -> np.ndarray:
    """The balanced closed form (MATH.md §6, eq. 11), vectorised over ε.

    Raises:
        ConfigurationError: depth not an integer ≥ 1, ε outside (0, ρ*).
        NoEscapeError: K ≤ 0.
        NumericalError: T is past double precision.
    """
    K = _check_K(K)
    depth = validate_depth(depth)
    eps = _check_eps(eps, rho_star)
    if depth >= 3:
        with np.errstate(over="ignore", invalid="ignore"):  # inf − inf: refused just below
            time = (eps ** -(depth - 2.0) - np.float64(rho_star) ** -(depth - 2.0)) / (
                K * (depth - 2)
            )
        if not np.all(np.isfinite(time)):
            raise NumericalError(
                "the balanced escape time exceeds double precision (≈ ε^-(L-2)/(K (L-2)) > "
                "1.8e308); use the mpmath quadrature (leading_time_mpmath) or escape "
                "--precision DIGITS"
            )
        return time
    if depth == 2:
        return np.log(rho_star / eps) / K
    return (rho_star - eps) / K


def upper_limit(scales: np.ndarray, rho_star: float) -> float:
    """u* with Π_l (u* + Δ_l) = ρ*^{2L} (the product criterion at leading order)."""
    s2 = np.sort(np.asarray(scales, dtype=float) ** 2)
    gaps = s2 - s2[0]
    target = 2 * len(s2) * np.log(rho_star)

    def excess(u: float) -> float:
        return float(np.sum(np.log(u + gaps))) - target

    hi = max(rho_star**2, s2[-1]) * 4
    while excess(hi) < 0:
        hi *= 4
    with np.errstate(divide="ignore"):  # s² = 0 after underflow: excess(0) = −inf brackets it
        return brentq(excess, s2[0], hi, xtol=1e-300, rtol=4 * np.finfo(float).eps)


def _log_upper_limits(
    gaps: np.ndarray, depth: int, rho_star: float, start: np.ndarray
) -> np.ndarray:
    """ln u* per row by Newton on g(w) = Σ_l ln(e^w + Δ_l) - 2L ln ρ*: g is convex and increasing,
    so Newton from a point with g > 0 decreases monotonically to the root."""
    w = start.copy()
    target = 2 * depth * np.log(rho_star)
    for _ in range(200):
        u = np.exp(w)[:, None]
        g = np.log(u + gaps).sum(axis=1) - target
        slope = (u / (u + gaps)).sum(axis=1)
        step = g / slope
        w = w - step
        if np.all(np.abs(step) <= 4 * np.finfo(float).eps * np.maximum(1.0, np.abs(w))):
            break
    return w


def leading_time(scales: np.ndarray, K: float, rho_star: float = RHO_STAR) -> float:
    """T_lead for arbitrary initial scales (conserved gaps), composite Gauss–Legendre in ln u.

    T_lead = ∫_{s_min²}^{u*} du / (2K Π_l √(u + Δ_l)),  Δ_l = s_l² − s_min²  (MATH.md §6).
    """
    return float(leading_time_grid(np.atleast_2d(scales), K, rho_star)[0])


def _check_scales(scales: object, ndim: int) -> np.ndarray:
    """Initial scales as a float array of ``ndim`` dimensions (one row per start when 2),
    each row non-empty, every scale finite and > 0."""
    grid = require_real_array(scales, "scales", finite=False)
    if grid.ndim != ndim or grid.shape[-1] == 0:
        shape = "a non-empty list (one per layer)" if ndim == 1 else "a (starts, layers) grid"
        raise ConfigurationError(f"scales must be {shape}; got shape {grid.shape}")
    if np.any(grid <= 0) or not np.all(np.isfinite(grid)):
        raise ConfigurationError("scales must be finite and > 0")
    return grid


RHO_STAR_MAX = 1e150
"""The largest ρ* the leading-order quadrature takes (u* ~ ρ*² and e^w stay doubles)."""

_LOG_SAFE = -600.0
"""Above this ln s_min² (s_min ≳ 1e-130), u = e^w and u + Δ_l are safe doubles."""


def leading_time_grid(scale_grid: np.ndarray, K: float, rho_star: float = RHO_STAR) -> np.ndarray:
    """T_lead for each row of ``scale_grid`` (G, L), vectorised.

    T_lead = ∫_{s_min²}^{u*} du / (2K Π_l √(u + Δ_l))  (MATH.md §6).
    """
    K = _check_K(K)
    rho_star = validate_rho_star(rho_star)
    if rho_star > RHO_STAR_MAX:
        raise ConfigurationError(
            f"ρ* = {rho_star:g} is beyond the leading-order quadrature (its upper limit ~ρ*² must "
            f"be a double: ρ* ≤ {RHO_STAR_MAX:g}); a flow that saturates at O(1) never reaches it"
        )
    grid = _check_scales(scale_grid, ndim=2)
    # In logs throughout: s² underflows for s < 1.5e-154 (ε = 1e-200 gave log 0 and an
    # OverflowError), while T ≈ ε^{-(L-2)} itself is still a double.
    log_s2 = np.sort(2 * np.log(grid), axis=1)
    lower = log_s2[:, 0]
    excess = log_s2 - lower[:, None]  # ln(s_l²/s_min²) ≥ 0
    with np.errstate(divide="ignore"):  # Δ_l = 0 for the smallest scale: ln Δ_l = −inf
        log_gaps = lower[:, None] + np.log(np.expm1(excess))
    gaps = np.exp(log_gaps)  # only for the upper limit, where Δ_l below 1e-308 is immaterial
    upper = _log_upper_limits(
        gaps, grid.shape[1], rho_star, np.log(4) + np.maximum(log_s2[:, -1], 2 * np.log(rho_star))
    )  # in logs: ρ*² overflows for ρ* ≳ 1e154
    if np.any(upper <= lower):
        raise ConfigurationError("the initial geometric mean is already ≥ ρ*")
    w, weights = _composite_nodes(lower, upper)
    # du/(2K Π √(u+Δ)) with du = u dw; ln(u + Δ_l) as logaddexp(w, ln Δ_l) only where u
    # could underflow (it is 20 % slower on a grid)
    if lower.min() > _LOG_SAFE:
        log_sum = np.log(np.exp(w)[:, :, None] + gaps[:, None, :]).sum(-1)
    else:
        log_sum = np.logaddexp(w[:, :, None], log_gaps[:, None, :]).sum(-1)
    log_terms = w - np.log(2 * K) - 0.5 * log_sum
    with np.errstate(over="ignore"):
        total = (np.exp(log_terms) * weights).sum(axis=1)
    if not np.all(np.isfinite(total)):
        raise NumericalError(
            "T_lead exceeds double precision (≈ ε^-(L-2)/K > 1.8e308); use the mpmath "
            "quadrature (leading_time_mpmath) or escape --precision DIGITS"
        )
    return total


def corrected_time(
    eps: np.ndarray | float, K: float, kappa: float, q: int, depth: int, rho_star: float = RHO_STAR
) -> np.ndarray:
    """T_1 = ∫_ε^{ρ*} dρ / (K ρ^{L-1}(1 + κ ρ^{q-1})), vectorised over ε (balanced start).

    T_1 = ∫_ε^{ρ*} dρ / (K ρ^{L-1}(1 + κ ρ^{q-1}))  (MATH.md §7).

    Raises:
        ConfigurationError: 1 + κ ρ^{q-1} ≤ 0 somewhere on [ε, ρ*] (the correction breaks down).
        NumericalError: T_1 is past double precision, or the panels do not converge to
            :data:`CORRECTED_RTOL` (1 + κ ρ*^{q-1} within ~1e-4 of the breakdown).
    """
    K = _check_K(K)
    eps = _check_eps(eps, rho_star)
    kappa = require_real(kappa, "kappa")
    q = require_int(q, "q", minimum=2)
    depth = validate_depth(depth)
    _check_correction_small(kappa, q, float(eps.min()), rho_star)
    # Near the breakdown the pole of 1/(1 + κρ^{q-1}) sits just past ρ* and fixed panels miss
    # it (κ = -3.99, q = 3: 0.9 % low): the panel count doubles until two rules agree.
    lower, upper = np.log(eps), np.full(eps.shape, np.log(rho_star))
    span = float(np.max(upper - lower))
    panels, previous = _default_panels(span), None
    while True:
        w, weights = _composite_nodes(lower, upper, panels)
        rho = np.exp(w)
        with np.errstate(over="ignore", invalid="ignore"):
            terms = rho ** (2 - depth) / (K * (1 + kappa * rho ** (q - 1))) * weights
            value = terms.sum(axis=1)
        if not np.all(np.isfinite(value)):  # else inf − inf: halvings that never agree
            raise NumericalError(
                "T_1 exceeds double precision (≈ ε^-(L-2)/K > 1.8e308); use "
                "corrected_time_mpmath"
            )
        if previous is not None and np.all(np.abs(value - previous) <= CORRECTED_RTOL * value):
            return value
        if span / panels < MIN_PANEL_WIDTH:
            raise NumericalError(
                f"T_1 did not converge to {CORRECTED_RTOL:g} relative: 1 + κ ρ*^(q-1) = "
                f"{1 + kappa * rho_star ** (q - 1):.3g} is too close to the breakdown for "
                "double-precision panels; use corrected_time_mpmath"
            )
        previous, panels = value, 2 * panels


CORRECTED_RTOL = 1e-13
"""Two successive rules of T_1 (the second with twice the panels) must agree to this."""

MIN_PANEL_WIDTH = 2.0**-12
"""Narrowest panel (in ln ρ) before :func:`corrected_time` gives up near the breakdown."""


def _check_correction_small(kappa: float, q: int, eps: float, rho_star: float) -> None:
    """1 + κ ρ^{q-1} > 0 on [ε, ρ*] (monotone in ρ, so the ends decide), else the first
    correction's integrand has a pole or changes sign there."""
    if 1 + kappa * rho_star ** (q - 1) <= 0 or 1 + kappa * eps ** (q - 1) <= 0:
        raise ConfigurationError(
            f"1 + κ ρ^(q-1) ≤ 0 on [ε, ρ*] (κ = {kappa:.4g}): the first correction is not small"
        )


# --- mpmath (precision layer) ------------------------------------------------------------------


def leading_time_mpmath(
    scales: np.ndarray, K: float, rho_star: float = RHO_STAR, dps: int = 30
) -> mpmath.mpf:
    """T_lead at ``dps`` digits (mpmath quadrature in ln u, u* by mpmath root finding).

    T_lead = ∫_{s_min²}^{u*} du / (2K Π_l √(u + Δ_l))  (MATH.md §6).

    Raises:
        ConfigurationError: scales not finite and > 0, or their geometric mean already ≥ ρ*.
        NoEscapeError: K ≤ 0.
    """
    K, rho_star = _check_K(K), validate_rho_star(rho_star)
    scales = _check_scales(scales, ndim=1)
    dps = require_int(dps, "dps", minimum=1)
    if np.mean(np.log(scales)) >= np.log(rho_star):
        raise ConfigurationError("the initial geometric mean is already ≥ ρ*")
    with mpmath.workdps(dps + 10):
        s2 = sorted(mpmath.mpf(float(s)) ** 2 for s in scales)
        gaps = [x - s2[0] for x in s2]
        Kp, rho = mpmath.mpf(float(K)), mpmath.mpf(float(rho_star))
        target = 2 * len(s2) * mpmath.log(rho)
        u_star = mpmath.findroot(
            lambda w: mpmath.fsum(mpmath.log(mpmath.exp(w) + g) for g in gaps) - target,
            mpmath.log(mpmath.mpf(upper_limit(scales, rho_star))),
        )

        def integrand(w: mpmath.mpf) -> mpmath.mpf:
            u = mpmath.exp(w)
            return u / (2 * Kp * mpmath.sqrt(mpmath.fprod(u + g for g in gaps)))

        breaks = sorted(
            {mpmath.log(s2[0]), u_star}
            | {mpmath.log(x) for x in s2 if mpmath.log(s2[0]) < mpmath.log(x) < u_star}
        )
        return +mpmath.quad(integrand, breaks)


def corrected_time_mpmath(
    eps: float,
    K: float,
    kappa: float,
    q: int,
    depth: int,
    rho_star: float = RHO_STAR,
    dps: int = 30,
) -> mpmath.mpf:
    """T_1 at ``dps`` digits.

    T_1 = ∫_ε^{ρ*} dρ / (K ρ^{L-1}(1 + κ ρ^{q-1}))  (MATH.md §7).

    Raises:
        ConfigurationError: a non-number or NaN argument, ε outside (0, ρ*), q < 2, L < 1,
            1 + κ ρ^{q-1} ≤ 0 somewhere on [ε, ρ*] (the correction breaks down).
        NoEscapeError: K ≤ 0.
    """
    K = _check_K(K)
    rho_star = validate_rho_star(rho_star)
    eps = float(_check_eps(require_real(eps, "eps"), rho_star)[0])
    kappa = require_real(kappa, "kappa")
    q = require_int(q, "q", minimum=2)
    depth = validate_depth(depth)
    dps = require_int(dps, "dps", minimum=1)
    _check_correction_small(kappa, q, eps, rho_star)
    with mpmath.workdps(dps + 10):
        Kp, kp = mpmath.mpf(float(K)), mpmath.mpf(float(kappa))
        f = lambda w: mpmath.exp(w * (2 - depth)) / (Kp * (1 + kp * mpmath.exp(w * (q - 1))))  # noqa: E731
        return +mpmath.quad(
            f, [mpmath.log(mpmath.mpf(float(eps))), mpmath.log(mpmath.mpf(float(rho_star)))]
        )


@dataclass(frozen=True)
class CriticalDepthLaw:
    """T ≈ prefactor · ε^{-(r-2)} (r ≥ 3), prefactor · ln(1/ε) (r = 2), Θ(1) (r = 1), from the
    bottleneck shell with the other layers at ``other_scales`` (MATH.md §6)."""

    r: int
    exponent: float  # slope of log T against log ε (0 for r ≤ 2, where r = 2 is logarithmic)
    prefactor: float | None
    kind: str  # "power", "log" or "constant"


def critical_depth_law(K: float, r: int, other_scales: np.ndarray) -> CriticalDepthLaw:
    """Leading asymptotics of T(ε) with r layers at scale ε and the rest at ``other_scales``:
    the shell integral ∫_{ε²} du / (2K u^{r/2} Π_{i>r} s_i).

    T = Θ(ε^{-(r-2)}) (r ≥ 3), Θ(ln 1/ε) (r = 2), Θ(1) (r = 1); shell integrand 1/(2K u^{j/2}
        Π_{i>j} s_i)  (MATH.md §6).
    """
    K = _check_K(K)
    r = require_int(r, "r", minimum=1)
    others = np.asarray(other_scales, dtype=float)
    if others.size and not (np.all(np.isfinite(others)) and np.all(others > 0)):
        # a negative scale gave a negative prefactor (−3.30), i.e. a negative time
        raise ConfigurationError(f"the other scales must be finite and > 0, got {others}")
    product = float(np.prod(others)) if others.size else 1.0
    if r >= 3:
        return CriticalDepthLaw(r, -(r - 2), 1 / (K * (r - 2) * product), "power")
    if r == 2:
        return CriticalDepthLaw(r, 0.0, 1 / (K * product), "log")
    return CriticalDepthLaw(r, 0.0, None, "constant")
