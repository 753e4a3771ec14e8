"""Taylor expansion at 0, analyticity, parity and φ_σ (MATH.md §2–3).

    σ(z) = Σ_k c_k z^k,   φ_σ(z) = z σ'(z) - σ(z) = -c_0 + Σ_{k≥2} (k-1) c_k z^k.

Symbolic layer only: everything here returns SymPy objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from symescape.errors import (
    ActivationError,
    NotAnalyticError,
    NotRealFunctionError,
    TimeBudgetError,
)
from symescape.options import require_int
from symescape.symbolic.activations import Activation, Z, activation
from symescape.symbolic.budget import time_budget
from symescape.symbolic.canonical import simple_rational

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
"""Significant digits to which a constant is evaluated when no exact test decides it."""

ZERO_TEST_MAX_DIGITS = 1500
"""Working digits SymPy's adaptive evaluation may use to separate a constant from 0; a constant
it cannot separate (and that simplification does not reduce to 0) is taken as 0, numerically,
with relative tolerance 10^-ZERO_TEST_MAX_DIGITS against the size of its terms."""


@dataclass(frozen=True)
class Decision:
    """The answer to a yes/no question about σ and how it was reached.

    Attributes:
        holds: the answer.
        exact: True when decided by exact arithmetic, SymPy's assumptions or simplification;
            False when decided numerically (``how`` then states the relative tolerance).
        how: one sentence on the route taken.
    """

    holds: bool
    exact: bool
    how: str


def decide_zero(value: sp.Expr) -> Decision:
    """Decide ``value == 0`` for a constant, exactly where possible.

    Route: exact for rationals and floats; SymPy's assumptions (``is_zero``); SymPy's adaptive
    evaluation, which either certifies ``ZERO_TEST_DIGITS`` correct significant digits of a
    non-zero value or fails to separate it from 0 within ``ZERO_TEST_MAX_DIGITS`` digits;
    then simplification; and only last a numeric verdict (relative tolerance, reported).

    >>> decide_zero(sp.sqrt(2) * sp.sqrt(3) - sp.sqrt(6)).holds
    True
    >>> decide_zero(sp.Rational(1, 10**120)).holds
    False
    """
    value = sp.sympify(value, strict=True)
    if value.is_Rational or value.is_Float:
        return Decision(value == 0, True, "exact arithmetic")
    decided = value.is_zero
    if decided is not None:
        return Decision(bool(decided), True, "SymPy's exact assumptions")
    try:
        approximation = _adaptive_value(value, ZERO_TEST_DIGITS)
    except (ValueError, TypeError):
        approximation = None
    if approximation is not None and approximation.is_Number and approximation != 0:
        return Decision(
            False,
            False,
            f"numeric: certified non-zero ({approximation:.3e}) by SymPy's adaptive evaluation",
        )
    if sp.simplify(value) == 0:
        return Decision(True, True, "simplification to 0")
    return Decision(
        True,
        False,
        f"numeric: not separable from 0 at {ZERO_TEST_MAX_DIGITS} digits (relative tolerance "
        f"1e-{ZERO_TEST_MAX_DIGITS} against its terms); taken as 0",
    )


def constant_value(value: sp.Expr, digits: int = 20) -> sp.Float:
    """A constant to ``digits`` significant digits, evaluated with the precision its cancellation
    needs (up to ``ZERO_TEST_MAX_DIGITS``): plain ``N`` gives round-off for π − (π to 300
    digits), 2.7e-138 where the value is 3.7e-300. A constant that cannot be separated from 0
    at that precision is 0, as :func:`decide_zero` takes it.

    >>> constant_value(sp.pi - sp.Rational(314159265358979, 10**14), 5)
    3.2385e-15
    """
    value = sp.sympify(value, strict=True)
    if value.is_Rational or value.is_Float:
        return sp.Float(value, digits)
    approximation = _adaptive_value(value, digits)
    return sp.Float(0 if approximation is None else approximation, digits)


def _adaptive_value(value: sp.Expr, digits: int) -> sp.Expr | None:
    """``value`` to ``digits`` certified significant digits by SymPy's adaptive evaluation (up
    to ``ZERO_TEST_MAX_DIGITS`` of working precision); None when it cannot separate it from 0."""
    try:
        return sp.N(value, digits, strict=True, maxn=ZERO_TEST_MAX_DIGITS)
    except sp.core.evalf.PrecisionExhausted:
        return None


def is_zero(value: sp.Expr) -> bool:
    """``value == 0`` for a constant, decided by :func:`decide_zero`."""
    return decide_zero(value).holds


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


def piecewise_switch_points(act: Activation) -> tuple[sp.Expr, ...]:
    """The real points where a piecewise-defined σ may switch branch: the exact roots of the
    branch conditions of σ rewritten as a Piecewise (sorted; () when it is not one)."""
    expr = sp.piecewise_fold(act.expr.rewrite(sp.Piecewise))
    if not isinstance(expr, sp.Piecewise):
        return ()
    points: set[sp.Expr] = set()
    for _, condition in expr.args:
        for relation in condition.atoms(sp.Rel):
            points.update(p for p in sp.solve(relation.lhs - relation.rhs, Z) if p.is_real)
    return tuple(sorted(points, key=sp.default_sort_key))


def piecewise_jumps(act: Activation) -> tuple[sp.Expr, ...]:
    """The points z₀ where a piecewise-defined σ is discontinuous: σ(z₀⁻), σ(z₀) and σ(z₀⁺) not
    all equal (x + sign(x) and Heaviside jump at 0; sign(x)² is 1 on both sides and 0 at 0).
    The candidates are the exact roots of the branch conditions of σ rewritten as a Piecewise;
    at each, σ(z₀ − 10⁻³⁰), σ(z₀) and σ(z₀ + 10⁻³⁰) are evaluated to 50 digits (SymPy's
    one-sided limits of Max and Abs can take minutes): a continuous piecewise-linear σ differs by
    O(10⁻³⁰) there, a jump by its height, so the 10⁻²⁰ threshold leaves ten orders either side.
    A value that is not a finite number (σ undefined at z₀) counts as a jump."""
    step = sp.Rational(1, 10**30)
    jumps = []
    for point in piecewise_switch_points(act):
        left, centre, right = (act.expr.subs(Z, point + side * step) for side in (-1, 0, 1))
        pairs = ((left, right), (left, centre), (centre, right))
        gaps = (complex(sp.N(a - b, 50)) for a, b in pairs)
        if not all(abs(gap) <= 1e-20 for gap in gaps):  # a NaN gap fails ≤ too
            jumps.append(point)
    return tuple(jumps)


ACOT_REMEDY = (
    "write the analytic branch instead: pi/2 - atan(u) where u ≥ 0, -pi/2 - atan(u) where u ≤ 0"
)
"""What a refusal of acot(u) suggests."""

def acot_zeros(act: Activation) -> tuple[tuple[sp.Expr, int, int], ...]:
    """The real points z₀ where the argument u of an acot in σ vanishes, with the signs of u
    just left and right of z₀. SymPy's acot(u) is atan(1/u) on the reals, with acot(0) = π/2,
    while its series at u = 0 is the branch π/2 − atan(u). So at z₀ σ jumps from −π/2 to π/2
    (signs differ), has a removable jump (both −1: the limit is −π/2), or is analytic but
    evaluated as atan(1/u) with 1/0 (both +1: acot(z²) = π/2 − atan(z²)).

    Raises:
        ActivationError: the real zeros of an argument could not be located exactly, or the
            sign of u beside one could not be evaluated.
    """
    zeros: dict[sp.Expr, tuple[int, int]] = {}
    for node in act.expr.atoms(sp.acot):
        u = node.args[0]
        for root in real_zeros(u):
            left, right = _signs_beside(u, root)
            previous = zeros.get(root)
            # several acots vanishing at one point: keep the worst (a sign change, else −1)
            if previous is None or min(left, right) < min(previous):
                zeros[root] = (left, right)
    ordered = sorted(zeros, key=sp.default_sort_key)
    return tuple((root, *zeros[root]) for root in ordered)


def real_zeros(u: sp.Expr) -> tuple[sp.Expr, ...]:
    """The distinct real zeros of u(z), exactly. A polynomial numerator (after cancelling) with
    rational coefficients gives all of them (CRootOf for roots without radicals); otherwise they
    come from ``sp.solve`` (for a periodic u, the zeros in one period).

    Raises:
        ActivationError: ``sp.solve`` cannot find them.
    """
    numerator, _ = sp.fraction(sp.cancel(sp.together(u)))
    if numerator.is_polynomial(Z):
        poly = sp.Poly(numerator, Z)
        if poly.domain.is_ZZ or poly.domain.is_QQ:
            return tuple(dict.fromkeys(sp.real_roots(poly)))
    try:
        candidates = sp.solve(u, Z)
    except NotImplementedError:
        raise ActivationError(
            f"σ contains acot(u) with u = {u}, whose real zeros SymPy cannot find: acot(u) = "
            f"atan(1/u) jumps where u changes sign, so whether σ is continuous cannot be decided; "
            f"{ACOT_REMEDY}"
        ) from None
    return tuple(root for root in candidates if _real_point(root) is not None)


SIGN_TEST_STEP = sp.Rational(1, 10**20)
"""Offset δ either side of a zero z₀ at which the sign of u is taken."""


def _signs_beside(u: sp.Expr, root: sp.Expr) -> tuple[int, int]:
    """(sign u(z₀ − δ), sign u(z₀ + δ)), δ = 10⁻²⁰, from SymPy's adaptive evaluation (strict:
    it raises rather than return digits it cannot vouch for) at a 60-digit z₀."""
    point = _real_point(root)
    signs = []
    for side in (-1, 1):
        try:
            value = u.evalf(30, subs={Z: point + side * SIGN_TEST_STEP}, strict=True)
        except sp.core.evalf.PrecisionExhausted:
            raise ActivationError(
                f"σ contains acot(u) with u = {u}: the sign of u either side of its zero "
                f"z ≈ {sp.N(root, 15)} could not be evaluated, so whether σ jumps there cannot "
                f"be decided; {ACOT_REMEDY}"
            ) from None
        signs.append(int(sp.sign(value)))
    return signs[0], signs[1]


def _real_point(root: sp.Expr) -> sp.Float | None:
    """A root of ``sp.solve`` as a 60-digit Float when it is real (its imaginary part, in the
    radical form of a real root, vanishes to 50 digits), else None."""
    if root.is_real is False:
        return None
    value = sp.N(root, ZERO_TEST_DIGITS)
    real, imaginary = value.as_real_imag()
    if root.is_real or abs(imaginary) <= sp.Float(10) ** -50 * (1 + abs(real)):
        return sp.Float(real, ZERO_TEST_DIGITS)
    return None


RING_SERIES_HEADS: tuple[type, ...] = (
    sp.tanh, sp.tan, sp.sin, sp.cos, sp.sinh, sp.cosh, sp.exp, sp.atan, sp.atanh, sp.asin,
    sp.asinh,
)  # fmt: skip
"""Functions whose compositions :func:`ring_series_polynomial` expands (SymPy's ring series)."""


def ring_series_polynomial(term: sp.Expr, order: int) -> sp.Expr | None:
    """The Taylor polynomial of ``term`` at z = 0 to z^order by SymPy's ring series
    (``sympy.polys.ring_series.rs_series``: exact power-series arithmetic over ℚ), when the
    term is built only from z, rational numbers, sums, products, positive integer powers and
    :data:`RING_SERIES_HEADS`; None otherwise, or when the ring series fails (the caller then
    uses ``series``), or when its polynomial fails the check of :func:`_is_taylor_polynomial`.
    tanh nested ten times took 81 s through ``series`` (its trigsimp of every intermediate
    term) to classify, 0.16 s here. The ring series is not trusted blindly: outside the
    grammar it expanded sqrt(1 − z²) (SymPy's form of cos(asin z)) wrongly, and inside it gave 0
    for sin((z² + z)²) (tests/symbolic/test_taylor_ring_series.py compares with ``series``)."""
    for node in sp.preorder_traversal(term):
        if node.is_Symbol:
            if node != Z:
                return None
        elif node.is_Number:
            if not node.is_Rational:
                return None
        elif isinstance(node, sp.Pow):
            if not (node.exp.is_Integer and node.exp > 0):
                return None
        elif not isinstance(node, (sp.Add, sp.Mul, *RING_SERIES_HEADS)):
            return None
    from sympy.polys.ring_series import rs_series

    try:
        series = rs_series(term, Z, order + 1)
    except Exception:  # noqa: BLE001 - any failure of the fast path falls back to series
        return None
    series = sp.expand(series.as_expr() if hasattr(series, "as_expr") else series)
    if not series.is_polynomial(Z) or series.free_symbols - {Z}:
        return None
    try:
        checked = _is_taylor_polynomial(term, series, order)
    except (TypeError, ValueError, ArithmeticError):  # a check that cannot run is a refusal
        return None
    return series if checked else None


def _is_taylor_polynomial(term: sp.Expr, polynomial: sp.Expr, order: int) -> bool:
    """Whether ``polynomial`` is the Taylor polynomial of ``term`` to z^order, by its remainder
    R(h) = term(h) − polynomial(h) at h = 10⁻⁸ and h/2, to 8(order + 1) + 40 digits (so that
    h^{order+1} stands 40 digits above the working precision): R = O(h^{order+1}) halves at
    least 2^{order+1}-fold, a wrong coefficient of z^k, k ≤ order, only 2^k-fold. (The ring
    series gave 0 for sin((z² + z)²), whose polynomial is z² + 2z³ + z⁴ − z⁶/6 − z⁷; a property
    test found it.)"""
    h = sp.Rational(1, 10**8)
    digits = 8 * (order + 1) + 40
    # both to twice those digits (the polynomial's coefficients may hold constants such as
    # tanh(1), from tanh(cos z)): their difference then keeps `digits` correct ones whatever
    # it cancels, with no reliance on evalf's adaptive limits for the difference
    remainders = [
        sp.N(term.subs(Z, point), 2 * digits) - sp.N(polynomial.subs(Z, point), 2 * digits)
        for point in (h, h / 2)
    ]
    tiny = sp.Float(10) ** -(digits - 10)
    if all(abs(r) <= tiny for r in remainders):
        return True
    if abs(remainders[1]) <= tiny:
        return False
    return bool(abs(remainders[0] / remainders[1]) >= 2 ** (order + sp.Rational(1, 2)))


@lru_cache(maxsize=4096)
def _term_series(term: sp.Expr, order: int) -> sp.Expr:
    """Taylor polynomial of one additive term (polynomials need no series expansion; the ring
    series first, :func:`ring_series_polynomial`, then ``series``)."""
    if term.is_polynomial(Z):
        return sp.expand(term)
    fast = ring_series_polynomial(term, order)
    if fast is not None:
        return fast
    try:
        return sp.series(term, Z, 0, order + 1).removeO()
    except TimeBudgetError:
        raise  # an overrun is not a proof of non-analyticity
    except RecursionError:
        # nor is this (SymPy's series of zeta(z + 3) recursed without end): say what happened
        raise ActivationError(
            f"SymPy's series of {_short(term)} at 0 exceeded Python's recursion limit; write σ "
            "with the elementary functions (exp, log, sin, tanh, erf, …)"
        ) from None
    except (ValueError, NotImplementedError, TypeError, sp.PoleError) as exc:
        raise NotAnalyticError(f"{term} has no Taylor series at 0: {exc}") from None


def _exact_float(c: sp.Expr) -> sp.Expr:
    """A float coefficient as the simple rational it stands for when that is its exact value to
    its precision (0.5 → 1/2); otherwise unchanged (never rounded to 0)."""
    if not c.is_Float or c == 0:
        return c
    guess = simple_rational(c)
    return c if guess is None or guess == 0 else guess


MAX_DISTRIBUTED_TERMS = 64
"""A σ whose products are distributed over their sums before the series, when this many terms
or fewer result (each term's series is cached)."""


@lru_cache(maxsize=512)
def _series_coefficients(expr: sp.Expr, order: int) -> tuple[sp.Expr, ...]:
    # Series is linear: expanding term by term (cached per term) is much faster on sums. Products
    # with a sum inside are distributed first (when that stays small): SymPy's series looks for
    # a leading term for ever on a factor that is identically zero, z²(sin²z + cos²z − 1).
    terms = sp.Add.make_args(expr)
    distributed = sp.Add.make_args(sp.expand_mul(expr))
    if len(distributed) <= MAX_DISTRIBUTED_TERMS:
        terms = distributed
    series = (
        sp.Add(*(_term_series(t, order) for t in terms))
        if len(terms) > 1
        else _term_series(terms[0], order)
    )
    if series.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
        raise NotAnalyticError(f"σ = {expr} is infinite or undefined at 0")
    coefficients = [sp.Integer(0)] * (order + 1)
    for term in sp.Add.make_args(sp.expand(series)):
        coefficient, power = term.as_coeff_exponent(Z)
        if not (power.is_Integer and power >= 0) or coefficient.has(Z):
            raise NotAnalyticError(
                f"σ = {expr} is not analytic at 0: its expansion there is {series}, "
                "which has negative, fractional or logarithmic terms"
            )
        if power <= order:
            coefficients[int(power)] += coefficient
    coefficients = [_exact_float(c) for c in coefficients]
    for k, c in enumerate(coefficients):
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
    act = activation(act)  # a name or an expression string is accepted, as everywhere
    if is_piecewise_defined(act):
        kind = "piecewise-linear" if is_piecewise_linear(act) else "piecewise-defined"
        raise NotAnalyticError(
            f"σ = {act.expr} is {kind} (it uses Abs/Max/Min/Piecewise/...), so it has no Taylor "
            "series at 0"
        )
    _two_sided_check(act.expr)


TWO_SIDED_ORDER = 4
"""Order of the series that :func:`check_analytic` holds against σ on both sides of 0."""


@lru_cache(maxsize=512)
def _two_sided_check(expr: sp.Expr) -> None:
    """Refuse σ whose series at 0 holds on one side only.

    SymPy expands at 0 from the right (z → 0⁺), so a kink hidden inside sqrt, acos, acosh, …
    (acos(cos z) = |z|, sqrt(z² + z⁴) = |z|·sqrt(1 + z²)) passes as a power series: the
    right-hand branch's. With P the Taylor polynomial of order n = :data:`TWO_SIDED_ORDER` and ρ
    the smallest scale the coefficients show (|c_j/c_k|^{1/(k−j)} over pairs of non-zero c_j,
    c_k with 1 ≤ j < k ≤ n, and |c_k|^{−1/k}), an analytic σ misses P at h ≈ ρ/1000 by
    about |c_{n+1}| h^{n+1} on both sides alike, while one branch's series fits its side and
    misses the other by about P's variation Σ_{k≥1} |c_k| hᵏ. σ is evaluated to 30 digits by
    SymPy's evalf (which raises its working precision through cancellations); scales are kept as
    SymPy floats, whose exponents do not overflow (c_1 = 10⁻³⁰⁰⁰ is a coefficient like any
    other). A kink first showing beyond order n (z + |z|⁷) is not seen, nor one whose own branch
    misses as much (|z|·(1 + 10⁴⁰ z⁵)).

    Raises:
        NotAnalyticError: σ(−h) − P(−h) exceeds 10⁻⁶ of P's variation and 100 times σ(h) −
            P(h) (or the same with the sides exchanged).
    """
    if expr.is_polynomial(Z):  # its series is itself
        return
    coefficients = _series_coefficients(expr, TWO_SIDED_ORDER)
    try:
        _compare_sides(expr, coefficients)
    except RecursionError:
        # SymPy's evalf of zeta(z + 3)'s coefficients recursed without end
        raise ActivationError(
            f"σ = {_short(expr)}: SymPy could not evaluate its Taylor coefficients numerically "
            "(recursion limit); write σ with the elementary functions (exp, log, sin, tanh, "
            "erf, …)"
        ) from None


def _compare_sides(expr: sp.Expr, coefficients: tuple[sp.Expr, ...]) -> None:
    """The comparison of :func:`_two_sided_check`, given σ's coefficients to its order."""
    sizes = [(k, sp.Abs(sp.N(c, 20))) for k, c in enumerate(coefficients) if k >= 1 and c != 0]
    if not sizes:  # constant to this order (or flat): nothing to compare
        return
    scales = [size ** sp.Rational(-1, k) for k, size in sizes]
    scales += [
        (sizes[a][1] / sizes[b][1]) ** sp.Rational(1, sizes[b][0] - sizes[a][0])
        for a in range(len(sizes))
        for b in range(a + 1, len(sizes))
    ]
    exponent = max(10, int(sp.ceiling(sp.log(1000 / min(scales), 2).evalf(15))))
    h = sp.Rational(1, 2**exponent)
    polynomial = sum(c * Z**k for k, c in enumerate(coefficients))
    variation = sum(size * sp.Float(h, 20) ** k for k, size in sizes)
    misses = []
    for point in (h, -h):
        try:
            value = sp.N(expr.subs(Z, point), 30)
            miss = sp.Abs(value - sp.N(polynomial.subs(Z, point), 30))
        except (TypeError, ValueError, ArithmeticError):
            value, miss = sp.nan, sp.nan
        try:  # a number, a + b·I or b·I; anything else (nan, an unevaluated form) is not judged
            number = complex(value)
        except (TypeError, ValueError):
            number = 0j
        if abs(number.imag) > 1e-20 * (1 + abs(number)):
            raise NotRealFunctionError(
                f"σ = {_short(expr)} is not real at z = {sp.N(point, 3)} (σ = {sp.N(value, 3)}): "
                "a fractional power (cbrt(u) is u**(1/3), the principal root) of a base that "
                "is negative there; the theory needs σ real on ℝ"
            )
        misses.append(miss if miss.is_Number and miss.is_finite else sp.oo)
    # An analytic σ misses by about |c_{n+1}| h^{n+1} on both sides alike; a series of one
    # branch fits that side and misses the other by about P's variation.
    for side, (miss, other) in enumerate((misses, misses[::-1])):
        if miss > variation / 10**6 and miss > 100 * other:
            point = (h, -h)[side]
            raise NotAnalyticError(
                f"σ = {_short(expr)} is not analytic at 0: its Taylor series there (the "
                f"{'left' if side == 0 else 'right'}-hand branch's) misses σ at z = "
                f"{sp.N(point, 3)} by {sp.N(miss, 3)} and the other side by {sp.N(other, 3)}; a "
                "kink or jump, such as |z| hidden in sqrt, acos, acosh or asin"
            )


def taylor_coefficients(act: Activation, order: int) -> tuple[sp.Expr, ...]:
    """Exact Taylor coefficients ``(c_0, ..., c_order)`` of σ at 0.

    σ(z) = Σ_k c_k z^k,  c_k = σ^{(k)}(0)/k!  (MATH.md §0, §3).

    >>> taylor_coefficients(activation("tanh"), 5)
    (0, 1, 0, -1/3, 0, 2/15)

    Raises:
        NotAnalyticError: σ is piecewise-defined or its expansion at 0 is not a power series.
        NotRealFunctionError: a coefficient is not real.
        TimeBudgetError: the expansion overran the default budget (order 20 000 of tanh ran
            on for minutes before it had one).
    """
    order = require_int(order, "order", minimum=0)
    act = activation(act)
    with time_budget(f"Taylor expansion of σ = {_short(act.expr)} to order {order}"):
        # the analyticity check expands and evaluates σ too: under the same budget
        check_analytic(act)
        return _series_coefficients(act.expr, order)


def phi_expression(act: Activation) -> sp.Expr:
    """φ_σ(z) = z σ'(z) - σ(z), the pointwise failure of Euler's identity.

    φ_σ(z) = z σ'(z) − σ(z)  (MATH.md §2, §3). A polynomial σ gives φ_σ expanded
    (z² for σ = z + z², not ``-z**2 + z*(2*z + 1) - z``).
    """
    act = activation(act)
    phi = Z * sp.diff(act.expr, Z) - act.expr
    return sp.expand(phi) if phi.is_polynomial(Z) else phi


def phi_coefficients(act: Activation, order: int) -> tuple[sp.Expr, ...]:
    """Taylor coefficients of φ_σ from those of σ: ``φ_k = (k-1) c_k`` (so φ_0 = -c_0, φ_1 = 0).

    φ_σ(z) = −c_0 + Σ_{k≥2} (k−1) c_k z^k  (MATH.md §3).
    """
    return tuple((k - 1) * c for k, c in enumerate(taylor_coefficients(act, order)))


_SAMPLE_POINTS = tuple(sp.Rational(p, 7) for p in (1, 3, 5, 8, 13, 21))
"""Six irregular rational points in (0, 3], used with their negatives."""


def _vanishes_identically(expr: sp.Expr, what: str) -> Decision:
    """Decide ``expr ≡ 0`` (in z) when its Taylor coefficients could not: structurally, by
    simplification, or (reported as numeric) by :func:`decide_zero` at 12 rational points."""
    if expr == 0:
        return Decision(True, True, f"{what} is 0 as written")
    with time_budget(f"simplification of {what} = {_short(expr)}"):
        # hyperbolic and exponential terms as one rational function of exponentials: cancel
        # decides tanh(z) − (e^{2z} − 1)/(e^{2z} + 1) ≡ 0 in 0.06 s, where simplify and the
        # 1500-digit zero tests at 12 points ran past the 120 s budget
        if sp.cancel(expr.rewrite(sp.exp)) == 0:
            return Decision(True, True, f"{what} cancels to 0 in exponentials")
        if sp.simplify(expr) == 0:
            return Decision(True, True, f"{what} simplifies to 0")
    points = [p for q in _SAMPLE_POINTS for p in (q, -q)]
    decisions = [decide_zero(expr.xreplace({Z: p})) for p in points]
    if all(d.holds for d in decisions):
        exact = all(d.exact for d in decisions)
        route = "exactly" if exact else "numerically (relative tolerance, see the zero test)"
        return Decision(True, exact, f"{what} vanishes {route} at 12 points (not a proof)")
    witness = next(p for p, d in zip(points, decisions, strict=True) if not d.holds)
    exact = next(d.exact for d in decisions if not d.holds)
    return Decision(False, exact, f"{what} is non-zero at z = {witness}")


def _short(expr: sp.Expr) -> str:
    text = str(expr)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class NonlinearOrder:
    """q, the order of the first non-zero Taylor coefficient c_k with k ≥ 2 (None: σ affine),
    with every zero test that was not exact, as sentences."""

    q: int | None
    numeric_steps: tuple[str, ...]

    @property
    def exact(self) -> bool:
        return not self.numeric_steps


def nonlinear_order(act: Activation, max_order: int = 64) -> NonlinearOrder:
    """q = min{k ≥ 2 : c_k ≠ 0}, decided by exact zero tests on the exact Taylor coefficients.

    σ is affine (q = None) only when c_2 … c_max_order vanish and σ'' ≡ 0 is then confirmed.
    A polynomial σ's q is read from its own terms, whatever ``max_order`` (x + x**65 is B_65).

    Raises:
        NotAnalyticError: σ'' ≢ 0 but c_2 … c_max_order all vanish (σ is flat at 0, or its first
            nonlinear term lies beyond ``max_order``).
    """
    max_order = require_int(max_order, "max_order", minimum=2)
    act = activation(act)
    if act.expr.is_polynomial(Z):
        return _polynomial_order(act.expr)
    notes: list[str] = []
    order, affine = 8, None
    with time_budget(f"Taylor coefficients of σ = {_short(act.expr)}"):
        while True:
            coefficients = taylor_coefficients(act, order)
            for k in range(2, order + 1):
                decision = decide_zero(coefficients[k])
                if not decision.exact:
                    notes.append(f"c_{k} = {_short(coefficients[k])}: {decision.how}")
                if not decision.holds:
                    return NonlinearOrder(k, tuple(notes))
            if affine is None:  # c_2 … c_8 vanish: is σ'' ≡ 0?
                affine = _vanishes_identically(sp.diff(act.expr, Z, 2), "σ''")
                if affine.holds:
                    break
            if order >= max_order:
                raise NotAnalyticError(
                    f"σ = {act.expr} is not affine ({affine.how}), yet c_2 … c_{max_order} all "
                    "vanish: it is flat at 0 (not analytic there) or its first nonlinear term "
                    "lies beyond the search order"
                )
            order = min(2 * order, max_order)
    if not affine.exact:
        notes.append(affine.how)
    return NonlinearOrder(None, tuple(notes))


def _polynomial_order(expr: sp.Expr) -> NonlinearOrder:
    """q of a polynomial σ from its own terms, whatever its degree (``x + x**65`` was called
    non-analytic: the series search stops at order 64)."""
    notes: list[str] = []
    terms = sp.Poly(expr, Z).terms()  # ((k,), c_k), highest degree first
    for (k,), c in sorted(terms):
        if k < 2:
            continue
        decision = decide_zero(c)
        if not decision.exact:
            notes.append(f"c_{k} = {_short(c)}: {decision.how}")
        if not decision.holds:
            return NonlinearOrder(k, tuple(notes))
    return NonlinearOrder(None, tuple(notes))


def first_nonlinear_order(act: Activation, max_order: int = 64) -> int | None:
    """q: the smallest k ≥ 2 with c_k ≠ 0, or None when σ is affine (see :func:`nonlinear_order`).

    q = min{k ≥ 2 : c_k ≠ 0} in σ(z) = Σ_k c_k z^k  (MATH.md §3).

    Raises:
        NotAnalyticError: σ is not a polynomial, not affine, and no c_k, 2 ≤ k ≤ max_order, is
            non-zero (a polynomial's q is read from its terms, whatever max_order).
    """
    return nonlinear_order(act, max_order).q


def is_affine(act: Activation) -> bool:
    """σ'' ≡ 0, decided as in :func:`nonlinear_order`."""
    return nonlinear_order(act).q is None


def odd_decision(act: Activation, order: int = 8) -> Decision:
    """Decide σ(-z) = -σ(z): exactly when the defect σ(z) + σ(-z) is 0 as written or after
    simplification, or when an even Taylor coefficient up to ``order`` is exactly non-zero;
    otherwise by :func:`decide_zero` of the defect at 12 rational points (reported)."""
    act = activation(act)
    order = require_int(order, "order", minimum=0)
    defect = act.expr + act.expr.xreplace({Z: -Z})
    if defect == 0:
        return Decision(True, True, "σ(z) + σ(-z) is 0 as written")
    with time_budget(f"parity of σ = {_short(act.expr)}"):
        coefficients = taylor_coefficients(act, order)
        for k in range(0, order + 1, 2):
            decision = decide_zero(coefficients[k])
            if not decision.holds:
                return Decision(False, decision.exact, f"c_{k} = {coefficients[k]} ≠ 0")
        return _vanishes_identically(defect, "σ(z) + σ(-z)")


def is_odd(act: Activation, order: int = 8) -> bool:
    """σ(-z) = -σ(z), decided by :func:`odd_decision`.

    σ(−z) = −σ(z), i.e. c_{2k} = 0 for every k  (MATH.md §3).
    """
    return odd_decision(act, order).holds
