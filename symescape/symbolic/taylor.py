"""Taylor expansion at 0, analyticity, parity and φ_σ (MATH.md §2–3).

    σ(z) = Σ_k c_k z^k,   φ_σ(z) = z σ'(z) - σ(z) = -c_0 + Σ_{k≥2} (k-1) c_k z^k.

Symbolic layer only: everything here returns SymPy objects.
"""

from __future__ import annotations

from functools import lru_cache

import mpmath
import sympy as sp

from symescape.errors import NotAnalyticError, NotRealFunctionError
from symescape.symbolic.activations import Activation, Z

# Heads whose presence means the expression is defined piecewise: SymPy's series would silently
# return one branch (series(Max(0, z)) gives z), so these are decided before any expansion.
_PIECEWISE_HEADS: tuple[type, ...] = (
    sp.Abs,
    sp.Max,
    sp.Min,
    sp.Piecewise,
    sp.Heaviside,
    sp.sign,
    sp.floor,
    sp.ceiling,
    sp.frac,
    sp.DiracDelta,
    sp.re,
    sp.im,
)

ZERO_TEST_DIGITS = 60
"""Digits used to decide numerically that a coefficient is non-zero."""


def is_piecewise_defined(act: Activation) -> bool:
    """True when σ's expression contains Abs, Max, Min, Piecewise, Heaviside, sign, ..."""
    return any(act.expr.has(head) for head in _PIECEWISE_HEADS)


def piecewise_branches(act: Activation) -> tuple[sp.Expr, ...]:
    """The branch expressions of a piecewise-defined σ (after rewriting to Piecewise)."""
    expr = sp.piecewise_fold(act.expr.rewrite(sp.Piecewise))
    if isinstance(expr, sp.Piecewise):
        return tuple(branch for branch, _ in expr.args)
    return (expr,)


def is_piecewise_linear(act: Activation) -> bool:
    """σ is piecewise-defined and every branch is affine in z (ReLU, leaky ReLU, |z|)."""
    if not is_piecewise_defined(act):
        return False
    for branch in piecewise_branches(act):
        if branch.has(*_PIECEWISE_HEADS):
            return False
        if not branch.is_polynomial(Z) or sp.degree(sp.expand(branch), Z) > 1:
            return False
    return True


def is_zero(value: sp.Expr) -> bool:
    """Decide ``value == 0`` for a constant: numerically at 60 digits, then symbolically.

    A constant whose 60-digit value exceeds 1e-50 is non-zero; a smaller one is zero if
    SymPy's simplification says so, or if its 120-digit value is also below 1e-100.
    """
    value = sp.sympify(value)
    if value == 0:
        return True
    numeric = value.evalf(ZERO_TEST_DIGITS)
    if numeric.is_Number and abs(numeric) > sp.Float("1e-50"):
        return False
    if sp.simplify(value) == 0:
        return True
    return bool(abs(value.evalf(2 * ZERO_TEST_DIGITS)) < sp.Float("1e-100"))


@lru_cache(maxsize=4096)
def _term_series(term: sp.Expr, order: int) -> sp.Expr:
    """Taylor polynomial of one additive term (polynomials need no series expansion)."""
    if term.is_polynomial(Z):
        return sp.expand(term)
    try:
        return sp.series(term, Z, 0, order + 1).removeO()
    except (ValueError, NotImplementedError, TypeError, sp.PoleError) as exc:
        raise NotAnalyticError(f"{term} has no Taylor series at 0: {exc}") from None


@lru_cache(maxsize=512)
def _series_coefficients(expr: sp.Expr, order: int) -> tuple[sp.Expr, ...]:
    # Series is linear: expanding term by term (cached per term) is much faster on sums.
    terms = sp.Add.make_args(expr)
    series = (
        sp.Add(*(_term_series(t, order) for t in terms))
        if len(terms) > 1
        else _term_series(expr, order)
    )
    if series.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise NotAnalyticError(f"σ = {expr} is infinite or undefined at 0")
    try:
        poly = sp.Poly(sp.expand(series), Z)
    except sp.PolynomialError:
        raise NotAnalyticError(
            f"σ = {expr} is not analytic at 0: its expansion there is {series}, "
            "which has negative, fractional or logarithmic terms"
        ) from None
    coefficients = [sp.nsimplify(c) if c.is_Float else c for c in poly.all_coeffs()[::-1]]
    coefficients += [sp.Integer(0)] * (order + 1 - len(coefficients))
    for k, c in enumerate(coefficients[: order + 1]):
        if c.has(Z):
            raise NotAnalyticError(f"σ = {expr}: Taylor coefficient c_{k} = {c} depends on z")
        if c.is_real is False or not is_zero(sp.im(c)):
            raise NotRealFunctionError(
                f"σ = {expr} is not real-valued near 0: c_{k} = {c} is not real"
            )
    return tuple(coefficients[: order + 1])


def check_analytic(act: Activation) -> None:
    """Raise :class:`NotAnalyticError` unless σ is analytic at 0 and real there.

    Piecewise-defined expressions are rejected here (callers handle the piecewise-linear case
    first); flat non-analytic functions such as ``exp(-1/z**2)`` cannot be detected by series.
    """
    if is_piecewise_defined(act):
        kind = "piecewise-linear" if is_piecewise_linear(act) else "piecewise-defined"
        raise NotAnalyticError(
            f"σ = {act.expr} is {kind} (it uses Abs/Max/Min/Piecewise/...), so it has no Taylor "
            "series at 0"
        )
    _series_coefficients(act.expr, 2)


def taylor_coefficients(act: Activation, order: int) -> tuple[sp.Expr, ...]:
    """Exact Taylor coefficients ``(c_0, ..., c_order)`` of σ at 0.

    >>> taylor_coefficients(activation("tanh"), 5)
    (0, 1, 0, -1/3, 0, 2/15)

    Raises:
        NotAnalyticError: σ is piecewise-defined or its expansion at 0 is not a power series.
        NotRealFunctionError: a coefficient is not real.
    """
    if order < 0:
        raise ValueError(f"order must be ≥ 0, got {order}")
    check_analytic(act)
    return _series_coefficients(act.expr, order)


def phi_expression(act: Activation) -> sp.Expr:
    """φ_σ(z) = z σ'(z) - σ(z), the pointwise failure of Euler's identity."""
    return Z * sp.diff(act.expr, Z) - act.expr


def phi_coefficients(act: Activation, order: int) -> tuple[sp.Expr, ...]:
    """Taylor coefficients of φ_σ from those of σ: ``φ_k = (k-1) c_k`` (so φ_0 = -c_0, φ_1 = 0)."""
    return tuple((k - 1) * c for k, c in enumerate(taylor_coefficients(act, order)))


_SAMPLE_POINTS = (1, 3, 5, 8, 13, 21)  # /7: six irregular points in (0, 3]


def _vanishes_at_samples(expr: sp.Expr, digits: int = 50) -> bool:
    """|expr| < 10^-(digits-10) at the sample points (and their negatives), at ``digits`` digits."""
    function = sp.lambdify(Z, expr, modules="mpmath")
    with mpmath.workdps(digits):
        threshold = mpmath.mpf(10) ** (-(digits - 10))
        points = [mpmath.mpf(p) / 7 for p in _SAMPLE_POINTS]
        return all(abs(function(x)) < threshold and abs(function(-x)) < threshold for x in points)


def is_affine(act: Activation) -> bool:
    """σ'' ≡ 0: a numeric screen at 50 digits, confirmed symbolically."""
    second = sp.diff(act.expr, Z, 2)
    if second == 0:
        return True
    if not _vanishes_at_samples(second):
        return False
    return sp.simplify(second) == 0 or _vanishes_at_samples(second, 100)


def is_odd(act: Activation, order: int = 12) -> bool:
    """σ(-z) = -σ(z).

    A 50-digit evaluation of σ(x) + σ(-x) at six points disproves oddness cheaply; otherwise
    SymPy's cancellation settles it, or, failing that, vanishing even Taylor coefficients up to
    ``order`` together with a 100-digit evaluation.
    """
    defect = act.expr + act.expr.xreplace({Z: -Z})
    if defect == 0:
        return True
    if not _vanishes_at_samples(defect):
        return False
    if sp.simplify(defect) == 0:
        return True
    coefficients = taylor_coefficients(act, order)
    return all(is_zero(c) for c in coefficients[0::2]) and _vanishes_at_samples(defect, 100)


def first_nonlinear_order(act: Activation, max_order: int = 64) -> int | None:
    """q: the smallest k ≥ 2 with c_k ≠ 0, or None when σ is affine.

    Raises:
        NotAnalyticError: σ is not affine but no c_k, 2 ≤ k ≤ max_order, is non-zero.
    """
    if is_affine(act):
        return None
    order = 8
    while True:
        coefficients = taylor_coefficients(act, order)
        for k in range(2, order + 1):
            if not is_zero(coefficients[k]):
                return k
        if order >= max_order:
            raise NotAnalyticError(
                f"σ = {act.expr} is not affine, yet c_2 … c_{max_order} all vanish: it is flat "
                "at 0 (not analytic there) or its first nonlinear term lies beyond the search order"
            )
        order = min(2 * order, max_order)
