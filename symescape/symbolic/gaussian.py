"""Gaussian expectations E_s[g(s)], s ~ N(0, 1), three ways (the rules and the numeric
expectations are in :mod:`symescape.precision.gauss`), and the domain check that comes first.

- :func:`check_gaussian_domain`: E_s[·] exists only for σ real and finite on all of ℝ whose growth
  the Gaussian weight dominates; anything else is refused with the reason, before any integral;
- :func:`expectation_gauss_hermite`: probabilists' Gauss–Hermite quadrature in NumPy (fast path);
- :func:`expectation_mpmath`: adaptive tanh-sinh quadrature in mpmath at a chosen precision;
- :func:`closed_form_expectation` / :func:`expectation_exact`: the exact value, by a bounded rule
  rather than SymPy's open-ended ``integrate`` (which ran for minutes on ``sin(s) e^s``).

The exact rule (MATH.md §3, Gaussian moments). After writing sin, cos, sinh, cosh as exponentials,
an integrand in the closed class is a finite sum of terms

    c · s^k · exp(β s² + α s + γ) · [erf(A s + b)]       (α, β, γ complex; A, b real; Re β < 1/2)

and each term has the closed form, with v = 1/(1 - 2β), w = √v and u ~ N(0, 1),

    E_s[term] = c e^γ w^{k+1} ∂_λ^k F(λ) at λ = α w,
    F(λ) = E_u[e^{λu}] = e^{λ²/2}                                    (no erf factor),
    F(λ) = E_u[e^{λu} erf(A w u + b)] = e^{λ²/2} erf((A w λ + b)/√(1 + 2A²v))   (erf factor).

The second line is E_u[erf(a u + c)] = erf(c/√(1 + 2a²)) after the shift u → u + λ. Anything else
(tanh, atan, log, two erf factors, …) has no closed form in this class and is left to mpmath.
Piecewise integrands (ReLU) are split at 0 and integrated by SymPy on each half-line under a time
budget. Every exact step runs under a budget; past it the caller falls back to mpmath.

Everything later in symescape computes expectations through this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import mpmath
import sympy as sp

from symescape.errors import ConfigurationError, GaussianDomainError, TimeBudgetError
from symescape.options import require_choice
from symescape.precision.gauss import (
    DEFAULT_DPS,
    DEFAULT_NODES,
    expectation_gauss_hermite,
    expectation_mpmath,
)
from symescape.symbolic.budget import time_budget
from symescape.symbolic.canonical import canonical_constant
from symescape.symbolic.parsing import as_expression


class ExpectationMethod(Enum):
    """How to compute a Gaussian expectation.

    E_s[g(s)] = ∫ g(s) e^{−s²/2} ds/√(2π)  (MATH.md §0).
    """

    GAUSS_HERMITE = "gauss-hermite"
    MPMATH = "mpmath"
    EXACT = "exact"


EXACT_SECONDS = 10.0
"""Time budget of one exact expectation; past it the caller falls back to mpmath."""

DOMAIN_SECONDS = 3.0
"""Time budget of SymPy's proof that one sub-expression is real and finite on ℝ."""

MAX_EXPANDED_TERMS = 400
"""Integrands whose expansion has more terms are left to mpmath (the rule is linear in terms)."""

_PIECEWISE_HEADS = (sp.Max, sp.Min, sp.Abs, sp.Piecewise, sp.Heaviside)


@dataclass(frozen=True)
class ExactAttempt:
    """The outcome of one exact attempt: the value, or None with the reason it is not exact."""

    value: sp.Expr | None
    reason: str = ""


# ---------------------------------------------------------------------------------------------
# Domain: σ real and finite on ℝ, with growth the Gaussian weight dominates.

_BOUNDED_HEADS = (sp.sin, sp.cos, sp.tanh, sp.atan, sp.erf, sp.erfc, sp.sech, sp.acot)
_LOG_LIKE_HEADS = (sp.log, sp.asinh)
_INFINITE = math.inf
_LOG_SIZE = 1e-9  # log|s|: unbounded, slower than any power


def _size(expr: sp.Expr, s: sp.Symbol) -> float:
    """p with |expr| = O(|s|^p) as |s| → ∞ (inf when no power bounds it)."""
    if not expr.has(s):
        return 0.0
    if expr == s:
        return 1.0
    if expr.is_Add:
        return max(_size(a, s) for a in expr.args)
    if expr.is_Mul:
        return sum(_size(a, s) for a in expr.args)
    if expr.is_Pow:
        base, exponent = expr.args
        if exponent.has(s):
            return _size(sp.exp(exponent * sp.log(base)), s)
        # A reciprocal of a σ already checked finite on ℝ: bounded away from its zeros, it is
        # taken as bounded (1/(1 + e^{-z}) is), and a positive power scales the size.
        return float(exponent) * _size(base, s) if exponent > 0 else 0.0
    if isinstance(expr, _BOUNDED_HEADS):
        return 0.0
    if isinstance(expr, _LOG_LIKE_HEADS):
        return max(_growth(expr.args[0], s), _LOG_SIZE)
    if isinstance(expr, sp.exp):
        return 0.0 if _upper_growth(expr.args[0], s) == 0 else _INFINITE
    if isinstance(expr, sp.sinh | sp.cosh):
        return 0.0 if _size(expr.args[0], s) == 0 else _INFINITE
    return max(_size(a, s) for a in expr.args)


def _upper_growth(expr: sp.Expr, s: sp.Symbol) -> float:
    """p with max(expr, 0) = O(|s|^p): a polynomial part bounded above dominates a smaller rest."""
    polynomial, rest = sp.Integer(0), sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(expr)):
        if term.is_polynomial(s):
            polynomial += term
        else:
            rest += term
    rest_size = _size(rest, s)
    if polynomial.has(s):
        poly = sp.Poly(polynomial, s)
        degree, leading = poly.degree(), poly.LC()
        bounded_above = degree % 2 == 0 and bool(leading < 0)
        if rest_size < degree:
            return 0.0 if bounded_above else float(degree)
        return max(float(degree), rest_size)
    return rest_size


def _growth(expr: sp.Expr, s: sp.Symbol) -> float:
    """g with log|expr| = O(|s|^g) (0: at most polynomial growth)."""
    if _size(expr, s) < _INFINITE:
        return 0.0
    if isinstance(expr, sp.exp):
        return _upper_growth(expr.args[0], s)
    if isinstance(expr, sp.sinh | sp.cosh):
        return _size(expr.args[0], s)
    if expr.is_Pow and expr.exp.has(s):
        return _growth(sp.exp(expr.exp * sp.log(expr.base)), s)
    if expr.is_Pow:
        return _growth(expr.base, s)
    return max((_growth(a, s) for a in expr.args), default=0.0)


def _violation_set(node: sp.Expr, s: sp.Symbol) -> tuple[sp.Basic, str] | None:
    """The condition under which ``node`` fails to be real and finite, and its wording."""
    if node.is_Pow:
        base, exponent = node.args
        if exponent.is_integer and exponent.is_negative:
            return sp.Eq(base, 0), f"{base} vanishes, so {node} is infinite"
        if not exponent.is_integer and not exponent.has(s):
            strict = sp.Le(base, 0) if exponent.is_negative else sp.Lt(base, 0)
            sign = "≤" if exponent.is_negative else "<"
            return strict, f"{base} {sign} 0, so {node} is not real and finite"
    if isinstance(node, sp.log):
        return sp.Le(node.args[0], 0), f"{node.args[0]} ≤ 0, so {node} is not real and finite"
    if isinstance(node, sp.tan | sp.sec):
        return sp.Eq(sp.cos(node.args[0]), 0), f"{node} has poles"
    if isinstance(node, sp.cot | sp.csc):
        return sp.Eq(sp.sin(node.args[0]), 0), f"{node} has poles"
    if isinstance(node, sp.coth | sp.csch):
        return sp.Eq(sp.sinh(node.args[0]), 0), f"{node} has a pole"
    if isinstance(node, sp.gamma | sp.digamma | sp.polygamma):
        # poles where the argument u is 0, -1, -2, ...: sin(πu) = 0 and u ≤ 0
        u = node.args[-1]
        poles = sp.And(sp.Eq(sp.sin(sp.pi * u), 0), sp.Le(u, 0), evaluate=False)
        return poles, f"{node} has poles where {u} is a non-positive integer"
    if isinstance(node, sp.loggamma):
        u = node.args[0]
        return sp.Le(u, 0), f"{u} ≤ 0, so {node} is not real and finite"
    return None


_POLE_HEADS = (sp.gamma, sp.digamma, sp.polygamma, sp.loggamma, sp.coth, sp.csch)


def _check_gamma_growth(expr: sp.Expr, s: sp.Symbol) -> None:
    """Refuse Γ(u) that grows like exp(c s²) or faster: ln Γ(u) ≈ u ln u, so Γ(s² + 1) grows like
    exp(s² ln s²) and E_s[Γ(s² + 1) s] diverges (its odd integrand made the quadrature read 0),
    while Γ(s + 3) ~ exp(s ln s) is integrable. Judged from ln|Γ(u(±s))| / s² at s = 20 and 40:
    at least 1/2, or growing, is refused."""
    from symescape.codegen import mpmath_kernel

    for node in expr.atoms(sp.gamma):
        kernel = mpmath_kernel([node.args[0]], [s])
        for side in (-1, 1):
            with mpmath.workdps(30):
                try:
                    rates = [
                        mpmath.re(mpmath.loggamma(kernel(mpmath.mpf(side * r))[0])) / r**2
                        for r in (20, 40)
                    ]
                except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                    continue  # a pole there: the domain check names it
            if rates[1] >= 0.5 or rates[1] > rates[0] > 0:
                raise GaussianDomainError(
                    f"E_s[σ(s)] does not exist for σ = {expr}: ln|{node}| grows like "
                    f"{mpmath.nstr(rates[1], 3)}·s² or faster at s = {side * 40}, and the "
                    "Gaussian weight exp(-s²/2) dominates exp(c s²) only for c < 1/2",
                    f"growth of {node}",
                )


def _removable_note(expr: sp.Expr, node: sp.Expr, s: sp.Symbol) -> str:
    """For a reciprocal ``node`` = b^(-k), or a coth, csch, cot, csc, tan or sec, whose poles
    are isolated points (at most three) where σ has a finite limit (``sin(z)/z``, ``z·coth(z)``
    at 0): a sentence saying the singularity is removable but not filled in, since every kernel
    evaluates σ as written (0/0 or 0·∞ at the point); else ''."""
    if node.is_Pow and node.args[1].is_integer and node.args[1].is_negative:
        poles = sp.Eq(node.args[0], 0)
    elif isinstance(node, sp.coth | sp.csch | sp.cot | sp.csc | sp.tan | sp.sec):
        poles = _violation_set(node, s)[0]  # z·coth(z) → 1 at 0, as sin(z)/z
    else:
        return ""
    zeros = _real_solutions(poles, s)
    if not isinstance(zeros, sp.FiniteSet) or not 0 < len(zeros) <= 3:
        return ""
    step = f"removability of {sp.sstr(node)[:60]}"
    try:
        with time_budget(step, DOMAIN_SECONDS):
            limits = {
                point: {sp.limit(expr, s, point, side) for side in ("+", "-")}
                for point in zeros
            }
    except TimeBudgetError as exc:
        if exc.step != step:
            raise
        return ""
    except (NotImplementedError, ValueError, TypeError):
        return ""
    if not all(len(v) == 1 and next(iter(v)).is_finite for v in limits.values()):
        return ""
    where = ", ".join(f"σ → {next(iter(v))} as {s} → {p}" for p, v in limits.items())
    return (
        f". The singularity is removable ({where}), but symescape does not fill in limits: "
        "its kernels evaluate σ as written, 0/0 there; write σ without the singular point"
    )


@lru_cache(maxsize=512)
def kink_points(expr: sp.Expr, s: sp.Symbol) -> tuple[sp.Expr, ...]:
    """Where a piecewise-defined g(s) may have a kink or a jump: the real zeros of the arguments
    of Abs, sign, Heaviside, of the differences inside Max and Min, and of Piecewise conditions
    (lhs − rhs), exact and sorted; 0 is always included. For the quadrature's breakpoints:
    without them ReLU(s + 1/2) reached only 1e-6 of 40 digits (a jump needs its exact place,
    not the double nearest 3/10).

    >>> s = sp.Symbol("s", real=True)
    >>> kink_points(sp.Max(s + sp.Rational(1, 2), 0) + sp.sign(s - sp.sqrt(2)), s)
    (-1/2, 0, sqrt(2))
    """
    relations: list[sp.Expr] = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Abs | sp.sign | sp.Heaviside):
            relations.append(node.args[0])
        elif isinstance(node, sp.Max | sp.Min):
            relations += [a - b for i, a in enumerate(node.args) for b in node.args[i + 1 :]]
        elif isinstance(node, sp.Piecewise):  # conditions may be And/Or of relations
            relations += [
                r.lhs - r.rhs
                for _, c in node.args
                if isinstance(c, sp.Basic)
                for r in c.atoms(sp.core.relational.Relational)
            ]
    points: set[sp.Expr] = {sp.Integer(0)} | _integer_crossings(expr, s)
    for relation in relations:
        if relation.has(s):
            points |= _real_zeros(relation, s)
    return tuple(sorted(points, key=float))


STEP_RANGE = 14
"""|s| up to which the jumps of floor, ceiling and frac are breakpoints (e^{-s²/2} < 1e-42
beyond)."""

MAX_STEP_POINTS = 200
"""More jumps than this in [-STEP_RANGE, STEP_RANGE] are not listed (the quadrature then says
how far it got)."""


def _integer_crossings(expr: sp.Expr, s: sp.Symbol) -> set[sp.Expr]:
    """The jumps of floor(u), ceiling(u) and frac(u) in [-STEP_RANGE, STEP_RANGE] for u affine in
    s: the points where u crosses an integer (floor(s) jumps at every integer; a teacher such
    as floor(s) reached only 2e-3 of 40 digits with 0 alone as a breakpoint)."""
    points: set[sp.Expr] = set()
    for node in expr.atoms(sp.floor, sp.ceiling, sp.frac):
        u = sp.expand(node.args[0])
        if not (u.is_polynomial(s) and sp.degree(u, s) == 1):
            continue
        a, b = sp.Poly(u, s).all_coeffs()
        if not (a.is_Rational and b.is_Rational):
            continue
        ends = sorted((a * -STEP_RANGE + b, a * STEP_RANGE + b))
        first, last = sp.ceiling(ends[0]), sp.floor(ends[1])
        if last - first + 1 > MAX_STEP_POINTS:
            continue
        points |= {(n - b) / a for n in range(int(first), int(last) + 1)}
    return points


def _real_zeros(expr: sp.Expr, s: sp.Symbol) -> set[sp.Expr]:
    """The real zeros of ``expr`` in s that SymPy can list: a polynomial's real roots exactly
    (solveset gives Intersection(FiniteSet(...), Reals) for a cubic with three real roots),
    else solveset's finite answer; an undecided or infinite set contributes nothing."""
    if expr.is_polynomial(s):
        if sp.degree(expr, s) < 1:
            return set()
        try:
            return set(sp.Poly(expr, s).real_roots())
        except (NotImplementedError, sp.PolynomialError):  # irrational coefficients: solveset
            pass
    zeros = _real_solutions(sp.Eq(expr, 0), s)
    if isinstance(zeros, sp.Intersection):
        zeros = next((a for a in zeros.args if isinstance(a, sp.FiniteSet)), None)
    if not isinstance(zeros, sp.FiniteSet):
        return set()
    return {z for z in zeros if z.is_real and z.is_finite}


def breakpoints_at(expr: sp.Expr, s: sp.Symbol, dps: int) -> tuple[sp.Float, ...]:
    """:func:`kink_points` as Floats with ``dps`` + 20 digits (what mpmath's quadrature takes)."""
    return tuple(sp.Float(sp.N(p, dps + 20), dps + 20) for p in kink_points(expr, s))


def _real_solutions(relation: sp.Basic, s: sp.Symbol) -> sp.Set | None:
    """``solveset(relation, s, ℝ)`` under the domain budget; None when SymPy cannot decide it
    in time (only decided sets are cached: a timeout under load is not remembered)."""
    try:
        return _real_solutions_within_budget(relation, s)
    except TimeBudgetError as exc:
        if exc.step != _solution_step(relation):
            raise
        return None
    except (NotImplementedError, ValueError, TypeError):
        return None


def _solution_step(relation: sp.Basic) -> str:
    return f"domain of {sp.sstr(relation)[:60]}"


@lru_cache(maxsize=512)
def _real_solutions_within_budget(relation: sp.Basic, s: sp.Symbol) -> sp.Set:
    """solveset over ℝ (cached; the domain check and the removability note ask for the same)."""
    with time_budget(_solution_step(relation), DOMAIN_SECONDS):
        if isinstance(relation, sp.And):  # solveset takes one relation: intersect their sets
            return sp.Intersection(*(sp.solveset(part, s, sp.Reals) for part in relation.args))
        return sp.solveset(relation, s, sp.Reals)


def _where(where: sp.Set, s: sp.Symbol) -> str:
    if isinstance(where, sp.FiniteSet):
        return f"at {s} = {', '.join(map(str, list(where)[:3]))}"
    if isinstance(where, sp.Interval):
        left = "(" if where.left_open else "["
        right = ")" if where.right_open else "]"
        return f"for {s} in {left}{where.start}, {where.end}{right}"
    return f"for {s} in {where}"


def _sample_points() -> list[mpmath.mpf]:
    # 2 401 points in [-24, 24] at an irrational offset, so no rational singularity hides between.
    offset = mpmath.sqrt(2) / 1000
    return [mpmath.mpf(k) / 50 + offset for k in range(-1200, 1201)]


def _numeric_violation(node: sp.Expr, s: sp.Symbol) -> str | None:
    from symescape.codegen import mpmath_kernel

    kernel = mpmath_kernel([node], [s])
    with mpmath.workdps(30):
        for point in _sample_points():
            try:
                value = kernel(point)[0]
            except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                return f"{node} is undefined at s = {mpmath.nstr(point, 6)}"
            value = mpmath.mpmathify(value)
            if not mpmath.isfinite(value) or abs(mpmath.im(value)) > 1e-20 * (1 + abs(value)):
                return f"{node} is not real and finite at s = {mpmath.nstr(point, 6)}"
    return None


def _node_violation(node: sp.Expr, s: sp.Symbol) -> str | None:
    if node.is_real is False or node.is_finite is False:
        return f"{node} is not real and finite on ℝ"
    condition = _violation_set(node, s)
    if condition is not None:
        relation, wording = condition
        where = _real_solutions(relation, s)
        if where is sp.S.EmptySet:
            return None
        if where is not None and not isinstance(where, sp.ConditionSet) and not where.is_empty:
            place = _where(where, s)  # an unevaluated set (Γ's poles) reads worse than none
            return wording if len(place) > 100 else f"{wording} ({place})"
    return _numeric_violation(node, s)


@lru_cache(maxsize=512)
def check_gaussian_domain(expr: sp.Expr, s: sp.Symbol) -> None:
    """Raise :class:`GaussianDomainError` unless E_s[g(s) p(s)] exists for every polynomial p.

    Two conditions (MATH.md §3: the expectations of σ under N(0, 1)):

    1. g is real and finite on all of ℝ. SymPy's assumptions decide most sub-expressions; a
       logarithm, a fractional power or a reciprocal they leave open is settled by ``solveset``
       over ℝ (under a budget), failing that by a 30-digit scan of [-24, 24].
    2. log|g(s)| = o(s²): the Gaussian weight dominates (``exp(x**2)`` and ``exp(exp(x))`` are
       refused; ``exp(3x)``, ``x**5``, ``exp(-x**2 + x sin x)`` pass).

    >>> check_gaussian_domain(sp.log(1 + sp.Symbol("s", real=True)), sp.Symbol("s", real=True))
    Traceback (most recent call last):
    ...
    symescape.errors.GaussianDomainError: ...
    """
    if not expr.has(s):
        return
    nodes = [
        node
        for node in sp.preorder_traversal(expr)
        if isinstance(node, sp.Expr) and node.has(s) and not node.is_Symbol
        # SymPy calls polygamma(1, real z) finite: heads with a failure set are always checked
        and (isinstance(node, _POLE_HEADS) or not (node.is_real and node.is_finite))
    ]
    # nodes with a known failure condition (log, reciprocal, root, tan) first: they name the
    # culprit and where it fails, which the numeric scan of an enclosing sum cannot
    nodes.sort(key=lambda node: _violation_set(node, s) is None)
    for node in nodes:
        problem = _node_violation(node, s)
        if problem is not None:
            raise GaussianDomainError(
                f"E_s[σ(s)] does not exist for σ = {expr}: {problem}; σ must be real and finite "
                f"on all of ℝ{_removable_note(expr, node, s)}",
                problem,
            )
    _check_gamma_growth(expr, s)
    growth = _growth(expr, s)
    if growth > 2:
        raise GaussianDomainError(
            f"E_s[σ(s)] does not exist for σ = {expr}: log|σ(s)| grows like |s|^{growth:g}, "
            "and the Gaussian weight exp(-s²/2) dominates exp(c s²) only for c < 1/2",
            f"growth of order exp(|s|^{growth:g})",
        )
    if growth == 2:
        rate = _quadratic_rate(expr, s)
        if 0.5 - QUADRATIC_RATE_MARGIN <= rate < 0.5:
            raise GaussianDomainError(
                f"σ = {expr} is refused: log|σ(s)| grows like c s² with c ≈ {rate:.6g}, within "
                f"{QUADRATIC_RATE_MARGIN:g} of 1/2, so E_s[σ(s) s^k] exists but its integrand "
                "decays only like exp(-(1/2 - c) s²), too slowly for the quadrature to resolve",
                f"growth exp({rate:.6g} s²), too close to exp(s²/2)",
            )
        if not rate < 0.5:
            raise GaussianDomainError(
                f"E_s[σ(s)] does not exist for σ = {expr}: log|σ(s)| grows like c s² with "
                f"c ≈ {rate:.6g}, and the Gaussian weight exp(-s²/2) dominates exp(c s²) only "
                "for c < 1/2",
                f"growth exp({rate:.6g} s²)",
            )


QUADRATIC_RATE_MARGIN = 1e-3
"""How far below 1/2 the rate c of log|σ| ~ c s² must be measured (at |s| ≈ 10⁴ the log-term
corrections are ~1e-7) for E_s[σ(s) s^k] to be accepted."""


def _quadratic_rate(expr: sp.Expr, s: sp.Symbol) -> float:
    """c in log|σ(s)| ~ c s² (σ of quadratic-exponential growth): the largest log|σ(s)|/s² at
    |s| ∈ {10⁴, 1.3·10⁴, 1.7·10⁴} on both sides, to 30 digits (an upper envelope, so that an
    oscillating factor near one of its zeros cannot hide the growth)."""
    rates = []
    for magnitude in (10**4, 13 * 10**3, 17 * 10**3):
        for point in (magnitude, -magnitude):
            value = sp.Abs(expr.xreplace({s: sp.Integer(point)})).evalf(30)
            if value.is_zero or not value.is_finite:
                continue
            rates.append(float(sp.log(value).evalf(30)) / point**2)
    return max(rates, default=float("inf"))


@lru_cache(maxsize=512)
def check_chain_domain(expr: sp.Expr, z: sp.Symbol, depth: int) -> None:
    """Raise :class:`GaussianDomainError` unless the depth-L scalar chain's expectations exist.

    f(s) = X_L σ(X_{L-1} σ(… σ(X_1 s))) nests σ L − 1 times (MATH.md §4). When σ grows faster
    than every polynomial (log|σ| unbounded by c log|z|: ``sin(z) e^z``, ``e^z − 1``), two nested
    σ grow like exp(e^{|s|}) and E_s[f(s)²] diverges, so the reduced flow does not exist for
    L ≥ 3 (depth ≤ 2 needs only :func:`check_gaussian_domain`).
    """
    check_gaussian_domain(expr, z)
    if depth >= 3 and _growth(expr, z) > 0:
        raise GaussianDomainError(
            f"the depth-{depth} chain nests σ = {expr} {depth - 1} times; σ grows faster than "
            "every polynomial, so σ(σ(s)) grows like exp(exp|s|) and the Gaussian expectations of "
            "the reduced flow diverge: use depth ≤ 2 for this activation",
            "nested super-polynomial growth",
        )


# ---------------------------------------------------------------------------------------------
# The exact rule.


def _rewrite_exponential(expr: sp.Expr) -> sp.Expr:
    """sin, cos, sinh, cosh → exponentials; erfc → 1 - erf (exact identities)."""
    i = sp.I
    table = {
        sp.sin: lambda a: (sp.exp(i * a) - sp.exp(-i * a)) / (2 * i),
        sp.cos: lambda a: (sp.exp(i * a) + sp.exp(-i * a)) / 2,
        sp.sinh: lambda a: (sp.exp(a) - sp.exp(-a)) / 2,
        sp.cosh: lambda a: (sp.exp(a) + sp.exp(-a)) / 2,
        sp.erfc: lambda a: 1 - sp.erf(a),
    }
    return expr.replace(
        lambda n: type(n) in table, lambda n: table[type(n)](n.args[0])
    )


@dataclass(frozen=True)
class _Term:
    coefficient: sp.Expr
    power: int
    exponent: sp.Poly  # β s² + α s + γ
    erf_argument: sp.Poly | None  # A s + b


def _parse_term(term: sp.Expr, s: sp.Symbol) -> _Term | sp.Expr:
    """The term's parts, or the first factor outside the closed-form class."""
    coefficient, power, exponent, erf_argument = sp.Integer(1), 0, sp.Integer(0), None
    for factor in sp.Mul.make_args(term):
        base, exp = factor.as_base_exp()
        if not factor.has(s):
            coefficient *= factor
        elif base == s and exp.is_Integer and exp > 0:
            power += int(exp)
        elif isinstance(factor, sp.exp):
            exponent += factor.args[0]
        elif isinstance(base, sp.exp) and not exp.has(s):
            exponent += exp * base.args[0]
        elif isinstance(factor, sp.erf) and erf_argument is None:
            erf_argument = factor.args[0]
        else:
            return factor
    try:
        exponent_poly = sp.Poly(sp.expand(exponent), s)
        erf_poly = None if erf_argument is None else sp.Poly(sp.expand(erf_argument), s)
    except sp.PolynomialError:
        return term
    if exponent_poly.degree() > 2 or (erf_poly is not None and erf_poly.degree() > 1):
        return term
    return _Term(coefficient, power, exponent_poly, erf_poly)


_LAMBDA = sp.Dummy("lambda")


def _poly_coefficient(poly: sp.Poly, degree: int) -> sp.Expr:
    return poly.coeff_monomial(poly.gen**degree) if degree else poly.coeff_monomial(1)


def _term_expectation(term: _Term) -> sp.Expr | None:
    beta = _poly_coefficient(term.exponent, 2)
    alpha = _poly_coefficient(term.exponent, 1)
    gamma = _poly_coefficient(term.exponent, 0)
    if not bool(sp.re(beta) < sp.Rational(1, 2)):
        return None  # not integrable against the Gaussian weight
    variance = 1 / (1 - 2 * beta)
    w = sp.sqrt(variance)
    if term.erf_argument is None:
        generating = sp.exp(_LAMBDA**2 / 2)
    else:
        slope = _poly_coefficient(term.erf_argument, 1)
        shift = _poly_coefficient(term.erf_argument, 0)
        if not (slope.is_real and shift.is_real and beta.is_real):
            return None
        generating = sp.exp(_LAMBDA**2 / 2) * sp.erf(
            (slope * w * _LAMBDA + shift) / sp.sqrt(1 + 2 * slope**2 * variance)
        )
    derivative = sp.diff(generating, _LAMBDA, term.power) if term.power else generating
    value = derivative.xreplace({_LAMBDA: alpha * w})
    return term.coefficient * sp.exp(gamma) * w ** (term.power + 1) * value


def _real_form(value: sp.Expr) -> sp.Expr | None:
    """The real expectation written without I (None when SymPy cannot separate it)."""
    if not value.has(sp.I):
        return value
    # erf(i y) = i erfi(y): SymPy does not apply it by itself.
    value = value.replace(
        lambda n: isinstance(n, sp.erf) and (n.args[0] / sp.I).is_real,
        lambda n: sp.I * sp.erfi(sp.expand(n.args[0] / sp.I)),
    )
    real = sp.expand_complex(value)
    real = sp.re(real) if real.has(sp.I) else real
    if real.has(sp.I, sp.re, sp.im):
        return None
    return real


def _smooth_closed_form(expr: sp.Expr, s: sp.Symbol) -> ExactAttempt:
    if expr.is_polynomial(s):
        # E_s[s^k] = (k − 1)!! for even k, 0 for odd: term by term, without the general route's
        # parse of each term (5.3 s for s^101 + s², past its budget for s^201)
        coefficients = sp.Poly(expr, s).all_coeffs()[::-1]
        total = sp.Add(
            *(c * sp.factorial2(k - 1) for k, c in enumerate(coefficients) if k % 2 == 0)
        )
        return ExactAttempt(canonical_constant(sp.expand(total)))
    rewritten = sp.expand(_rewrite_exponential(expr))
    terms = sp.Add.make_args(rewritten)
    if len(terms) > MAX_EXPANDED_TERMS:
        return ExactAttempt(None, f"the expanded integrand has {len(terms)} terms")
    total = sp.Integer(0)
    for term in terms:
        parsed = _parse_term(term, s)
        if not isinstance(parsed, _Term):
            return ExactAttempt(
                None,
                f"the factor {sp.sstr(parsed)[:60]} is outside the closed-form class "
                "s^k exp(quadratic) erf(linear)",
            )
        value = _term_expectation(parsed)
        if value is None:
            return ExactAttempt(None, f"{sp.sstr(term)[:60]} is outside the closed-form class")
        total += value
    real = _real_form(sp.expand(total))
    if real is None:
        return ExactAttempt(None, "the closed form does not separate into a real expression")
    return ExactAttempt(canonical_constant(real))


_T = sp.Symbol("t", positive=True)


@lru_cache(maxsize=4096)
def _half_line_term(term: sp.Expr, s: sp.Symbol) -> sp.Expr | None:
    density = sp.exp(-(s**2) / 2) / sp.sqrt(2 * sp.pi)
    result = sp.integrate(term * density, (s, 0, sp.oo))
    if result.has(sp.Integral) or result.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        return None
    return result


def _piecewise_closed_form(expr: sp.Expr, s: sp.Symbol) -> ExactAttempt:
    """Split at 0 (the only kink in symescape's uses): s = ±t with t > 0 resolves
    Max/Abs/Piecewise on each half-line, which SymPy integrates term by term."""
    halves = [expr.xreplace({s: _T}), expr.xreplace({s: -_T})]
    halves = [sp.piecewise_fold(h.rewrite(sp.Piecewise)) for h in halves]
    total = sp.Integer(0)
    for half in halves:
        if half.has(sp.Piecewise):
            return ExactAttempt(None, "a kink away from 0")
        for term in sp.Add.make_args(sp.expand(half)):
            value = _half_line_term(term, _T)
            if value is None:
                return ExactAttempt(None, f"SymPy does not close ∫_0^∞ {term} φ")
            total += value
    return ExactAttempt(canonical_constant(sp.simplify(total)))


@lru_cache(maxsize=4096)
def closed_form_expectation(
    expr: sp.Expr, s: sp.Symbol, seconds: float = EXACT_SECONDS
) -> ExactAttempt:
    """E_s[g(s)] exactly, or None with the reason: outside the closed-form class (see the module
    docstring), or the budget of ``seconds`` spent.

    >>> s = sp.Symbol("s", real=True)
    >>> closed_form_expectation(sp.sin(s) * sp.exp(s) * s, s).value
    cos(1) + sin(1)
    """
    expr = as_expression(expr, "the integrand")
    if not expr.has(s):
        return ExactAttempt(expr)
    step = f"exact E_s[{sp.sstr(expr)[:60]}]"
    piecewise = any(expr.has(head) for head in _PIECEWISE_HEADS)
    try:
        with time_budget(step, seconds):
            if piecewise:
                return _piecewise_closed_form(expr, s)
            return _smooth_closed_form(expr, s)
    except TimeBudgetError as exc:
        if exc.step != step:
            raise
        return ExactAttempt(None, f"the exact attempt overran its budget of {seconds:g} s")


def expectation_exact(expr: sp.Expr, s: sp.Symbol) -> sp.Expr | None:
    """E_s[g(s)] exactly, or None when there is no closed form in the class of the module
    docstring (or the attempt overran :data:`EXACT_SECONDS`).

    E_s[g(s)] = ∫ g(s) e^{−s²/2} ds/√(2π), closed form  (MATH.md §0).
    """
    return closed_form_expectation(as_expression(expr, "the integrand"), s).value


def gaussian_expectation(
    expr: sp.Expr,
    s: sp.Symbol,
    method: ExpectationMethod = ExpectationMethod.GAUSS_HERMITE,
    *,
    nodes: int = DEFAULT_NODES,
    dps: int = DEFAULT_DPS,
) -> float | mpmath.mpf | sp.Expr | None:
    """E_s[g(s)] for a SymPy expression g in ``s``, by the chosen method.

    E_s[g(s)] = ∫ g(s) e^{−s²/2} ds/√(2π)  (MATH.md §0).

    Returns a float (Gauss–Hermite), an mpf (mpmath) or a SymPy expression / None (exact).

    Raises:
        GaussianDomainError: g is not real and finite on ℝ, or grows too fast.
    """
    from symescape.codegen import broadcast_outputs, mpmath_kernel, numpy_kernel

    method = require_choice(ExpectationMethod, method, "method")
    expr = as_expression(expr, "the integrand")
    if not isinstance(s, sp.Symbol):
        raise ConfigurationError(f"s must be a SymPy Symbol, got {s!r}")
    # a Symbol('s') without real=True is the same variable to the user: integrate over it
    expr = expr.xreplace({x: s for x in expr.free_symbols if x.name == s.name and x != s})
    others = expr.free_symbols - {s}
    if others:  # else lambdify's kernel fails with NameError at the first node
        raise ConfigurationError(
            f"the integrand has free symbols {sorted(map(str, others))} besides {s}; "
            f"E_s integrates over {s} only"
        )
    check_gaussian_domain(expr, s)
    if method is ExpectationMethod.EXACT:
        return expectation_exact(expr, s)
    if method is ExpectationMethod.MPMATH:
        kernel = mpmath_kernel([expr], [s])
        return expectation_mpmath(
            lambda x: kernel(x)[0], dps=dps, breakpoints=breakpoints_at(expr, s, dps)
        )
    kernel = numpy_kernel([expr], [s])
    # Kinks of piecewise expressions (ReLU) sit at 0 in every use symescape makes of them.
    split = any(expr.has(head) for head in _PIECEWISE_HEADS)
    return float(
        expectation_gauss_hermite(
            lambda x: broadcast_outputs(kernel(x), x)[0], nodes, split_at_zero=split
        )
    )
