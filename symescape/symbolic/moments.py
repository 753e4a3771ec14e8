"""Gaussian moments of an activation, Hermite coefficients and μ₁ (MATH.md §3), as exact-or-precise
constants.

    m_k = E_s[σ(s) s^k],   μ_k = E_s[σ(s) He_k(s)] = E_s[σ^{(k)}(s)] (Stein),   μ₁ = E[σ'(s)].

Each is a :class:`Constant`: the exact SymPy value where the closed-form rule of
:mod:`symescape.symbolic.gaussian` applies within its time budget (its value then the exact form
to ``dps`` digits), else mpmath's quadrature of σ(s) s^k to ≥ 30 digits with an error bound. The
two routes are independent; the tests hold the exact rule to the quadrature at 25 digits. When
the exact route gives up, a :class:`~symescape.errors.ClosedFormFallbackWarning` says so and
why, and the constant carries the reason (``Constant.note``): its sign is then decided from the
interval value ± error, never from a bare float.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import mpmath
import sympy as sp

from symescape.codegen import mpmath_kernel
from symescape.errors import ClosedFormFallbackWarning, NumericalError, TimeBudgetError
from symescape.options import require_int
from symescape.precision.gauss import DEFAULT_DPS, expectation_mpmath_bounded
from symescape.symbolic.activations import Activation, Z, activation
from symescape.symbolic.budget import time_budget
from symescape.symbolic.canonical import (
    canonical_constant,
    decimal_scaled_latex,
    float_as_rational,
    simplified,
)
from symescape.symbolic.gaussian import (
    breakpoints_at,
    check_gaussian_domain,
    closed_form_expectation,
)

S = sp.Symbol("s", real=True)
"""Integration variable of the Gaussian expectations, s ~ N(0, 1)."""

MIN_DPS = 30
"""The fewest digits a numeric constant may carry (the issue-18 floor)."""

_GUARD = 10  # extra working digits for arithmetic on constants


@dataclass(frozen=True)
class Constant:
    """A real constant: its exact SymPy form (None when unknown), an mpmath value and a bound on
    that value's error, ``|value − true| ≤ error``.

    Constants of MATH.md §3–§7 (μ₁, m_k = E[σ(s) s^k], K, κ), exact where SymPy closes them.

    ``value`` carries at least ``DEFAULT_DPS - 5`` correct digits. For a numeric constant ``note``
    says why there is no exact form. The sign and ``float`` come from the exact form when there is
    one (an exact zero is 0.0), else from the interval ``value ± error``.
    """

    exact: sp.Expr | None
    value: mpmath.mpf
    error: mpmath.mpf = mpmath.mpf(0)
    note: str = ""

    def __float__(self) -> float:
        if self.exact is not None:
            return 0.0 if self.exact == 0 else float(sp.N(self.exact, 20))
        return float(self.value)

    @property
    def is_exact(self) -> bool:
        return self.exact is not None

    @property
    def status(self) -> str:
        """"exact" or "numeric" (for reports: which constants are closed forms)."""
        return "exact" if self.exact is not None else "numeric"

    @property
    def sign(self) -> int | None:
        """-1, 0 or 1, decided from the exact form, else from ``value ± error`` (None when that
        interval contains 0)."""
        if self.exact is not None:
            return _exact_sign(self.exact)
        if abs(self.value) > self.error:
            return 1 if self.value > 0 else -1
        return None

    @property
    def is_positive(self) -> bool:
        """True only when the constant is proved > 0 (exactly, or by its error bound)."""
        return self.sign == 1

    def latex(self, digits: int = 15) -> str:
        """The exact form in LaTeX (long decimal rationals as p/q·10^k), or the value to
        ``digits`` significant digits."""
        if self.exact is not None:
            return decimal_scaled_latex(self.exact)
        mantissa, _, exponent = mpmath.nstr(self.value, digits).partition("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}" if exponent else mantissa

    def __str__(self) -> str:
        if self.exact is not None:
            return str(self.exact)
        return mpmath.nstr(self.value, 20)

    @classmethod
    def from_exact(cls, exact: sp.Expr, dps: int = DEFAULT_DPS) -> Constant:
        """The constant of an exact expression, in canonical form, with its value to dps digits."""
        exact = sp.sympify(exact, strict=True)
        exact = float_as_rational(exact) if exact.is_Float else canonical_constant(exact)
        with mpmath.workdps(dps + _GUARD):
            value = mpmath.mpf(sp.N(exact, dps + _GUARD))
            error = max(abs(value), mpmath.mpf(1)) * mpmath.mpf(10) ** (-(dps + 5))
        return cls(exact, value, error)


def _exact_sign(exact: sp.Expr) -> int | None:
    if exact == 0:
        return 0
    if exact.is_positive:
        return 1
    if exact.is_negative:
        return -1
    numeric = exact.evalf(60)
    if numeric.is_Number and abs(numeric) > sp.Float("1e-50"):
        return 1 if numeric > 0 else -1
    # Below 1e-50 only a proof of zero decides: SymPy's simplification, under a budget.
    return 0 if simplified(exact) == 0 else None


def _interval(c: Constant | sp.Expr | int) -> mpmath.ctx_iv.ivmpf:
    if isinstance(c, Constant):
        return mpmath.iv.mpf([c.value - c.error, c.value + c.error])
    value = mpmath.mpf(sp.N(c, DEFAULT_DPS + _GUARD))
    spread = abs(value) * mpmath.mpf(10) ** (-(DEFAULT_DPS + 5))
    return mpmath.iv.mpf([value - spread, value + spread])


def _combine(exact: sp.Expr | None, value: mpmath.mpf, interval: mpmath.ctx_iv.ivmpf) -> Constant:
    """A constant from an exact form, a midpoint value and an enclosing interval."""
    error = max(abs(mpmath.mpf(interval.a) - value), abs(mpmath.mpf(interval.b) - value))
    if exact is not None:
        exact = canonical_constant(exact)
        return Constant(exact, value, error)
    return Constant(None, value, error, "computed from numeric moments, by interval arithmetic")


class _Precision:
    """mpmath's scalar and interval contexts at ``DEFAULT_DPS + guard`` digits."""

    def __enter__(self) -> None:
        self._saved = (mpmath.mp.dps, mpmath.iv.dps)
        mpmath.mp.dps = mpmath.iv.dps = DEFAULT_DPS + _GUARD

    def __exit__(self, *exc: object) -> None:
        mpmath.mp.dps, mpmath.iv.dps = self._saved


def _as_value(c: Constant | sp.Expr | int) -> mpmath.mpf:
    return c.value if isinstance(c, Constant) else mpmath.mpf(sp.N(c, DEFAULT_DPS + _GUARD))


def _as_exact(c: Constant | sp.Expr | int) -> sp.Expr | None:
    return c.exact if isinstance(c, Constant) else sp.sympify(c, strict=True)


def linear_combination(terms: list[tuple[sp.Expr, Constant]]) -> Constant:
    """Σ a_i C_i for exact coefficients a_i; exact when every C_i is."""
    with _Precision():
        value = mpmath.fsum(_as_value(a) * c.value for a, c in terms)
        interval = mpmath.iv.mpf(0)
        for a, c in terms:
            interval += _interval(a) * _interval(c)
        exact = None
        if all(c.exact is not None for _, c in terms):
            exact = sp.Add(*(a * c.exact for a, c in terms))
        return _combine(exact, value, interval)


def product(*factors: Constant | sp.Expr | int) -> Constant:
    """The product of constants and exact numbers; exact when every factor is."""
    with _Precision():
        value, interval = mpmath.mpf(1), mpmath.iv.mpf(1)
        exact: sp.Expr | None = sp.Integer(1)
        for f in factors:
            value *= _as_value(f)
            interval *= _interval(f)
            part = _as_exact(f)
            exact = None if (exact is None or part is None) else exact * part
        return _combine(exact, value, interval)


def quotient(numerator: Constant, denominator: Constant) -> Constant:
    """numerator / denominator; exact when both are. The error bound is infinite when the
    denominator's interval contains 0."""
    with _Precision():
        value = numerator.value / denominator.value
        low, high = denominator.value - denominator.error, denominator.value + denominator.error
        if low <= 0 <= high and denominator.exact is None:
            error = mpmath.inf
            return Constant(None, value, error, "the denominator's sign is undecided")
        exact = None
        if numerator.exact is not None and denominator.exact is not None:
            exact = numerator.exact / denominator.exact
        return _combine(exact, value, _interval(numerator) / _interval(denominator))


def _split_exact_terms(sigma: sp.Expr, k: int) -> tuple[sp.Expr, sp.Expr]:
    """(Σ E[t s^k] over σ's additive terms t with a closed form, the sum of the other terms):
    only the second is integrated numerically, so its error bound is relative to its own size.
    σ = 10¹⁰⁰ + tanh(s) gave μ₁ = 0.0 ± 3e65 (the constant's E[s] = 0 lost to quadrature
    round-off at 10¹⁰⁰ scale) and a ZeroDivisionError in κ; tanh's 0.6057 is now exact-shifted."""
    exact, numeric = sp.Integer(0), []
    terms = sp.Add.make_args(sigma)
    for term in terms:
        attempt = closed_form_expectation(term * S**k, S) if len(terms) > 1 else None
        if attempt is not None and attempt.value is not None:
            exact += attempt.value
        else:
            numeric.append(term)
    return exact, sp.Add(*numeric)


def _sigma_of_s(act: Activation) -> sp.Expr:
    return act.expr.xreplace({Z: S})


_HYPERBOLIC = (sp.sinh, sp.cosh, sp.tanh, sp.coth, sp.sech, sp.csch)


@lru_cache(maxsize=256)
def _polynomial_in_exponentials(sigma: sp.Expr) -> sp.Expr | None:
    """σ(s) as a polynomial, when rewriting its hyperbolic and exponential terms as one rational
    function of exponentials cancels to one (tanh(s) − (e^{2s} − 1)/(e^{2s} + 1) is 0, whose
    moments the quadrature cannot give to 40 digits relative to a size of 0); else None."""
    if sigma.is_polynomial(S) or not sigma.has(sp.exp, *_HYPERBOLIC):
        return None
    step = f"exponential form of {sp.sstr(sigma)[:60]}"
    try:
        with time_budget(step, POLYNOMIAL_FORM_SECONDS):
            rewritten = sp.cancel(sigma.rewrite(sp.exp))
    except TimeBudgetError as exc:
        if exc.step != step:
            raise
        return None
    return rewritten if rewritten.is_polynomial(S) else None


POLYNOMIAL_FORM_SECONDS = 2.0
"""Budget of :func:`_polynomial_in_exponentials`."""


@lru_cache(maxsize=1024)
def _mpmath_moment(expr: sp.Expr, k: int, dps: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(value, error bound) of :func:`expectation_mpmath_bounded`: the bound is relative to the
    integrand's own size (not to 1: σ = 1e-100·tanh)."""
    integrand = expr * S**k
    if integrand.subs(S, -S) + integrand == 0:
        # odd (tanh(s)·s²): exactly 0. The quadrature's mirrored halves cancelled exactly only
        # while 0 was the sole split point; with the peaks below they leave ~1e-58
        return mpmath.mpf(0), mpmath.mpf(0)
    kernel = mpmath_kernel([integrand], [S])
    # s^k e^{-s²/2} peaks at ±√k: split there too, or tanh-sinh, whose nodes crowd at the split
    # points, misses the peak of a high moment (E[tanh(s) s^81] was refused as 'short of 40
    # digits', s^61 took 4 s; with the split, 0.4 s each)
    peaks = (-mpmath.sqrt(k), mpmath.sqrt(k)) if k >= 2 else ()
    try:
        return expectation_mpmath_bounded(
            lambda s: kernel(s)[0], dps=dps, breakpoints=(*breakpoints_at(expr, S, dps), *peaks)
        )
    except NumericalError as exc:  # say which constant: the bare message named none
        raise NumericalError(f"E[σ(s) s^{k}] for σ(s) = {sp.sstr(expr)[:60]}: {exc}") from None


@lru_cache(maxsize=1024)
def derivative_expectation_exact(act: Activation, j: int) -> sp.Expr | None:
    """E[σ^{(j)}(s)] exactly (None when the closed-form rule does not apply)."""
    check_gaussian_domain(act.expr, Z)
    return closed_form_expectation(sp.diff(_sigma_of_s(act), S, j), S).value


@lru_cache(maxsize=1024)
def gaussian_moment(act: Activation, k: int, dps: int = DEFAULT_DPS) -> Constant:
    """m_k = E_s[σ(s) s^k] (MATH.md §3): exact where the closed-form rule applies within its
    budget (value: the exact form to ``dps`` digits), else mpmath's quadrature to ``dps`` digits
    with its error bound and a :class:`ClosedFormFallbackWarning`.

    >>> gaussian_moment(activation("sin"), 1).exact
    exp(-1/2)

    Raises:
        GaussianDomainError: σ is not real and finite on ℝ or grows too fast (before any integral).
        ConfigurationError: k < 0 or dps < 30.

    Warns:
        ClosedFormFallbackWarning: no exact form; the constant is the mpmath value.
    """
    k = require_int(k, "moment order", minimum=0)  # NumPy integers too (np.arange)
    act = activation(act)  # a name or expression is accepted; any other type: ActivationError
    dps = require_int(dps, "dps", minimum=MIN_DPS)
    check_gaussian_domain(act.expr, Z)
    attempt = closed_form_expectation(_sigma_of_s(act) * S**k, S)
    if attempt.value is None:
        polynomial = _polynomial_in_exponentials(_sigma_of_s(act))
        if polynomial is not None:
            attempt = closed_form_expectation(polynomial * S**k, S)
    if attempt.value is not None:
        # The value is the exact form evaluated to dps digits; the independent mpmath quadrature
        # of the same moment is the tests' check of the closed-form rule (test_gaussian.py).
        return Constant.from_exact(attempt.value, dps)
    exact_part, numeric_part = _split_exact_terms(_sigma_of_s(act), k)
    value, error = _mpmath_moment(numeric_part, k, dps)
    if exact_part != 0:
        with mpmath.workdps(dps + _GUARD):
            exact_value = mpmath.mpf(sp.N(exact_part, dps + _GUARD))
            value += exact_value
            error += abs(exact_value) * mpmath.mpf(10) ** (-(dps + 5))
    warnings.warn(
        f"E[σ(s) s^{k}] for σ = {act.name}: no closed form ({attempt.reason}); using the "
        f"mpmath value to {dps} digits",
        ClosedFormFallbackWarning,
        stacklevel=2,
    )
    return Constant(None, value, error, attempt.reason)


def hermite_moment(act: Activation, k: int, dps: int = DEFAULT_DPS) -> Constant:
    """μ_k = E_s[σ(s) He_k(s)] (probabilists' Hermite; σ = Σ_k μ_k He_k / k!).

    μ_k = E_s[σ(s) He_k(s)] = E_s[σ^{(k)}(s)] (Stein)  (MATH.md §0, §3).

    Raises:
        ConfigurationError: k not an integer ≥ 0; as :func:`gaussian_moment` otherwise.
    """
    k = require_int(k, "Hermite order", minimum=0)
    he = sp.hermite_prob(k, S) if hasattr(sp, "hermite_prob") else _he(k)
    poly = sp.Poly(he, S)
    terms = [(c, gaussian_moment(act, int(m[0]), dps)) for m, c in poly.terms()]
    return linear_combination(terms)


def _he(k: int) -> sp.Expr:
    return sp.expand(2 ** (-sp.Rational(k, 2)) * sp.hermite(k, S / sp.sqrt(2)))


def mu1(act: Activation, dps: int = DEFAULT_DPS) -> Constant:
    """μ₁ = E_s[σ'(s)] = E_s[σ(s) s], the first Hermite coefficient
    (MATH.md §3; the paper's γ in its §5)."""
    return gaussian_moment(act, 1, dps)
