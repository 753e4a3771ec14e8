"""The exact reduced ODE at any precision (15–200 digits), and the non-local constant of the
escape-time expansion computed two ways (MATH.md §4, §12; Theorem 16).

**Field.** F_l(X) = E_s[(aσ(s) − f(s)) ∂_l f(s)] with σ, σ' from the symbolic chain through the
mpmath side of the code-generation boundary, and E_s by a quadrature computed at the working
precision whose node count is raised (the step halved) until the field at the far end of the
run, X = ρ*·𝟏·1.5, stops changing to the working precision. The default rule is the Gaussian
trapezoidal rule: for tanh (poles at ±iπ/2) the Gauss–Hermite rule needs more than 400 nodes for
28 digits, the trapezoid 219 for 35 (see ``precision.gauss``); ``rule="gauss-hermite"`` keeps
the Gauss–Hermite rule, raising n until converged. For odd σ the integrand is even and only
s ≥ 0 is evaluated.

**Integrator.** As ``numeric.escape``'s ``fast`` method: τ = ln ρ, state (ln X_1..ln X_L, t),
d ln X_l/dτ = (F_l/X_l)/R, dt/dτ = 1/R, R = (1/L) Σ F_l/X_l, from τ_0 = mean ln X(0) to ln ρ*,
by extrapolation (``precision.ode``) of order ≈ digits.

**The constant C** of T(ε) = (local terms) + C + O(ε^{p_nl}):
  1. limit: C ≈ T(ε) − local terms, Richardson-extrapolated over ε and ε/2 with the known p_nl;
  2. regularised integral along the slow manifold: start at ρ_0 on y = Σ h_n ρ_0^n (no
     transient), integrate to ρ*, and C = T_slow + (1/K) Σ_{n≠L−2} w_n ρ_0^{n−(L−2)}/(n−(L−2))
     − (1/K) w_{L−2} ln(1/ρ_0) + (the start's transient constant, local and exact).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np

from symescape.errors import ConfigurationError, NoEscapeError, NumericalError
from symescape.numeric.escape import STALL_FRACTION, EscapeCriterion, escape_time_ode
from symescape.numeric.reduced import ReducedModel, reduced_model
from symescape.options import RHO_STAR, require_int, require_real, validate_rho_star
from symescape.precision.gauss import gauss_hermite_rule_mpmath, gaussian_trapezoid_rule_mpmath
from symescape.precision.ode import integrate
from symescape.symbolic.normal_form import (
    EscapeExpansion,
    PreciseActivation,
    escape_expansion,
    precise_activation,
)

MIN_DIGITS, MAX_DIGITS = 15, 200
"""The precision range of ``escape --precision``."""

GUARD_DIGITS = 12
"""Working digits beyond the requested ones."""


def probe_for(rho_star: float) -> float:
    """Where the quadrature's convergence is tested: 1.2 ρ*, past the run's largest X_l."""
    return 1.2 * float(rho_star)


def validate_digits(digits: int) -> int:
    """``digits`` as an int in [15, 200], else :class:`ConfigurationError`."""
    digits = require_int(digits, "digits (--precision)")
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        raise ConfigurationError(
            f"digits (--precision) must lie between {MIN_DIGITS} and {MAX_DIGITS}, "
            f"got {digits} (for fewer, use the double-precision path)"
        )
    return digits


@dataclass(frozen=True)
class PreciseField:
    """F(X) at ``dps`` working digits: ``nodes`` and ``weights`` of the converged rule (for odd
    σ the half line, weights doubled off 0), teacher values aσ(s_i)."""

    activation: PreciseActivation
    depth: int
    dps: int
    nodes: tuple
    weights: tuple
    teacher: tuple
    rule: str

    def __call__(self, X: Sequence) -> list:
        L = self.depth
        joint = self.activation.joint
        out = [mpmath.mpf(0)] * L
        for s, w, y in zip(self.nodes, self.weights, self.teacher, strict=True):
            h = [s]
            slopes = []
            for k in range(L - 1):
                value, slope = joint(X[k] * h[-1])
                h.append(value)
                slopes.append(slope)
            back = w * (y - X[-1] * h[-1])
            out[L - 1] += back * h[L - 1]
            back *= X[L - 1]
            for k in range(L - 2, -1, -1):
                back *= slopes[k]
                out[k] += back * h[k]
                back *= X[k]
        return out


def _rule(kind: str, level: int, reach: int, dps: int, odd: bool) -> tuple[tuple, tuple]:
    if kind == "trapezoid":
        nodes, weights = gaussian_trapezoid_rule_mpmath(0.4 * 0.75**level, dps, 3 * reach)
    elif kind == "gauss-hermite":
        nodes, weights = gauss_hermite_rule_mpmath(int(48 * 1.5 ** (level + reach)), dps)
    else:
        raise ConfigurationError(f"rule must be 'trapezoid' or 'gauss-hermite', got {kind!r}")
    if not odd:
        return nodes, weights
    half = [(s, 2 * w if s > 0 else w) for s, w in zip(nodes, weights, strict=True) if s >= 0]
    return tuple(s for s, _ in half), tuple(w for _, w in half)


def precise_field(
    spec: str,
    depth: int,
    amplitude: float = 1.0,
    *,
    digits: int = 30,
    probe: float = 0.6,
    rule: str = "trapezoid",
    max_level: int = 10,
) -> PreciseField:
    """The reduced field at ``digits`` + guard digits. The rule is refined until F(probe·𝟏)
    changes by less than 10^-(digits+2) relative: first the trapezoid's reach (+3 per level;
    polynomially growing chains need it), then the step (× 3/4 per level). Of the last two rules
    the coarser is kept (the change bounds its error). The Gauss–Hermite rule instead raises n
    by 3/2 per level.

    Raises:
        NumericalError: no convergence within ``max_level`` refinements of either kind.
        (validation errors as ``escape``)
    """
    act = precise_activation(spec, depth, amplitude)
    dps = digits + GUARD_DIGITS
    a = mpmath.mpf(amplitude)
    with mpmath.workdps(dps):
        X = [mpmath.mpf(probe)] * depth
        tolerance = mpmath.mpf(10) ** (-(digits + 2))

        def build(level: int, reach: int) -> tuple[PreciseField, list]:
            nodes, weights = _rule(rule, level, reach, dps, act.odd)
            field = PreciseField(
                act, depth, dps, nodes, weights, tuple(a * act.sigma(s) for s in nodes), rule
            )
            return field, field(X)

        def converged(new: list, old: list) -> bool:
            change = max(abs(u - v) for u, v in zip(new, old, strict=True))
            return change <= tolerance * max(abs(v) for v in new)

        level, reach = 0, 0
        field, value = build(level, reach)
        for reach in range(1, max_level + 1):
            wider, wider_value = build(level, reach)
            if converged(wider_value, value):
                reach -= 1
                break
            field, value = wider, wider_value
        else:
            raise NumericalError(f"the {rule} rule's reach did not converge to {digits} digits")
        for level in range(1, max_level + 1):
            finer, finer_value = build(level, reach)
            if converged(finer_value, value):
                return field
            field, value = finer, finer_value
    raise NumericalError(f"the {rule} rule's step did not converge to {digits} digits")


@dataclass(frozen=True)
class PreciseEscape:
    """A high-precision escape time of the exact reduced ODE (MATH.md §4, §6): ``time`` (mpf,
    ``digits`` significant digits intended);
    ``path``: X at the integrator's accepted steps."""

    time: mpmath.mpf
    digits: int
    nodes: int
    rule: str
    steps: int
    evaluations: int
    seconds: float
    final: tuple
    path: tuple = ()

    def decimal(self) -> str:
        """The time as a decimal string with ``digits`` significant digits."""
        return mpmath.nstr(self.time, self.digits, strip_zeros=False)


def _flow(field: PreciseField, rho_star: float) -> callable:
    """The flow in τ = ln ρ: d(ln X_l)/dτ = (F_l/X_l)/R, dt/dτ = 1/R, R = mean_l F_l/X_l.

    τ is a clock only while the product grows. Where R ≤ 0 (the product shrinks: the start lies
    past a fixed point below ρ*) or R has fallen to ``STALL_FRACTION`` of its first value (the
    run nears such a point, where t(τ) has a logarithmic singularity and the steps shrink
    without end), NoEscapeError names ρ and ρ*. An escaping flow's R grows with ρ."""
    L = field.depth
    first: list = []

    def rhs(tau: mpmath.mpf, state: list) -> list:
        X = [mpmath.exp(v) for v in state[:L]]
        F = field(X)
        relative = [a / b for a, b in zip(F, X, strict=True)]
        R = mpmath.fsum(relative) / L
        if not first:
            first.append(R)
        if R <= 0 or R <= STALL_FRACTION * first[0]:
            # teacher amplitude a = 1e-9 at L = 4: R < 0 from ρ = 0.04 (`expand`'s start); a
            # start at ρ = 1e-3 ran for over ten minutes towards the fixed point
            where = "does not grow" if R <= 0 else "stalls"
            raise NoEscapeError(
                f"the product {where} at ρ = {mpmath.nstr(mpmath.exp(tau), 6)}, short of "
                f"ρ* = {rho_star:g} (the growth rate R = mean F_l/X_l reached "
                f"{mpmath.nstr(R, 3)}): the reduced flow has a fixed point below the threshold, "
                "which a small teacher amplitude a lowers; raise a or lower ρ*"
            )
        return [r / R for r in relative] + [1 / R]

    return rhs


def _run(
    field: PreciseField, log_start: list, rho_star: float, digits: int, progress: bool = False
) -> PreciseEscape:
    started = time.perf_counter()
    L = field.depth
    with mpmath.workdps(field.dps):
        y0 = [mpmath.mpf(v) for v in log_start] + [mpmath.mpf(0)]
        tau0 = mpmath.fsum(y0[:L]) / L
        tau1 = mpmath.log(mpmath.mpf(rho_star))
        if tau0 >= tau1:
            raise ConfigurationError(
                f"the start's geometric mean {mpmath.nstr(mpmath.exp(tau0), 6)} is already ≥ ρ*"
            )
        rtol = mpmath.mpf(10) ** (-(digits + 3))
        with _progress(progress, float(tau0), float(tau1)) as on_step:
            solution = integrate(
                _flow(field, rho_star),
                tau0,
                y0,
                tau1,
                rtol=rtol,
                atol=[rtol] * (L + 1),
                columns=max(6, int(0.45 * digits) + 1),
                first_step=mpmath.mpf("0.5"),
                on_step=on_step,
            )
        final = solution.final
        return PreciseEscape(
            +final[-1],
            digits,
            len(field.nodes),
            field.rule,
            solution.steps,
            solution.evaluations,
            time.perf_counter() - started,
            tuple(mpmath.exp(v) for v in final[:L]),
            tuple(tuple(mpmath.exp(v) for v in state[:L]) for state in solution.y),
        )


@contextmanager
def _progress(show: bool, start: float, end: float) -> Iterator[Any]:
    """A bar over the way from the start's ln ρ to ln ρ* (``start``, ``end``; in thousandths),
    shown on stderr once a run has taken two seconds; yields the integrator's ``on_step`` hook
    (None when not shown)."""
    if not show:
        yield None
        return
    from symescape.progress import progress_bar

    way = end - start
    bar = progress_bar(total=1000, desc="mpmath ODE to ρ*", unit="‰", leave=False, delay=2.0)

    def on_step(tau: mpmath.mpf) -> None:
        bar.update(min(1000, int(1000 * (float(tau) - start) / way)) - bar.n)

    try:
        yield on_step
    finally:
        bar.close()


def escape_time_precise(
    spec: str,
    depth: int,
    scales: Sequence,
    *,
    rho_star: float = RHO_STAR,
    amplitude: float = 1.0,
    digits: int = 30,
    rule: str = "trapezoid",
    progress: bool = False,
) -> PreciseEscape:
    """Escape time of the exact reduced flow (MATH.md §4, §6) from X(0) = ``scales`` under the
    product criterion, at ``digits`` digits (scales may be strings, kept exact to the working
    precision). ``progress``: a bar over ln ρ on stderr once the run has taken two seconds.

    >>> r = escape_time_precise("tanh", 3, ["0.1"] * 3, digits=15)
    >>> r.decimal()
    '14.4558228401576'

    Raises:
        ConfigurationError: digits outside [15, 200], bad scales, start at or past ρ*.
        OutsideHypothesisError, NoLinearPathError, NoEscapeError: as ``escape``.
    """
    digits = validate_digits(digits)
    rho_star = validate_rho_star(rho_star)
    if isinstance(scales, str) or not isinstance(scales, Sequence | np.ndarray):
        raise ConfigurationError(
            f"scales must be a list of {depth} numbers or decimal strings, got {scales!r:.80}"
        )
    if len(scales) != depth:
        raise ConfigurationError(f"{len(scales)} scales given for depth {depth}")
    field = precise_field(
        spec, depth, amplitude, digits=digits, rule=rule, probe=probe_for(rho_star)
    )
    with mpmath.workdps(field.dps):
        try:
            values = [mpmath.mpf(v) for v in scales]
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"initial scales must be numbers or decimal strings, got {list(scales)!r:.80}"
            ) from None
        if any(not mpmath.isfinite(v) or v <= 0 for v in values):
            raise ConfigurationError("initial scales must be finite and > 0")
        log_start = [mpmath.log(v) for v in values]
    return _run(field, log_start, rho_star, digits, progress)


@dataclass(frozen=True)
class ConstantEstimate:
    """C two ways: ``by_limit`` (Richardson over T(ε) − local terms) and ``by_integral`` (the
    regularised slow-manifold integral plus the transient constant); ``difference`` between them."""

    by_limit: mpmath.mpf
    by_integral: mpmath.mpf
    difference: mpmath.mpf
    eps: tuple
    rho0: mpmath.mpf

    @property
    def agreeing_digits(self) -> float:
        scale = max(abs(self.by_limit), mpmath.mpf(1))
        if self.difference == 0:
            return float("inf")
        return float(-mpmath.log10(abs(self.difference) / scale))


def constant_by_limit(
    expansion: EscapeExpansion, spec: str, eps: Sequence[float], digits: int = 30
) -> mpmath.mpf:
    """C ≈ T(ε) − (local terms), extrapolated in ε with the remainder power p_nl."""
    field = precise_field(
        spec,
        expansion.depth,
        expansion.amplitude,
        digits=digits,
        probe=probe_for(expansion.rho_star),
    )
    values = []
    with mpmath.workdps(field.dps):
        for e in eps:
            e = mpmath.mpf(e)
            run = _run(field, [mpmath.log(e)] * expansion.depth, expansion.rho_star, digits)
            full = mpmath.fsum(t.evaluate(e) for t in expansion.all_terms)
            values.append((e, run.time - full))
        p = expansion.nonlocal_power
        (e1, d1), (e2, d2) = values[-2], values[-1]
        return (d2 * e1**p - d1 * e2**p) / (e1**p - e2**p)


def slow_manifold_run(
    expansion: EscapeExpansion, spec: str, rho0: float, digits: int = 30, progress: bool = False
) -> tuple[PreciseEscape, mpmath.mpf]:
    """The run from ρ_0 on the slow manifold to ρ*, and C by the regularised integral."""
    field = precise_field(
        spec,
        expansion.depth,
        expansion.amplitude,
        digits=digits,
        probe=probe_for(expansion.rho_star),
    )
    with mpmath.workdps(field.dps):
        r0 = mpmath.mpf(rho0)
        start = [mpmath.log(x) for x in slow_manifold_start(expansion, r0)]
        run = _run(field, start, expansion.rho_star, digits, progress)
        constant = run.time + slow_manifold_correction(expansion, r0)
        return run, constant + expansion.transient_constant


def balanced_run(
    expansion: EscapeExpansion, spec: str, eps: float, digits: int = 30
) -> PreciseEscape:
    """The run from X(0) = ε𝟏 to ρ*, ε taken as the exact binary value of the float (as the
    series evaluates it: a 17-digit decimal differs by ~1e-17 relative, which moves T(1e-3) at
    L = 4 by 3e-11)."""
    return escape_time_precise(
        spec,
        expansion.depth,
        [eps] * expansion.depth,
        rho_star=expansion.rho_star,
        amplitude=expansion.amplitude,
        digits=digits,
    )


def constant_by_integral(
    expansion: EscapeExpansion, spec: str, rho0: float, digits: int = 30, progress: bool = False
) -> mpmath.mpf:
    """C = T_slow(ρ_0 → ρ*) + the series' lower-limit part + the transient constant."""
    return slow_manifold_run(expansion, spec, rho0, digits, progress)[1]


def escape_constant(
    expansion: EscapeExpansion,
    spec: str,
    *,
    eps: Sequence[float] = (2e-3, 1e-3),
    rho0: float = 1e-3,
    digits: int = 30,
) -> ConstantEstimate:
    """The non-local constant C two independent ways (module docstring)."""
    by_limit = constant_by_limit(expansion, spec, eps, digits)
    by_integral = constant_by_integral(expansion, spec, rho0, digits)
    with mpmath.workdps(digits + GUARD_DIGITS):
        return ConstantEstimate(
            by_limit, by_integral, by_limit - by_integral, tuple(eps), mpmath.mpf(rho0)
        )


def slow_manifold_start(expansion: EscapeExpansion, rho0: mpmath.mpf) -> list:
    """X on the slow manifold at ρ_0: X_l = ρ_0 exp(Σ_n h_{n,l} ρ_0^n)."""
    L = expansion.depth
    return [
        rho0
        * mpmath.exp(
            mpmath.fsum(
                expansion.slow_manifold[n][l] * rho0**n
                for n in range(1, len(expansion.slow_manifold))
            )
        )
        for l in range(L)
    ]


def slow_manifold_correction(expansion: EscapeExpansion, rho0: mpmath.mpf) -> mpmath.mpf:
    """(1/K) Σ_{n≠L−2} w_n ρ_0^{n−(L−2)}/(n−(L−2)) − (1/K) w_{L−2} ln(1/ρ_0)."""
    L = expansion.depth
    total = mpmath.mpf(0)
    for n, w in enumerate(expansion.slow_rate):
        p = n - (L - 2)
        total += w * rho0**p / p if p != 0 else -w * mpmath.log(1 / rho0)
    return total / expansion.K


@dataclass(frozen=True)
class SeriesEscape:
    """T(ε) from the expansion (MATH.md §12): ``local`` (the kept local terms), ``constant``
    (C from the double-precision ODE along the slow manifold from ρ_0) with its
    ``constant_error`` (the change from ρ_0 to ρ_0/2), ``time`` = local + constant, and
    ``remainder_power`` of the error."""

    time: float
    local: float
    constant: float
    remainder_power: int
    order: int
    seconds: float
    constant_error: float = float("nan")


def escape_time_series(
    spec: str,
    depth: int,
    eps: float,
    *,
    order: int = 4,
    rho_star: float = RHO_STAR,
    amplitude: float = 1.0,
    rho0: float | None = None,
) -> SeriesEscape:
    """T(ε) from X(0) = ε𝟏 by the series (MATH.md §12): exact local terms plus C (second
    route, in double precision: the fast ODE along the slow manifold from ρ_0 to ρ*).

    Raises:
        ConfigurationError: ε ≤ 0 or ε ≥ ρ*; order outside the engine's range.
        OutsideHypothesisError, NoLinearPathError, NoEscapeError: as ``escape``.
    """
    started = time.perf_counter()
    rho_star = validate_rho_star(rho_star)
    eps = require_real(eps, "eps")
    if not 0 < eps < rho_star:
        raise ConfigurationError(f"ε must lie in (0, ρ* = {rho_star}), got {eps}")
    expansion = escape_expansion(
        spec, depth, order=order, rho_star=rho_star, amplitude=amplitude, exact=False
    )
    # C does not depend on ε: it comes from a run along the slow manifold from a fixed ρ_0.
    # (Starting at ρ_0 = ε, as before, made C = T_ODE(ε) − local(ε), which cancels to nothing
    # as ε → 0: −50922 instead of −4.31 at ε = 1e-8 for tanh, L = 4.) ρ_0: 0.05, or ρ*/4 when
    # ρ* is smaller.
    constant = expansion_constant(
        expansion, spec, rho0=min(0.05, rho_star / 4) if rho0 is None else rho0
    )
    with mpmath.workdps(30):
        local = float(expansion.local_sum(mpmath.mpf(eps)))
    return SeriesEscape(
        local + constant.value,
        local,
        constant.value,
        expansion.remainder_power,
        order,
        time.perf_counter() - started,
        constant.error,
    )


@dataclass(frozen=True)
class ExpansionConstant:
    """C with its estimated error: two starting radii ρ_0 (the difference is the estimate).
    ``digits``: None for double precision; the mpmath digits otherwise. ``fallback``: the
    double-precision route handed a run to :data:`FALLBACK_DIGITS`-digit mpmath."""

    value: float
    error: float
    digits: int | None
    fallback: bool = False
    rho0: float = 0.04

    @property
    def determined(self) -> bool:
        """Whether the error leaves C a significant digit (error < |C|). gelu at L = 12 in
        double precision: 1e7 ± 1e7 (T from ρ_0 is ~1e15 there, so double's round-off alone
        is ~1e3, and the two starts disagree by all of C)."""
        return bool(self.error < abs(self.value))


FALLBACK_DIGITS = 15
"""Digits of the mpmath run that replaces a double-precision slow-manifold run DOP853 cannot
finish (its field carries 15 + GUARD_DIGITS = 27 working digits, so its round-off is far
below double's)."""


def expansion_constant(
    expansion: EscapeExpansion,
    spec: str,
    *,
    digits: int | None = None,
    rho0: float | None = None,
    progress: bool = False,
) -> ExpansionConstant:
    """The non-local constant C of T(ε) (MATH.md §12) by the slow-manifold route, from ρ_0
    and ρ_0/2: in double precision (``digits`` None) or at ``digits`` digits; the error is
    their difference. In double precision a run that DOP853 cannot finish at rtol 1e-12 (the
    field's round-off above the tolerance, see :func:`slow_manifold_time`) is run in mpmath at
    :data:`FALLBACK_DIGITS` digits instead. ``rho0`` defaults to min(0.04, ρ*/4) (a fixed 0.04
    refused every ρ* ≤ 0.04). ``progress``: bars for the mpmath runs."""
    if rho0 is None:
        rho0 = min(0.04, expansion.rho_star / 4)
    rho0 = require_real(rho0, "rho0 (the slow-manifold start)", minimum=0, strict=True)
    if rho0 >= expansion.rho_star:
        raise ConfigurationError(
            f"rho0 (the slow-manifold start) must be below ρ* = {expansion.rho_star:g}, "
            f"got {rho0:g}"
        )
    if digits is not None:
        digits = validate_digits(digits)
    values, fallback = [], False
    model = reduced_model(spec, expansion.depth, expansion.amplitude) if digits is None else None
    for r in (rho0, rho0 / 2):
        escape = None
        if digits is None:
            with mpmath.workdps(30):
                r0 = mpmath.mpf(r)
                start = np.array([float(x) for x in slow_manifold_start(expansion, r0)])
                escape = slow_manifold_time(model, start, expansion.rho_star)
                if escape is not None:
                    values.append(
                        escape
                        + slow_manifold_correction(expansion, r0)
                        + expansion.transient_constant
                    )
        if escape is None:
            fallback |= digits is None
            values.append(
                constant_by_integral(expansion, spec, r, digits or FALLBACK_DIGITS, progress)
            )
    return ExpansionConstant(
        float(values[1]), float(abs(values[1] - values[0])), digits, fallback, float(rho0)
    )


SLOW_MANIFOLD_RTOL = 1e-12
"""The tolerance of the double-precision slow-manifold run: its T is ~ρ_0^{−(L−2)}/K, so C's
absolute error is about rtol × T."""

SLOW_MANIFOLD_EVALUATIONS = 5_000
"""Field evaluations the double-precision slow-manifold run may use. A run whose field is
resolved takes hundreds (tanh L = 4: ~300; gelu L = 8: ~500); where the field's round-off
sits above the tolerance the steps collapse instead: softplus at L = 6 from ρ_0 = 0.04 took 829
evaluations at rtol 1e-10, 6 727 at 1e-11, over 20 000 at 1e-12 and then LSODA's stiff rerun
for minutes (and a looser rtol gave C to ±2 only: sigmoid L = 6, −2.4e4 ± 7e3 where 15-digit
mpmath gives −22330.739 ± 5e-7)."""


def slow_manifold_time(
    model: ReducedModel, start: np.ndarray, rho_star: float
) -> float | None:
    """Escape time T of the double-precision reduced flow from a slow-manifold ``start`` at
    rtol :data:`SLOW_MANIFOLD_RTOL` (DOP853 in log variables, no stiff rerun), or None when it
    does not finish within :data:`SLOW_MANIFOLD_EVALUATIONS` evaluations."""
    run = escape_time_ode(
        model,
        start,
        EscapeCriterion("product", rho_star),
        rtol=SLOW_MANIFOLD_RTOL,
        max_evaluations=SLOW_MANIFOLD_EVALUATIONS,
    )
    return run.time if run.escaped else None
