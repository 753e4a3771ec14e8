"""Canonical form of exact real constants (Taylor coefficients, Gaussian moments, K, κ).

SymPy leaves ``tanh(log 2)`` and ``1/2 - tanh(log 2)**2/2`` as they are, although they are the
rationals 3/5 and 8/25. :func:`canonical_constant` rewrites hyperbolic functions (and their
inverses) in exponentials and logarithms, where ``exp(log 2) = 2`` evaluates at once, then tries
SymPy's simplifications, and keeps the shortest real form (by ``count_ops``). Every candidate is
an exact rewriting, so equality is proved by construction; a 50-digit comparison guards against a
SymPy bug. The whole step runs under a time budget; past it the input is returned unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import sympy as sp

from symescape.errors import TimeBudgetError
from symescape.symbolic.budget import time_budget

CANONICAL_SECONDS = 1.5
"""Time budget of one canonicalisation (the input is kept as it is past it)."""

_HYPERBOLIC = (sp.tanh, sp.sinh, sp.cosh, sp.coth, sp.sech, sp.csch)
_INVERSE_HYPERBOLIC = (sp.asinh, sp.acosh, sp.atanh, sp.acoth)
_CHECK_DIGITS = 50


def _rewrite_hyperbolic(expr: sp.Expr) -> sp.Expr:
    """Hyperbolic functions → exponentials, their inverses → logarithms (exact identities)."""
    expr = expr.replace(lambda n: isinstance(n, _INVERSE_HYPERBOLIC), lambda n: n.rewrite(sp.log))
    return expr.replace(lambda n: isinstance(n, _HYPERBOLIC), lambda n: n.rewrite(sp.exp))


_CHEAP_REWRITES: tuple[Callable[[sp.Expr], sp.Expr], ...] = (
    lambda e: sp.cancel(_rewrite_hyperbolic(e)),
    sp.radsimp,
)
_COSTLY_REWRITES: tuple[Callable[[sp.Expr], sp.Expr], ...] = (
    sp.simplify,
    lambda e: sp.simplify(_rewrite_hyperbolic(e)),
)
SHORT_OPS = 8
"""Constants with at most this many operations and no hyperbolic function or logarithm skip
SymPy's (slow, open-ended) ``simplify``: ``cos(1) + sin(1)`` is already canonical."""


def _acceptable(candidate: sp.Expr, reference: sp.Expr) -> bool:
    if candidate.has(sp.I, sp.nan, sp.zoo, sp.oo, sp.Float) and not reference.has(sp.Float):
        return False
    if candidate.free_symbols:
        return False
    difference = (candidate - reference).evalf(_CHECK_DIGITS)
    scale = max(abs(reference.evalf(_CHECK_DIGITS)), sp.Integer(1))
    return bool(abs(difference) <= scale * sp.Float(10) ** (10 - _CHECK_DIGITS))


def _rewrites(expr: sp.Expr) -> tuple[Callable[[sp.Expr], sp.Expr], ...]:
    transcendental = expr.has(*_HYPERBOLIC, *_INVERSE_HYPERBOLIC, sp.log)
    if sp.count_ops(expr) <= SHORT_OPS and not transcendental:
        return _CHEAP_REWRITES
    return _CHEAP_REWRITES + _COSTLY_REWRITES


@lru_cache(maxsize=4096)
def canonical_constant(expr: sp.Expr, seconds: float = CANONICAL_SECONDS) -> sp.Expr:
    """The shortest proved-equal real form of a constant SymPy expression.

    >>> canonical_constant(sp.tanh(sp.log(2)))
    3/5
    >>> canonical_constant(sp.Rational(1, 2) - sp.tanh(sp.log(2)) ** 2 / 2)
    8/25

    Expressions with free symbols, and numbers, are returned unchanged; so is the input when the
    budget of ``seconds`` runs out.
    """
    expr = sp.sympify(expr, strict=True)
    if expr.is_Number or expr.free_symbols or not isinstance(expr, sp.Expr):
        return expr
    step = f"canonical form of the constant {sp.sstr(expr)[:60]}"
    best = expr
    try:
        with time_budget(step, seconds):
            for rewrite in _rewrites(expr):
                candidate = rewrite(best)
                if candidate.is_Rational:
                    return candidate if _acceptable(candidate, expr) else expr
                if sp.count_ops(candidate) < sp.count_ops(best) and _acceptable(candidate, expr):
                    best = candidate
    except TimeBudgetError as exc:
        if exc.step != step:
            raise
    return best


SIMPLIFY_SECONDS = 3.0
"""Time budget of one display simplification (the input is kept as it is past it)."""


def simplified(expr: sp.Expr, seconds: float = SIMPLIFY_SECONDS) -> sp.Expr:
    """``sp.simplify(expr)`` within ``seconds``, kept only when shorter; else ``expr`` itself.

    For display (φ_σ of a user's σ): SymPy's simplify is open-ended on large expressions.
    """
    expr = sp.sympify(expr, strict=True)
    step = f"simplification of {sp.sstr(expr)[:60]}"
    try:
        with time_budget(step, seconds):
            candidate = sp.simplify(expr)
    except TimeBudgetError as exc:
        if exc.step != step:
            raise
        return expr
    return candidate if sp.count_ops(candidate) <= sp.count_ops(expr) else expr


def rationalize_floats(expr: sp.Expr) -> sp.Expr:
    """``expr`` with every Float replaced by :func:`float_as_rational` of it."""
    return expr.xreplace({f: float_as_rational(f) for f in expr.atoms(sp.Float)})


def float_as_rational(value: sp.Expr) -> sp.Expr:
    """A Float as the rational it stands for; any other expression unchanged.

    The simplest rational that rounds back to it (0.1 → 1/10, 0.3333333333333333 → 1/3),
    else the float's exact decimal (1.4142135623730951 → 14142135623730951/10¹⁶).
    Never an irrational: SymPy's plain ``nsimplify`` turns that float into √2 and
    2.718281828459045 into E, constants the user did not write.
    """
    if not isinstance(value, sp.Float):
        return value
    if value == 0:
        return sp.Integer(0)
    guess = simple_rational(value)
    if guess is not None:
        return guess
    if value._prec <= 53:  # a double: its shortest decimal, which reads back as the same double
        return sp.Rational(repr(float(value)))
    return sp.Rational(value)  # the Float's binary value, exactly


DISPLAY_DIGITS = 12
"""Rationals with more digits than this in numerator or denominator are shown by
:func:`decimal_scaled` as a short rational times a power of ten, when they are one."""


class _RealBase(sp.UnevaluatedExpr):
    """An unevaluated real base (the 10 of 10^k): its imaginary part is 0 at once. Ordering an
    Add's terms for printing takes complex() of its numeric factors, and SymPy's as_real_imag
    of an UnevaluatedExpr power expanded (re + i·im)^k symbolically: 49 s to print
    z³ + z·10⁻³⁰⁰, 1 ms now."""

    def as_real_imag(self, deep: bool = True, **hints: object) -> tuple[sp.Expr, sp.Expr]:
        return self, sp.S.Zero


def decimal_scaled(expr: sp.Expr, digits: int = DISPLAY_DIGITS) -> sp.Expr:
    """``expr`` for display, with each long rational p/q = (p'/q')·10^k written so.

    ``1e-100*tanh(x)`` is the exact 10⁻¹⁰⁰ tanh(x); printed as it is, its Taylor coefficients
    run to 101 digits. The power of ten is kept unevaluated, so the result prints as
    ``-17*z**7*10**(-101)/315`` (LaTeX ``10^{-101}``) and is still equal to ``expr``.
    Rationals whose reduced p', q' are long too (no decimal scale) are left as they are.
    """
    replacements = {}
    for r in expr.atoms(sp.Rational):
        if max(len(str(abs(r.p))), len(str(r.q))) <= digits:
            continue
        p, p_tens = _strip_tens(r.p)
        q, q_tens = _strip_tens(r.q)
        rest, shift = _split_decimal_factor(q)
        if shift and max(len(str(abs(p))), len(str(q))) > digits:
            # q = rest·2^a·5^b: 2^18·10^-41 reduces to 1/(5^18·10^23), whose 5^18 is long;
            # over a power of ten it is the short 262144·10^-41 (8192/821·10^-36 likewise)
            p, extra = _strip_tens(p * 10**shift // (q // rest))
            q, p_tens = rest, p_tens + extra - shift
        rest, shift = _split_decimal_factor(abs(p))
        if shift and max(len(str(abs(p))), len(str(q))) > digits:
            # the same on the numerator: 33·5^15 (13 digits) is the short 33/32768·10^15
            q *= 10**shift // (abs(p) // rest)
            p, p_tens = (rest if p > 0 else -rest), p_tens + shift
        if max(len(str(abs(p))), len(str(q))) <= digits:
            ten = _RealBase(sp.Integer(10))
            replacements[r] = sp.Rational(p, q) * ten ** (p_tens - q_tens)
    return expr.xreplace(replacements)


def _split_decimal_factor(q: int) -> tuple[int, int]:
    """(r, m) with q = r·2^a·5^b, r coprime to 10 and m = max(a, b): 10^m / (2^a 5^b) is an
    integer, so p/q = (p·10^m / (2^a 5^b)) / r · 10^-m."""
    powers = []
    for prime in (2, 5):
        count = 0
        while q % prime == 0:
            q //= prime
            count += 1
        powers.append(count)
    return q, max(powers)


def decimal_scaled_latex(expr: sp.Expr) -> str:
    """LaTeX of :func:`decimal_scaled` ``expr``, with ``\\cdot`` before a power of ten that
    follows a factor (SymPy prints ``z 10^{-100}``, which reads as a product with 10)."""
    latex = sp.latex(decimal_scaled(expr))
    return re.sub(r"(?<!\\cdot)(?<=[\w})]) 10\^\{", r" \\cdot 10^{", latex)


def _strip_tens(n: int) -> tuple[int, int]:
    """(m, k) with n = m·10^k and m not divisible by 10 (n ≠ 0)."""
    k = 0
    while n % 10 == 0:
        n //= 10
        k += 1
    return n, k


def simple_rational(value: sp.Float) -> sp.Rational | None:
    """SymPy's rational ``nsimplify`` of ``value`` when it rounds back to ``value`` at its
    precision (0.1 → 1/10), else None."""
    guess = sp.nsimplify(value, rational=True)
    return guess if sp.Float(guess, precision=value._prec) == value else None
