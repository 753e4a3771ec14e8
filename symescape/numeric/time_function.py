"""The normal form's time function Θ for any start, and the escape-time series from an
unbalanced start (Theorem 16; MATH.md §12).

**Θ.** With the field divided by K, F̂ = F̂⁰ + Σ_{d≥1} F̂^d, F̂⁰ = ∇P (P = Π_l X_l), F̂^d
homogeneous of degree L − 1 + d, look for Θ̂ = Σ_d Θ̂^d, Θ̂^d homogeneous of degree −(L−2) + d,
with ∇Θ̂·F̂ = 1 order by order (the homological equation):

    ∇Θ̂⁰·∇P = 1,        ∇Θ̂^d·∇P = −S_d,   S_d = Σ_{j=1..d} ∇Θ̂^{d−j}·F̂^j.

Along the leading flow every X_l² grows at the rate 2P, so from x the flow is
y_l(v) = (x_l² + v)^{1/2}, dt = dv / (2P(y)), and for a negative degree (d < L − 2, where
Θ̂^d vanishes at infinity):

    Θ̂⁰(x) = −½ ∫_0^∞ dv / Π_l (x_l² + v)^{1/2},     Θ̂^d(x) = ½ ∫_0^∞ S_d(y(v)) dv / P(y(v)).

On the balanced ray Θ̂⁰(ρ𝟏) = −ρ^{−(L−2)}/(L−2). The integrals are taken by Gauss–Legendre in
τ ∈ (0, 1] with v = c(τ^{−2} − 1), c = mean_l x_l²: the integrand becomes τ^{L−3−d} times a
function analytic in τ², so the rule converges geometrically; the gradients ∇Θ̂^{d−j} inside
S_d are exact derivatives of the lower rules (JAX), so the cost is nodes^{levels}.

**Series.** From X(0) = εa (ε = (Π scales)^{1/L}, Π a_l = 1), T = Θ(X*) − Θ(εa) gives

    T(εa) = Σ_{d < L−2} (−Θ̂^d(a)/K) ε^{d−(L−2)} + B ln(1/ε) + C(a) + o(1),

the negative powers local (exact in a; on the balanced ray they are the balanced expansion's
A_p), B the balanced expansion's log coefficient (the resonance d = L − 2: every trajectory of
the leading flow approaches the balanced ray, where the divergence of ∫ S_{L−2} dv/P is read
off), and C(a) non-local: from the double-precision ODE along the same ray, extrapolated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from symescape.errors import ConfigurationError, NotReachedError
from symescape.numeric.compiled import jax_precision
from symescape.options import RHO_STAR, hashable_cache, require_int
from symescape.symbolic.classification import classify
from symescape.symbolic.normal_form import (
    EscapeExpansion,
    constant_remainder_step,
    escape_expansion,
    expansion_step,
    field_expansion,
    numeric_field_parts,
)

DEFAULT_NODES = 48
"""Gauss–Legendre nodes per level of Θ̂ (the estimate uses 1.5× as many)."""

MAX_POINTS = 4_000_000
"""The largest nodes^levels evaluated at once (memory ~ points × L × 8 bytes × a few)."""


@dataclass(frozen=True)
class TimeFunction:
    """Θ̂^d (d < L − 2, negative degree) of the normal form for one activation, depth and
    amplitude, as a compiled function of the start (MATH.md §12; the module docstring).

    ``degrees``: the d with Θ̂^d ≠ 0 (sums of the field's present degrees); ``K``: a μ₁ c₁^{L−1}.
    """

    activation: str
    depth: int
    amplitude: float
    K: float
    degrees: tuple[int, ...]
    nodes: int
    evaluate: Callable[[np.ndarray], np.ndarray]
    homological_residual: Callable[[np.ndarray], np.ndarray]

    def values(self, start: np.ndarray) -> dict[int, float]:
        """{d: Θ̂^d(start)} (time in units of 1/K)."""
        x = _positive_start(start, self.depth)
        return dict(zip(self.degrees, (float(v) for v in self.evaluate(x)), strict=True))


def _positive_start(start: object, depth: int) -> np.ndarray:
    x = np.asarray(start, dtype=float)
    if x.shape != (depth,):
        raise ConfigurationError(f"the start needs {depth} scales, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or np.any(x <= 0):
        raise ConfigurationError(f"the start's scales must be finite and > 0, got {x.tolist()}")
    return x


def _semigroup(generators: tuple[int, ...], limit: int) -> tuple[int, ...]:
    """Sums of the generators (with repetition) below ``limit``, with 0."""
    reached = {0}
    for d in range(1, limit):
        if any(d - g in reached for g in generators if g <= d):
            reached.add(d)
    return tuple(sorted(reached))


def _polynomial_field(part: tuple[dict, ...]) -> Callable:
    """y (L,) ↦ F̂^d(y) (L,) for one homogeneous part (JAX)."""
    import jax.numpy as jnp

    components = []
    for comp in part:
        alphas = np.array(list(comp.keys()), dtype=float).reshape(-1, len(part))
        coefficients = np.array([float(v) for v in comp.values()], dtype=float)
        components.append((jnp.asarray(alphas), jnp.asarray(coefficients)))

    def field(y: object) -> object:
        return jnp.stack(
            [
                (c * jnp.prod(y[None, :] ** a, axis=1)).sum() if a.shape[0] else jnp.zeros(())
                for a, c in components
            ]
        )

    return field


def _build(
    parts: dict[int, Callable], degrees: tuple[int, ...], nodes: int
) -> tuple[dict, dict, dict]:
    """(Θ̂^d, ∇Θ̂^d, S_d) for d in ``degrees`` as JAX functions of x (L,), by the recursion of the
    module docstring (S_d for d ≥ 1)."""
    import jax
    import jax.numpy as jnp

    tau, weights = np.polynomial.legendre.leggauss(nodes)
    tau = jnp.asarray((tau + 1) / 2)
    weights = jnp.asarray(weights / 2)

    def rays(x: object) -> tuple[object, object]:
        c = jnp.mean(x**2)
        v = c * (tau**-2 - 1)
        y = jnp.sqrt(x[None, :] ** 2 + v[:, None])  # (nodes, L)
        measure = weights * c * tau**-3  # ½ dv = c τ^{−3} dτ
        return y, measure

    thetas: dict[int, Callable] = {}

    def theta0(x: object) -> object:
        y, measure = rays(x)
        return -(measure / jnp.prod(y, axis=1)).sum()

    thetas[0] = theta0
    gradients = {0: jax.grad(theta0)}
    sources: dict[int, Callable] = {}
    for d in degrees[1:]:
        pieces = [
            (gradients[d - j], parts[j]) for j in parts if j <= d and (d - j) in gradients
        ]

        def source(y: object, pieces: list = pieces) -> object:
            return sum(jnp.dot(g(y), f(y)) for g, f in pieces)

        def theta(x: object, source: Callable = source) -> object:
            y, measure = rays(x)
            values = jax.vmap(source)(y)
            return (measure * values / jnp.prod(y, axis=1)).sum()

        thetas[d] = theta
        gradients[d] = jax.grad(theta)
        sources[d] = source
    return thetas, gradients, sources


@hashable_cache(maxsize=32)
def time_function(
    spec: str, depth: int, amplitude: float = 1.0, nodes: int = DEFAULT_NODES
) -> TimeFunction:
    """Θ̂^d for every d < L − 2 (the local part of Θ; module docstring), compiled once.

    Θ̂⁰(x) = −½ ∫_0^∞ dv / Π_l (x_l² + v)^{1/2},  Θ̂^d(x) = ½ ∫_0^∞ S_d(y(v)) dv / P(y(v))
    (MATH.md §12).

    Raises:
        ConfigurationError: depth < 2, nodes < 8, or nodes^levels beyond :data:`MAX_POINTS`.
        OutsideHypothesisError, NoLinearPathError, NoEscapeError: as ``escape``.
    """
    import jax
    import jax.numpy as jnp

    depth = require_int(depth, "the series from a general start: depth", minimum=2)
    nodes = require_int(nodes, "nodes", minimum=8)
    cls = classify(spec)
    top = max(depth - 3, 0)
    field = field_expansion(cls, depth, amplitude, top)
    numeric = numeric_field_parts(field, 20)
    present = tuple(d for d in field.present() if d >= 1)
    degrees = _semigroup(present, depth - 2) if depth > 2 else ()
    levels = _levels(degrees, present)
    if nodes**levels > MAX_POINTS:
        raise ConfigurationError(
            f"Θ at L = {depth} nests {levels} quadratures: {nodes}^{levels} points is beyond "
            f"{MAX_POINTS}; use fewer nodes (≤ {int(MAX_POINTS ** (1 / levels))})"
        )
    K = float(field.constants.K.value)
    with jax_precision(True):  # every constant below (coefficients, nodes) is float64
        parts = {d: _polynomial_field(numeric[d]) for d in present}
        thetas, gradients, sources = _build(parts, degrees, nodes) if degrees else ({}, {}, {})

        def evaluate_all(x: object) -> object:
            return jnp.stack([thetas[d](x) for d in degrees])

        def residual_all(x: object) -> object:
            # ∇Θ̂^d·∇P + S_d at x: zero when the homological equation holds (∇Θ̂⁰·∇P − 1 for d = 0)
            grad_p = jnp.prod(x) / x
            return jnp.stack(
                [
                    jnp.dot(gradients[d](x), grad_p) + (sources[d](x) if d else -1.0)
                    for d in degrees
                ]
            )

        compiled_values = jax.jit(evaluate_all)
        compiled_residual = jax.jit(residual_all)

    def run(function: Callable) -> Callable:
        def call(x: np.ndarray) -> np.ndarray:
            if not degrees:
                return np.zeros(0)
            with jax_precision(True):
                # a NumPy argument: jnp.asarray(x) would run a program of its own per call
                return np.asarray(function(np.asarray(x, dtype=np.float64)))

        return call

    return TimeFunction(
        cls.activation.name,
        depth,
        float(amplitude),
        K,
        degrees,
        nodes,
        run(compiled_values),
        run(compiled_residual),
    )


def _levels(degrees: tuple[int, ...], present: tuple[int, ...]) -> int:
    """Nesting depth of the quadratures: 1 for Θ̂⁰, one more per field insertion."""
    depth_of = {0: 1}
    for d in degrees[1:]:
        depth_of[d] = 1 + max(depth_of[d - j] for j in present if j <= d and d - j in depth_of)
    return max(depth_of.values(), default=0)


@dataclass(frozen=True)
class GeneralSeriesEscape:
    """T from X(0) = ``scales`` by the series (MATH.md §12; module docstring):
    ``eps`` = (Π scales)^{1/L}, ``terms`` the local terms [(power, log_power, coefficient)],
    ``local`` their sum at ε,
    ``constant`` C(a) with its ``constant_error``, ``time`` = local + constant, and the
    quadrature's estimated error on the local sum (``quadrature_error``)."""

    eps: float
    direction: tuple[float, ...]
    terms: tuple[tuple[int, int, float], ...]
    local: float
    constant: float
    constant_error: float
    quadrature_error: float
    remainder_power: int

    @property
    def time(self) -> float:
        return self.local + self.constant


def _log_terms(expansion: EscapeExpansion) -> list[tuple[int, int, float]]:
    return [
        (0, t.log_power, float(t.value))
        for t in expansion.all_terms
        if t.power == 0 and t.log_power > 0
    ]


def general_local_terms(
    spec: str,
    depth: int,
    scales: object,
    *,
    rho_star: float = RHO_STAR,
    amplitude: float = 1.0,
    nodes: int = DEFAULT_NODES,
) -> tuple[float, np.ndarray, list[tuple[int, int, float]], float]:
    """(ε, a, local terms, their quadrature error estimate) for the start ``scales`` = εa.

    The error estimate is the largest change of a coefficient from ``nodes`` to 1.5× as many.
    """
    x = _positive_start(scales, depth)
    eps = float(np.exp(np.mean(np.log(x))))
    direction = x / eps
    coarse = time_function(spec, depth, amplitude, nodes)
    fine = time_function(spec, depth, amplitude, (3 * nodes) // 2)
    values, check = coarse.values(direction), fine.values(direction)
    quadrature_error = max(
        (abs(check[d] - values[d]) * eps ** (d - (depth - 2)) / coarse.K for d in values),
        default=0.0,
    )
    terms = [(d - (depth - 2), 0, -check[d] / coarse.K) for d in coarse.degrees]
    gap = max(1, expansion_step(classify(spec)))
    order = max(0, math.ceil((depth - 2) / gap))
    expansion = escape_expansion(
        spec, depth, order=order, rho_star=rho_star, amplitude=amplitude, exact=False
    )
    terms += _log_terms(expansion)
    return eps, direction, terms, quadrature_error


def first_positive_power(spec: str, depth: int) -> int:
    """The power of T's first term after the constant (:func:`constant_remainder_step`)."""
    return constant_remainder_step(expansion_step(classify(spec)), depth)


def _sum_terms(terms: list[tuple[int, int, float]], eps: float) -> float:
    return math.fsum(c * eps**p * math.log(1 / eps) ** k for p, k, c in terms)


def escape_time_series_general(
    spec: str,
    depth: int,
    scales: object,
    *,
    rho_star: float = RHO_STAR,
    amplitude: float = 1.0,
    nodes: int = DEFAULT_NODES,
) -> GeneralSeriesEscape:
    """T from any small start X(0) = εa by the series (MATH.md §12): the local terms from Θ
    (exact in a), and the non-local C(a) from the double-precision ODE along the same ray at ε/2
    and ε/4, Richardson-extrapolated in the first positive power (:func:`first_positive_power`).

    ``constant_error`` adds the size of that extrapolation and the ODE's own error (its change
    from rtol 1e-10 to 1e-12 at ε/4): large when T is (deep networks, tiny ε), as it should be.

    Raises:
        ConfigurationError: bad scales, (Π scales)^{1/L} ≥ ρ*, or the quadrature's limits.
        NotReachedError: the ODE did not reach ρ* from the start.
        OutsideHypothesisError, NoLinearPathError, NoEscapeError: as ``escape``.
    """
    from symescape.numeric.escape import EscapeCriterion, escape_time_ode
    from symescape.numeric.reduced import reduced_model

    eps, direction, terms, quadrature_error = general_local_terms(
        spec, depth, scales, rho_star=rho_star, amplitude=amplitude, nodes=nodes
    )
    if not eps < rho_star:
        raise ConfigurationError(
            f"the start's (Π X_l)^(1/L) = {eps:g} must be below ρ* = {rho_star}"
        )
    model = reduced_model(spec, depth, amplitude)
    criterion = EscapeCriterion("product", rho_star)

    def ode_time(e: float, rtol: float) -> float:
        result = escape_time_ode(model, direction * e, criterion, rtol=rtol)
        if not result.escaped:
            raise NotReachedError(
                f"the reduced ODE from {e:g}·a did not reach ρ* = {rho_star}: {result.message}"
            )
        return float(result.time)

    step = first_positive_power(spec, depth)
    near, far = (ode_time(e, 1e-12) - _sum_terms(terms, e) for e in (eps / 2, eps / 4))
    correction = (far - near) / (2.0**step - 1)
    ode_error = abs(ode_time(eps / 4, 1e-10) - (far + _sum_terms(terms, eps / 4)))
    return GeneralSeriesEscape(
        eps,
        tuple(float(a) for a in direction),
        tuple(terms),
        _sum_terms(terms, eps),
        float(far + correction),
        float(abs(correction) + ode_error),
        quadrature_error,
        step,
    )
