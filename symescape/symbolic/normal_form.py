"""The balanced normal form to all orders (Theorem 16; MATH.md §7, §12): the escape time's
asymptotic expansion from the balanced start, with exact coefficients and its logarithms.

**Field.** The exact reduced field F_l = E_s[(aσ(s) − f(s)) ∂_l f(s)] (MATH.md §4) is expanded
at the origin into homogeneous parts, F = Σ_d F^d, F^d of degree L − 1 + d:
the teacher term a E[σ(s) ∂_l f] brings d = k − 1 for each Taylor insertion c_k (and sums of
them), the self term −E[f ∂_l f] starts at d = L. F⁰ = K∇P with K = a μ₁ c_1^{L−1}.
Coefficients are exact polynomials in the Taylor coefficients c_k and the Gaussian moments
m_j = E[σ(s) s^j] (symbols ``m_j``; μ₁ = m_1), divided by K.

**Inner expansion.** With ρ = P^{1/L}, τ = ln ρ and y_l = ln(X_l/ρ) (Σ_l y_l = 0) the flow is

    dy_l/dτ = (Σ_d ρ^d F^d_l(e^y) e^{−y_l}) / (Σ_d ρ^d R^d(e^y)) − 1,
    dt/dτ = ρ^{−(L−2)} / Σ_d ρ^d R^d(e^y),     R^d = (1/L) Σ_m F^d_m(e^y) e^{−y_m},

and from the balanced start X(0) = ε𝟏 we put ρ = εσ, θ = ln σ and y = Σ_{n≥1} ε^n y_n(σ, θ).
Order by order, dy_n/dθ = −2 y_n + S_n (the linearisation at the balanced ray is −2 on Σy = 0;
S_n is known from lower orders): the homological equation of the leading flow, solved in
closed form on terms σ^a θ^b (a θ^{b+1} appears when a = −2), with y_n(0) = 0. The part a = n of
y_n is the slow manifold y = Σ h_n ρ^n (no logs); the rest (a < n) is the transient of the start.

**Escape time.** T(ε) = Σ_n ε^{n−(L−2)} (1/K) ∫_0^{ln(ρ*/ε)} σ^{−(L−2)} w_n(σ, θ) dθ, with
1/R̂ = Σ ε^n w_n. Each term σ^a θ^b of w_n, with e = a − (L−2), gives at the lower limit the
local term −(−1)^b b!/e^{b+1} · ε^{n−(L−2)} (exact), and at the upper limit a power ε^{n−a}:
ε⁰ for the slow manifold (a = n; the non-local constant C) and positive powers for the transient
(non-local). e = 0 (a = n = L − 2) gives the logarithm (ln ρ* + ln 1/ε)^{b+1}/(b+1): the
resonance k·s = L − 2 of MATH.md §12. Hence

    T(ε) = Σ_{p < p_nl} A_p ε^p + B ln(1/ε) + C + O(ε^{p_nl}),

every A_p and B local and exact, C non-local (numeric, see symescape.numeric.precise_escape),
p_nl = min over the transient terms of n − a (the first non-local power).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import comb, factorial, floor, isfinite, log10

import gmpy2
import mpmath
import sympy as sp

from symescape.codegen import mpmath_kernel
from symescape.errors import (
    ConfigurationError,
    NoEscapeError,
    NumericalError,
    TimeBudgetError,
)
from symescape.options import RHO_STAR, hashable_cache, require_int
from symescape.symbolic.activations import Activation, Z
from symescape.symbolic.budget import current_default, time_budget
from symescape.symbolic.canonical import rationalize_floats
from symescape.symbolic.chain import chain_symbols
from symescape.symbolic.classification import ActivationClass, Classification, classify
from symescape.symbolic.constants import EscapeConstants, escape_constants
from symescape.symbolic.gaussian import check_chain_domain
from symescape.symbolic.moments import MIN_DPS, gaussian_moment
from symescape.symbolic.parsing import as_expression
from symescape.symbolic.taylor import taylor_coefficients

MAX_ORDER = 16
"""The largest expansion order attempted (beyond it the exact engine is refused up front)."""


Monomials = dict[tuple[int, ...], object]
SigmaPoly = dict[tuple[int, int], object]  # (a, b) -> coefficient of σ^a θ^b
Series = list[SigmaPoly]  # index n -> coefficient of ε^n


def moment_symbol(j: int) -> sp.Symbol:
    """m_j = E_s[σ(s) s^j] as a symbol (m_1 = μ₁)."""
    return sp.Symbol(f"m_{j}", real=True)


# --- coefficient rings ---------------------------------------------------------------------


@dataclass(frozen=True)
class Ring:
    """Arithmetic of the coefficients: exact (a SymPy sparse polynomial ring over QQ, in the
    Taylor coefficients c_k, the moments m_j, 1/K and ln ρ*) or numeric: mpmath numbers, or,
    with ``binary_precision``, MPFR numbers of that many bits (gmpy2; inside
    :func:`mpfr_precision`). MPFR rounds every operation correctly as mpmath does, at a tenth
    of the cost per operation, which is what the inner expansion's millions of products pay."""

    exact: bool
    poly_ring: object = None
    binary_precision: int | None = None

    def norm(self, value: object) -> object:
        return value

    def number(self, value: Fraction | int) -> object:
        if self.exact:
            value = Fraction(value)
            return self.poly_ring(sp.Rational(value.numerator, value.denominator))
        if self.binary_precision:
            value = Fraction(value)
            return gmpy2.mpfr(gmpy2.mpq(value.numerator, value.denominator))
        if isinstance(value, Fraction):
            return mpmath.mpf(value.numerator) / value.denominator
        return mpmath.mpf(value)

    def is_zero(self, value: object) -> bool:
        return not value

    def is_round_off(self, value: object) -> bool:
        """|value| below 10^(5 − dps) of the working precision (exact: value = 0)."""
        if self.exact:
            return not value
        return abs(value) <= self.number(Fraction(1, 10 ** max(mpmath.mp.dps - 5, 0)))

    def imported(self, value: object) -> object:
        """An mpmath number (or int, float) as this ring's number, exactly at equal precision.

        Raises:
            NumericalError: the value is infinite or NaN (MPFR would take either as 0 here).
        """
        if not self.binary_precision:
            return value
        value = mpmath.mpf(value)
        if not mpmath.isfinite(value):
            raise NumericalError(f"a coefficient of the field is {value}, not a finite number")
        mantissa, exponent = value.man_exp  # |value| = mantissa·2^exponent (no sign)
        magnitude = gmpy2.mul_2exp(gmpy2.mpfr(int(mantissa)), int(exponent))
        if gmpy2.is_infinite(magnitude) or (mantissa and gmpy2.is_zero(magnitude)):
            raise NumericalError(f"{mpmath.nstr(value, 8)} is beyond MPFR's exponent range")
        return -magnitude if value < 0 else magnitude

    def exported(self, value: object) -> object:
        """This ring's number as an mpmath number (exactly).

        Raises:
            NumericalError: the value is infinite or NaN (an overflow inside the expansion).
        """
        if not self.binary_precision:
            return value
        if not gmpy2.is_finite(value):
            raise NumericalError(f"the inner expansion produced {value}, not a finite number")
        mantissa, exponent = value.as_mantissa_exp()
        return mpmath.mpf((int(mantissa), int(exponent)))


@contextmanager
def mpfr_precision(bits: int) -> Iterator[None]:
    """gmpy2's arithmetic at ``bits`` bits inside the block (its context is per thread): a
    fresh default context (round to nearest, like mpmath), not a copy of the caller's."""
    with gmpy2.context(precision=bits):
        yield


def _padd(ring: Ring, p: SigmaPoly, q: SigmaPoly, scale: object = 1) -> SigmaPoly:
    out = dict(p)
    _add_into(out, q, scale)
    return _without_zeros(ring, out)


def _pmul(ring: Ring, p: SigmaPoly, q: SigmaPoly) -> SigmaPoly:
    return _without_zeros(ring, _product_with_zeros(p, q))


def _product_with_zeros(p: SigmaPoly, q: SigmaPoly) -> SigmaPoly:
    """p·q, keeping any coefficient that cancels to 0 (see :func:`_add_into`)."""
    out: dict = {}
    for (a1, b1), v1 in p.items():
        for (a2, b2), v2 in q.items():
            key = (a1 + a2, b1 + b2)
            out[key] = out.get(key, 0) + v1 * v2
    return out


def _add_into(out: dict, q: SigmaPoly, scale: object = 1, shift: int = 0) -> None:
    """out += scale·σ^shift·q, in place: the hot loops accumulate many terms into one sum, and
    :func:`_padd`'s copy per term made them quadratic in its size. The same operations in the
    same order as a copy-and-add; zeros stay until :func:`_without_zeros`."""
    for (a, b), value in q.items():
        key = (a + shift, b)
        previous = out.get(key)
        out[key] = scale * value if previous is None else previous + scale * value


def _without_zeros(ring: Ring, p: dict) -> SigmaPoly:
    return {k: ring.norm(v) for k, v in p.items() if not ring.is_zero(ring.norm(v))}


def _pscale(ring: Ring, p: SigmaPoly, scale: object) -> SigmaPoly:
    return {k: ring.norm(v * scale) for k, v in p.items() if not ring.is_zero(ring.norm(v * scale))}


def _smul(ring: Ring, x: Series, y: Series, order: int) -> Series:
    out: Series = [{} for _ in range(order + 1)]
    for i, xi in enumerate(x[: order + 1]):
        if not xi:
            continue
        for j in range(order + 1 - i):
            if y[j]:
                out[i + j] = _padd(ring, out[i + j], _pmul(ring, xi, y[j]))
    return out


class _Exponentials:
    """exp(v·y) as ε-series, E = Σ_n ε^n E_n, for the exponent vectors v of the field's
    monomials, kept across the orders of the inner expansion. E_n follows from
    E_n = (1/n) Σ_{k=1}^{n} k (v·y_k) E_{n−k} (y_0 = 0, E_0 = 1); y_k never changes once solved,
    so E_k for k ≤ ``known`` is final and each new order costs one step of the recursion per
    vector. (A fresh exponential at every order made the inner expansion cubic in the order:
    gelu at L = 8 spent most of its 43 s there.)"""

    def __init__(self, ring: Ring, y: list[Series]) -> None:
        self.ring = ring
        self.y = y  # filled in by the caller as the orders are solved
        # vector -> (v·y_k, E_k) for k = 0..known as far as computed (index 0: 0 and 1)
        self.computed: dict[tuple[int, ...], tuple[Series, Series]] = {}

    def _combination(self, vector: tuple[int, ...], k: int) -> SigmaPoly:
        """v·y_k."""
        total: dict = {}
        for l, v in enumerate(vector):
            if v and self.y[l][k]:
                _add_into(total, self.y[l][k], self.ring.number(v))
        return _without_zeros(self.ring, total)

    def _next(self, combinations: Series, E: Series, n: int) -> SigmaPoly:
        ring = self.ring
        total: dict = {}
        for k in range(1, n + 1):
            if combinations[k] and E[n - k]:
                product = _product_with_zeros(combinations[k], E[n - k])
                _add_into(total, product, ring.number(k))
        return _pscale(ring, _without_zeros(ring, total), ring.number(Fraction(1, n)))

    def series(self, vector: tuple[int, ...], order: int, known: int) -> Series:
        """E_0..E_order, with y_k for k > ``known`` (not solved yet) taken as 0."""
        if vector not in self.computed:
            self.computed[vector] = ([{}], [{(0, 0): self.ring.number(1)}])
        combinations, E = self.computed[vector]
        if len(E) - 1 > known:  # `known` only grows in inner_expansion
            raise ValueError(f"E is final to ε^{len(E) - 1}, asked with y known to ε^{known}")
        while len(E) <= min(known, order):
            combinations.append(self._combination(vector, len(E)))
            E.append(self._next(combinations, E, len(E)))
        if order < len(E):
            return E[: order + 1]
        provisional = list(E)
        padded = combinations + [{} for _ in range(order + 1 - len(combinations))]
        for n in range(len(E), order + 1):
            provisional.append(self._next(padded, provisional, n))
        return provisional


def _sinv(ring: Ring, x: Series, order: int) -> Series:
    """1/x for x[0] = 1 (the constant σ⁰θ⁰ term)."""
    head = x[0].get((0, 0), 0) - 1
    off = not ring.is_round_off(head)
    if len(x[0]) != 1 or off:
        raise NumericalError("the normalised rate R̂ must start with 1")
    inv: Series = [{(0, 0): ring.number(1)}] + [{} for _ in range(order)]
    for n in range(1, order + 1):
        total: SigmaPoly = {}
        for k in range(1, n + 1):
            if x[k] and inv[n - k]:
                total = _padd(ring, total, _pmul(ring, x[k], inv[n - k]), -1)
        inv[n] = total
    return inv


# --- the field's homogeneous parts ----------------------------------------------------------


@dataclass(frozen=True)
class FieldExpansion:
    """F^d / K for d = 0..max_d: ``parts[d][l]`` maps an exponent vector α to the coefficient of
    X^α, an element of ``coefficients`` = QQ[c_1..c_M, m_0..m_J, 1/K, ln ρ*] (exact). F̂⁰ = ∇P.

    ``values`` maps each generator's name to its :class:`~symescape.symbolic.moments.Constant`
    (or exact number); ``exact`` to its exact SymPy value where SymPy has one."""

    depth: int
    max_d: int
    parts: tuple[tuple[dict, ...], ...]
    coefficients: object
    exact: dict
    numeric: dict
    constants: EscapeConstants

    def present(self) -> tuple[int, ...]:
        """The d with F^d ≠ 0."""
        return tuple(d for d, part in enumerate(self.parts) if any(part))


def _require_escape(cls: Classification, constants: EscapeConstants) -> None:
    """NoEscapeError (the message of ``escape``) unless K > 0."""
    if not constants.escapes:
        raise NoEscapeError(
            f"K = a μ₁ c_1^(L-1) = {mpmath.nstr(constants.K.value, 6)} ≤ 0 for "
            f"{cls.activation.name}: "
            "the flow does not escape the saddle at leading order"
        )


def _truncated(poly: object, depth: int, degree: int):
    return poly.ring.from_dict(
        {k: v for k, v in poly.items() if sum(k[:depth]) <= degree}
    ) if poly else poly


@lru_cache(maxsize=64)
def field_expansion(
    spec: str | sp.Expr | Activation | Classification, depth: int, amplitude: object, max_d: int
) -> FieldExpansion:
    """The homogeneous parts F^d (d ≤ ``max_d``) of the exact reduced field, divided by K.

    Raises:
        ConfigurationError, OutsideHypothesisError, NoLinearPathError: as :func:`escape_constants`.
        NoEscapeError: K ≤ 0.
    """
    from sympy.polys.rings import ring

    cls = spec if isinstance(spec, Classification) else classify(spec)
    constants = escape_constants(cls, depth, amplitude)
    _require_escape(cls, constants)
    act = cls.chain_activation
    L = constants.depth
    M = max_d + 1
    c = taylor_coefficients(act, M)
    if c[0] != 0:
        raise ConfigurationError("the chain activation must vanish at 0 (centre class D)")
    names = [f"X_{l}" for l in range(1, L + 1)] + ["s"] + [f"c_{k}" for k in range(1, M + 1)]
    chain_ring, *gens = ring(",".join(names), sp.QQ)
    X, s, cs = gens[:L], gens[L], gens[L + 1 :]
    active = [k for k in range(1, M + 1) if c[k] != 0]
    top = L + max_d
    h = s
    for m in range(1, L):
        z = X[m - 1] * h
        total = chain_ring(0)
        power = chain_ring(1)
        for k in range(1, M + 1):
            power = _truncated(power * z, L, top - (L - m))
            if k in active:
                total += cs[k - 1] * power
        h = _truncated(total, L, top - (L - m))
    f = _truncated(X[-1] * h, L, top)
    J = max_d + 2
    odd = bool(cls.odd) and cls.activation_class is not ActivationClass.D
    coef_names = [f"c_{k}" for k in range(1, M + 1)] + [f"m_{j}" for j in range(J + 1)]
    coef_names += ["iK", "lnrho"]
    coef_ring, *cgens = ring(",".join(coef_names), sp.QQ)
    cg, mg, iK = cgens[:M], cgens[M : M + J + 1], cgens[M + J + 1]
    a = rationalize_floats(sp.sympify(constants.amplitude, strict=True))
    a_ring = coef_ring(a) if a.is_Rational else None
    if a_ring is None:
        raise ConfigurationError(f"the expansion needs a rational amplitude, got {amplitude!r}")
    K_poly = a_ring * mg[1] * cg[0] ** (L - 1)
    parts = [[{} for _ in range(L)] for _ in range(max_d + 1)]
    for l in range(L):
        grad = f.diff(X[l])
        self_term = _truncated(f * grad, L, L - 1 + max_d)
        field: dict = {}
        for mon, coeff in grad.items():
            j = mon[L]
            if j > J or (odd and j % 2 == 0):
                continue
            cpart = coef_ring(coeff) * a_ring * mg[j]
            for k in range(M):
                cpart *= cg[k] ** mon[L + 1 + k]
            field[mon[:L]] = field.get(mon[:L], coef_ring(0)) + cpart
        for mon, coeff in self_term.items():
            j = mon[L]
            if j % 2:
                continue
            cpart = coef_ring(coeff) * coef_ring(sp.factorial2(j - 1)) * -1
            for k in range(M):
                cpart *= cg[k] ** mon[L + 1 + k]
            field[mon[:L]] = field.get(mon[:L], coef_ring(0)) + cpart
        for alpha, value in field.items():
            d = sum(alpha) - (L - 1)
            if not value or not 0 <= d <= max_d:
                continue
            if d == 0:
                if value != K_poly:
                    raise NumericalError(f"F⁰ is not K∇P at {alpha}: {value}")
                parts[0][l][alpha] = coef_ring(1)
            else:
                parts[d][l][alpha] = value * iK
    exact = {f"c_{k}": c[k] for k in range(1, M + 1)}
    numeric = {f"c_{k}": c[k] for k in range(1, M + 1)}
    for j in range(J + 1):
        if odd and j % 2 == 0:
            exact[f"m_{j}"] = sp.Integer(0)
            numeric[f"m_{j}"] = sp.Integer(0)
            continue
        moment = gaussian_moment(act, j)
        numeric[f"m_{j}"] = moment
        if moment.exact is not None:
            exact[f"m_{j}"] = moment.exact
    with mpmath.workdps(60):
        numeric["iK"] = 1 / constants.K.value
    if constants.K.exact is not None:
        exact["iK"] = 1 / constants.K.exact
    return FieldExpansion(
        L, max_d, tuple(tuple(p) for p in parts), coef_ring, exact, numeric, constants
    )


def _evaluate_coefficient(poly: object, values: list) -> mpmath.mpf:
    total = mpmath.mpf(0)
    for mon, coeff in poly.items():
        term = mpmath.mpf(int(coeff.numerator)) / int(coeff.denominator)
        for v, e in zip(values, mon, strict=True):
            if e:
                term *= v**e
        total += term
    return total


def _generator_values(field: FieldExpansion, rho_star: object) -> list:
    values = []
    for gen in field.coefficients.symbols:
        name = str(gen)
        if name == "lnrho":
            values.append(mpmath.log(mpmath.mpf(rho_star)))
            continue
        v = field.numeric[name]
        values.append(v.value if hasattr(v, "value") else (
            v if isinstance(v, mpmath.mpf) else mpmath.mpf(sp.N(v, mpmath.mp.dps + 5))))
    return values


def _numeric_parts(field: FieldExpansion, dps: int) -> tuple[tuple[dict, ...], ...]:
    with mpmath.workdps(dps + 10):
        values = _generator_values(field, 1)
        return tuple(
            tuple(
                {alpha: _evaluate_coefficient(coeff, values) for alpha, coeff in comp.items()}
                for comp in part
            )
            for part in field.parts
        )


def numeric_field_parts(field: FieldExpansion, dps: int = 30) -> tuple[tuple[dict, ...], ...]:
    """F^d / K as numbers: ``[d][l]`` maps an exponent vector α to the mpmath coefficient of X^α
    (F̂⁰ = ∇P), evaluated at ``dps`` digits (MATH.md §12)."""
    return _numeric_parts(field, dps)


def exact_value(field: FieldExpansion, poly: object, rho_star: object) -> sp.Expr:
    """A coefficient as a SymPy expression: c_k exact, m_j exact where SymPy closes the
    integral (else the symbol m_j), 1/K exact (else 1/(a m_1 c_1^{L-1}))."""
    subs = {}
    for gen in field.coefficients.symbols:
        name = str(gen)
        if name == "lnrho":
            subs[gen] = sp.log(rationalize_floats(as_expression(rho_star, "rho_star")))
        elif name in field.exact:
            subs[gen] = field.exact[name]
        elif name == "iK":
            c1 = field.exact["c_1"]
            subs[gen] = 1 / (field.constants.amplitude * moment_symbol(1) * c1 ** (
                field.depth - 1))
        else:
            subs[gen] = sp.Symbol(name, real=True)
    return sp.nsimplify(poly.as_expr().xreplace(subs)) if poly.is_ground else sp.simplify(
        poly.as_expr().xreplace(subs)
    )


# --- the inner expansion ---------------------------------------------------------------------


@dataclass(frozen=True)
class InnerExpansion:
    """y_n(σ, θ) for n ≤ order (``y[n][l]`` a σθ-polynomial) and w_n (1/R̂ = Σ ε^n w_n)."""

    depth: int
    order: int
    y: tuple
    w: tuple
    exact: bool


def _rate_series(
    ring: Ring, parts: tuple, depth: int, exponentials: _Exponentials, order: int, known: int
) -> tuple[list[Series], Series]:
    """(numerator_l series, R̂ series) to ε^order, with y solved to ε^known."""
    cache: dict[tuple[int, ...], Series] = {}

    def exp_of(vector: tuple[int, ...]) -> Series:
        if vector not in cache:
            cache[vector] = exponentials.series(vector, order, known)
        return cache[vector]

    numerators = []
    for l in range(depth):
        total: list[dict] = [{} for _ in range(order + 1)]
        for d, part in enumerate(parts):
            if d > order:
                break
            for alpha, coeff in part[l].items():
                vector = tuple(p - (1 if m == l else 0) for m, p in enumerate(alpha))
                e = exp_of(vector)
                for n in range(order + 1 - d):
                    if e[n]:
                        _add_into(total[n + d], e[n], coeff, shift=d)
        numerators.append([_without_zeros(ring, t) for t in total])
    inv_L = ring.number(Fraction(1, depth))
    rate: list[dict] = [{} for _ in range(order + 1)]
    for num in numerators:
        for n in range(order + 1):
            _add_into(rate[n], num[n], inv_L)
    return numerators, [_without_zeros(ring, r) for r in rate]


def _solve_homological(ring: Ring, source: SigmaPoly) -> SigmaPoly:
    """The solution of dy/dθ = −2y + source (σ = e^θ) with y(0) = 0."""
    out: SigmaPoly = {}
    for (a, b), c in source.items():
        if a == -2:
            term = {(a, b + 1): ring.norm(c * ring.number(Fraction(1, b + 1)))}
        else:
            p = [0] * (b + 1)
            p[b] = c * ring.number(Fraction(1, a + 2))
            for j in range(b - 1, -1, -1):
                p[j] = -(j + 1) * p[j + 1] * ring.number(Fraction(1, a + 2))
            term = {(a, j): ring.norm(p[j]) for j in range(b + 1)}
        out = _padd(ring, out, term)
    start = sum((v for (a, b), v in out.items() if b == 0), ring.number(0))
    return _padd(ring, out, {(-2, 0): ring.norm(-start)})


def inner_expansion(
    parts: tuple, depth: int, order: int, ring: Ring, progress: list | None = None
) -> InnerExpansion:
    """Solve the inner expansion to ε^order (see the module docstring); each finished order n
    is appended to ``progress`` (so an interrupted run says how far it got). An MPFR ring runs
    inside :func:`mpfr_precision` at its own precision (:func:`numeric_inner_expansion`)."""
    if ring.binary_precision and gmpy2.get_context().precision != ring.binary_precision:
        raise ValueError(
            f"MPFR arithmetic is at {gmpy2.get_context().precision} bits, the ring at "
            f"{ring.binary_precision}: run it inside mpfr_precision({ring.binary_precision})"
        )
    y: list[Series] = [[{} for _ in range(order + 1)] for _ in range(depth)]
    exponentials = _Exponentials(ring, y)
    for n in range(1, order + 1):
        numerators, rate = _rate_series(ring, parts, depth, exponentials, n, n - 1)
        inv = _sinv(ring, rate, n)
        for l in range(depth):
            g = _smul(ring, numerators[l], inv, n)[n]
            y[l][n] = _solve_homological(ring, g)
        if progress is not None:
            progress.append(n)
    numerators, rate = _rate_series(ring, parts, depth, exponentials, order, order)
    w = _sinv(ring, rate, order)
    return InnerExpansion(depth, order, tuple(tuple(s) for s in y), tuple(w), ring.exact)


def numeric_inner_expansion(parts: tuple, depth: int, order: int) -> InnerExpansion:
    """:func:`inner_expansion` on MPFR numbers at mpmath's working precision, from and to
    mpmath numbers (``parts`` as :func:`numeric_field_parts` gives them)."""
    ring = Ring(False, binary_precision=mpmath.mp.prec)
    with mpfr_precision(ring.binary_precision):
        converted = tuple(
            tuple({alpha: ring.imported(c) for alpha, c in comp.items()} for comp in part)
            for part in parts
        )
        inner = inner_expansion(converted, depth, order, ring)

    def back(series: tuple) -> tuple:
        return tuple({key: ring.exported(v) for key, v in poly.items()} for poly in series)

    return InnerExpansion(
        depth, order, tuple(back(s) for s in inner.y), back(inner.w), False
    )


# --- the escape-time expansion ----------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """A ε^power (ln 1/ε)^log_power with coefficient ``value`` (mpmath) and ``exact`` form
    (SymPy; None for a non-local term)."""

    power: int
    log_power: int
    value: mpmath.mpf
    exact: sp.Expr | None

    def evaluate(self, eps: mpmath.mpf) -> mpmath.mpf:
        return self.value * mpmath.mpf(eps) ** self.power * mpmath.log(1 / mpmath.mpf(eps)) ** (
            self.log_power
        )


def _lower_limit_terms(ring: Ring, w: tuple, depth: int, log_rho: object, order: int):
    """The local terms {(power, log_power): coefficient·K} and p_nl (module docstring)."""
    terms: dict[tuple[int, int], object] = {}
    first_nonlocal = None
    for n in range(order + 1):
        power = n - (depth - 2)
        for (a, b), c in w[n].items():
            if a < n:
                first_nonlocal = n - a if first_nonlocal is None else min(first_nonlocal, n - a)
            e = a - (depth - 2)
            if e != 0:
                value = -c * ring.number(Fraction((-1) ** b * factorial(b), e ** (b + 1)))
                terms[(power, 0)] = terms.get((power, 0), 0) + value
            else:
                for k in range(1, b + 2):
                    value = c * ring.number(Fraction(comb(b + 1, k), b + 1))
                    value = value * log_rho ** (b + 1 - k)
                    terms[(power, k)] = terms.get((power, k), 0) + value
    return terms, first_nonlocal


@dataclass(frozen=True)
class EscapeExpansion:
    """T(ε) ~ Σ terms + C + O(ε^remainder_power) from the balanced start X(0) = ε𝟏 (MATH.md §12).

    ``terms``: the local terms kept at this order, sorted by power; ``remainder_power``: the
    power of the first omitted term (a kept order's next local term, or the first non-local
    power ``nonlocal_power``). ``transient_constant``: the local part of the ε⁰ coefficient (the
    start's transient), which the second route to C adds. ``slow_manifold[n]``: h_n with
    y = Σ h_n ρ^n on the slow manifold; ``slow_rate[n]``: its w_n (1/R̂ = Σ w_n ρ^n).
    ``all_terms``: every local term the inner expansion resolved (for the error sweeps).
    ``power_limit``: the largest power the order asked for, −(L−2) + order·(q−1).
    """

    activation: str
    depth: int
    amplitude: float
    rho_star: float
    order: int
    K: mpmath.mpf
    terms: tuple[Term, ...]
    all_terms: tuple[Term, ...]
    remainder_power: int
    nonlocal_power: int
    transient_constant: mpmath.mpf
    slow_manifold: tuple
    slow_rate: tuple
    step: int
    inner_order: int
    power_limit: int

    @property
    def stops_at_nonlocal(self) -> bool:
        """The order asked for powers past the first non-local one, p = ``nonlocal_power``:
        past it the terms depend on the whole flow, not on the local expansion (at p itself
        only the ε^p ln(1/ε)^k, k > 0, are local), so a higher order adds nothing."""
        return self.power_limit > self.nonlocal_power

    @property
    def remainder_log_power(self) -> int | None:
        """The power of ln(1/ε) in the first omitted term, ε^p ln(1/ε)^k: known when that term is
        local and resolved; None at the non-local power, whose logarithms the inner expansion does
        not resolve (tanh at L = 6: T minus the series falls like ε^3.2–3.4 at ε ~ 0.01–0.05,
        as ε⁴ ln²(1/ε) does, not like ε⁴)."""
        if self.remainder_power >= self.nonlocal_power:
            return None
        logs = [t.log_power for t in self.all_terms if t.power == self.remainder_power]
        return max(logs) if logs else None

    def remainder_text(self, eps: str = "ε", log: str = "ln(1/ε)") -> str:
        """The remainder, O(ε^p), O(ε^p ln(1/ε)^k), or O(ε^p) up to powers of ln(1/ε)."""
        k = self.remainder_log_power
        power = f"{eps}^{self.remainder_power}"
        if k is None:
            return f"O({power}), up to powers of {log}"
        return f"O({power} {log}^{k})" if k else f"O({power})"

    @property
    def centred(self) -> bool:
        """Class D: the reduced flow, so every term, is that of σ̃ = σ − σ(0)."""
        return classify(self.activation).centred is not None

    def singular(self) -> tuple[Term, ...]:
        return tuple(t for t in self.terms if t.power < 0 or (t.power == 0 and t.log_power > 0))

    def local_sum(self, eps: object, max_power: float | None = None) -> mpmath.mpf:
        """Σ of the kept local terms (those with power ≤ ``max_power``) at ε."""
        return mpmath.fsum(
            t.evaluate(eps) for t in self.terms if max_power is None or t.power <= max_power
        )

    @property
    def resonant(self) -> bool:
        return any(t.power == 0 and t.log_power > 0 for t in self.all_terms)

    @property
    def uses_moment_symbols(self) -> bool:
        """Whether an exact kept term is written with m_j = E[σ(s) s^j] (no closed form)."""
        return any(
            symbol.name.startswith("m_")
            for t in self.terms
            if t.exact is not None
            for symbol in t.exact.free_symbols
        )


def _is_local(key: tuple[int, int], nonlocal_power: int) -> bool:
    """Whether the term ε^p (ln 1/ε)^k is local: p below the first non-local power, or a log at
    it (a log's coefficient comes from the overlap region, like the resonance's); the constant
    (p = 0, k = 0) never is."""
    power, log_power = key
    if power == 0 and log_power == 0:
        return False
    return power < nonlocal_power or (power == nonlocal_power and log_power > 0)


def correction_gap(cls: Classification) -> int:
    """q − 1, the degree of the first correction (1 for class A, whose q is undefined)."""
    q = cls.centred.q if cls.activation_class is ActivationClass.D else cls.q
    return 1 if q is None else q - 1


def expansion_step(cls: Classification) -> int:
    """s: the step between successive field degrees (MATH.md §12 says 2 for odd σ, 1 else)."""
    return 2 if cls.odd and cls.activation_class is not ActivationClass.D else 1


def constant_remainder_step(step: int, depth: int) -> int:
    """The power of T's first term after the constant: the step s of the field's degrees,
    except for odd σ at odd L, where the self term's degree (L, odd) brings power 1 (measured:
    MATH.md §12's "s = 2 for odd σ" holds for the field's teacher part only)."""
    return step if depth % 2 == 0 else 1


def required_inner_order(depth: int, order: int, gap: int) -> int:
    """The inner order that resolves every power ≤ −(L−2) + order·gap and the non-local power
    after it (which needs two more: the transient enters as σ^{−2})."""
    return max(order * gap, depth - 2) + gap + 2


def _infeasible_order_message(order: int, depth: int, gap: int, inner_order: int) -> str:
    """Why ``order`` is beyond the engine at this depth, with what is feasible instead (it said
    'the largest feasible order here is None' at L = 16, where even order 0 is beyond it)."""
    head = (
        f"order {order} needs the inner expansion to ε^{inner_order}, beyond the engine's "
        f"ε^{MAX_ORDER}"
    )
    # no order beyond MAX_ORDER is feasible (its inner order exceeds it): range(order) of a
    # 20-digit order ran for minutes
    feasible = [
        o for o in range(min(order, MAX_ORDER + 1))
        if required_inner_order(depth, o, gap) <= MAX_ORDER
    ]
    if feasible:
        return f"{head}; the largest feasible order here is {feasible[-1]}"
    deepest = max(
        (L for L in range(1, depth) if required_inner_order(L, 0, gap) <= MAX_ORDER), default=None
    )
    return (
        f"{head}, as every order does at L = {depth}"
        + (f" (order 0: ε^{required_inner_order(depth, 0, gap)})" if order else "")
        + f"; the engine reaches L ≤ {deepest} for this "
        "activation. The leading term ε^-(L-2)/(K(L-2)) and the exact time are what "
        "'symescape escape' gives"
    )


def escape_expansion(
    spec: str | sp.Expr | Activation,
    depth: int,
    *,
    order: int = 2,
    rho_star: float = RHO_STAR,
    amplitude: float = 1.0,
    exact: bool = True,
    dps: int = 40,
    budget: float | None = None,
) -> EscapeExpansion:
    """The local terms of T(ε) from X(0) = ε𝟏 under the product criterion at ρ* (MATH.md §12;
    the method in the module docstring).

    ``order`` N keeps every local term with power ≤ −(L−2) + N(q−1).

    >>> e = escape_expansion("tanh", 4, order=0, exact=False)
    >>> [(t.power, t.log_power) for t in e.terms]
    [(-2, 0)]

    Raises:
        ConfigurationError: order < 0 or beyond the largest feasible order (named), ρ* ≤ 0 or
            ≥ 1, a non-rational amplitude, dps < 30 (terms below 10^-(dps-10) are dropped as
            round-off: at dps = 10 that dropped the leading ε^-(L-2) term).
        TimeBudgetError: the exact engine overran ``budget`` seconds (default: the symbolic
            budget, ``symescape --budget``; it had its own 60 s, which the option could not
            raise although the message said to).
        OutsideHypothesisError, NoLinearPathError, NoEscapeError: as ``escape``.
    """
    if isinstance(order, bool) or int(order) != order or order < 0:
        raise ConfigurationError(f"order must be an integer ≥ 0, got {order!r}")
    dps = require_int(dps, "dps", minimum=MIN_DPS)
    if not 0 < rho_star < 1:
        raise ConfigurationError(f"ρ* must lie in (0, 1), got {rho_star}")
    cls = classify(spec)
    constants = escape_constants(cls, depth, amplitude)
    L = constants.depth
    gap = correction_gap(cls)
    inner_order = required_inner_order(L, order, gap)
    if inner_order > MAX_ORDER:
        raise ConfigurationError(_infeasible_order_message(order, L, gap, inner_order))
    amp = rationalize_floats(as_expression(amplitude, "amplitude"))
    # the field's series and the inner expansion grow fast with L and the order (gelu, L = 12,
    # order 2 ran for minutes): under the symbolic budget (symescape --budget), like every step
    # that can run for ever
    step = f"escape-time expansion of σ = {cls.activation.name} at L = {L} to ε^{inner_order}"
    with time_budget(step):
        field = field_expansion(cls, L, amp, inner_order)
        with mpmath.workdps(dps + 10):
            inner = numeric_inner_expansion(_numeric_parts(field, dps), L, inner_order)
    ring = Ring(False)
    with mpmath.workdps(dps + 10):
        raw, p_nl = _lower_limit_terms(
            ring, inner.w, L, mpmath.log(mpmath.mpf(rho_star)), inner_order
        )
        K = constants.K.value
        resolved = inner_order - (L - 2) + 1  # powers below this are complete
        nonlocal_power = min(p_nl if p_nl is not None else resolved, resolved)
        tiny = mpmath.mpf(10) ** (-(dps - 10))
        local = {
            key: value / K
            for key, value in raw.items()
            if _is_local(key, nonlocal_power) and abs(value) > tiny
        }
        limit = -(L - 2) + order * gap
        keep = sorted((k for k in local if k[0] <= limit), key=lambda k: (k[0], -k[1]))
        later = [k[0] for k in local if k[0] > limit]
        remainder = min([nonlocal_power, *later])
        exact_terms = (
            _exact_terms(field, L, limit + L - 2, rho_star, budget, set(keep), gap)
            if exact
            else {}
        )
        all_terms = tuple(
            Term(k[0], k[1], local[k], exact_terms.get(k))
            for k in sorted(local, key=lambda k: (k[0], -k[1]))
        )
        terms = tuple(t for t in all_terms if (t.power, t.log_power) in set(keep))
        transient = (
            mpmath.fsum(
                -c * mpmath.mpf((-1) ** b * factorial(b)) / mpmath.mpf(a - (L - 2)) ** (b + 1)
                for (a, b), c in inner.w[L - 2].items()
                if a != L - 2
            )
            / K
            if L >= 2
            else mpmath.mpf(0)
        )
        slow_y = tuple(
            tuple(inner.y[l][n].get((n, 0), mpmath.mpf(0)) for l in range(L))
            for n in range(inner_order + 1)
        )
        slow_w = tuple(inner.w[n].get((n, 0), mpmath.mpf(0)) for n in range(inner_order + 1))
    return EscapeExpansion(
        cls.activation.name,
        L,
        float(amplitude),
        float(rho_star),
        order,
        K,
        terms,
        all_terms,
        int(remainder),
        int(nonlocal_power),
        transient,
        slow_y,
        slow_w,
        expansion_step(cls),
        inner_order,
        int(limit),
    )


def _exact_terms(
    field: FieldExpansion,
    depth: int,
    order: int,
    rho_star: float,
    budget: float | None,
    keep: set,
    gap: int = 1,
) -> dict:
    """The kept terms' exact coefficients (SymPy), from the inner expansion over QQ.

    Raises:
        TimeBudgetError: the budget ran out; the message names the largest order (of
            :func:`escape_expansion`) whose inner expansion finished within it.
    """
    if order < 0:
        return {}
    ring = Ring(True, field.coefficients)
    log_rho = field.coefficients.gens[-1]
    iK = field.coefficients.gens[-2]
    progress: list[int] = []
    try:
        budget = current_default() if budget is None else budget
        with time_budget(f"exact escape-time expansion to ε^{order}", budget):
            inner = inner_expansion(field.parts, depth, order, ring, progress)
            raw, _ = _lower_limit_terms(ring, inner.w, depth, log_rho, order)
            return {k: exact_value(field, v * iK, rho_star) for k, v in raw.items() if k in keep}
    except TimeBudgetError as exc:
        done = max(progress, default=0) - 1  # w_n needs y up to n − 1 only at the last step
        feasible = max(done, 0) // max(gap, 1)
        raise TimeBudgetError(
            f"{exc}: the exact coefficients did not finish within {budget:g} s; the largest "
            f"feasible order within it is {feasible} (--order {feasible})"
        ) from None


@dataclass(frozen=True)
class PreciseActivation:
    """σ and σ' of the chain activation as mpmath functions (through the code-generation
    boundary), with σ's parity; for class D the centred σ̃. ``joint`` maps z to (σ(z), σ'(z))
    sharing their common subexpressions."""

    name: str
    sigma: Callable
    dsigma: Callable
    odd: bool
    constants: EscapeConstants
    joint: Callable | None = None


@hashable_cache(maxsize=64)
def precise_activation(spec: str | sp.Expr | Activation, depth: int, amplitude: float = 1.0
                       ) -> PreciseActivation:
    """The mpmath side of the chain for the 30-digit field (validated as ``escape``).

    Raises:
        ConfigurationError, OutsideHypothesisError, NoLinearPathError, NoEscapeError.
        GaussianDomainError: the chain's field has no Gaussian expectation at this depth
            (σ(σ(s)) for σ = exp(x) - 1 grows like exp(exp|s|)), as in ``reduced_model``.
    """
    from symescape.codegen import mpmath_kernel

    cls = classify(spec)
    constants = escape_constants(cls, depth, amplitude)
    _require_escape(cls, constants)
    act = cls.chain_activation
    check_chain_domain(act.expr, Z, constants.depth)
    sigma = mpmath_kernel([act.expr], [Z])
    derivative = sp.diff(act.expr, Z)
    dsigma = mpmath_kernel([derivative], [Z])
    joint = _joint_kernel(act.expr, derivative)
    odd = bool(cls.odd) and cls.activation_class is not ActivationClass.D
    return PreciseActivation(
        cls.activation.name,
        lambda z: sigma(z)[0],
        lambda z: dsigma(z)[0],
        odd,
        constants,
        joint,
    )


def _joint_kernel(expr: sp.Expr, derivative: sp.Expr) -> Callable:
    """z ↦ (σ(z), σ'(z)) with their common subexpressions evaluated once (tanh: one tanh;
    gelu: one erf, one exp): SymPy's cse, each step compiled through the mpmath boundary."""
    from symescape.codegen import mpmath_kernel

    replacements, reduced = sp.cse([expr, derivative])
    steps = []
    known: list[sp.Symbol] = [Z]
    for symbol, value in replacements:
        steps.append(mpmath_kernel([value], list(known)))
        known.append(symbol)
    final = mpmath_kernel(list(reduced), list(known))

    def evaluate(z: object) -> tuple:
        values = [z]
        for step in steps:
            values.append(step(*values)[0])
        out = final(*values)
        return out[0], out[1]

    return evaluate


def latex_log_factor(k: int | None) -> str:
    """ln(1/ε)^k in a LaTeX remainder; at the non-local power (k unknown), a polylog."""
    if k is None:
        return r"\,\mathrm{polylog}(1/\varepsilon)"
    if k == 0:
        return ""
    return r"\log^{" + str(k) + r"}(1/\varepsilon)"


def constant_digits(value: float, error: float) -> int:
    """Significant digits of ``value`` that its ``error`` leaves meaningful (one past the
    error's leading digit; 15 when the error is 0 or not finite)."""
    if not (isfinite(error) and error > 0 and isfinite(value) and value != 0):
        return 15
    return min(15, max(1, floor(log10(abs(value))) - floor(log10(error)) + 2))


def significant_text(value: float, digits: int) -> str:
    """``value`` to ``digits`` significant digits, trailing zeros kept (−2.40e+04, −176.000):
    the zeros are digits the error vouches for."""
    text = format(value, f"#.{digits}g")
    return text.replace(".e", "e").removesuffix(".")


def value_with_error(value: float, error: float) -> tuple[str, str]:
    """(value, error) as text: the value to the digits its error leaves, the error to two."""
    return significant_text(value, constant_digits(value, error)), significant_text(error, 2)


def latex_decimal(text: str) -> str:
    """A decimal from :func:`significant_text` in LaTeX: 2.40e+04 → 2.40 \\cdot 10^{4}."""
    mantissa, _, exponent = text.partition("e")
    return mantissa if not exponent else rf"{mantissa} \cdot 10^{{{int(exponent)}}}"


def expansion_latex(
    expansion: EscapeExpansion, constant: float | None = None, constant_error: float | None = None
) -> str:
    """T(ε) = Σ terms + C + O(ε^p) as a LaTeX equation (exact coefficients where known); C with
    its error bar when one is given (and only the digits it leaves)."""
    eps = sp.Symbol("varepsilon", positive=True)
    pieces = []
    for t in expansion.terms:
        coeff = t.exact if t.exact is not None else sp.Float(float(t.value), 15)
        factor = eps**t.power * sp.log(1 / eps) ** t.log_power
        pieces.append(sp.latex(coeff) if factor == 1 else
                      rf"\left({sp.latex(coeff)}\right) {sp.latex(factor)}")
    pieces.append("C")
    text = (
        "T(\\varepsilon) = " + " + ".join(pieces)
        + f" + O(\\varepsilon^{{{expansion.remainder_power}}}"
        + latex_log_factor(expansion.remainder_log_power)
        + ")"
    )
    if constant is not None and constant_error is not None:
        value, error = (latex_decimal(t) for t in value_with_error(constant, constant_error))
        text += f",\\quad C = {value} \\pm {error}"
    elif constant is not None:
        text += f",\\quad C \\approx {constant:.12g}"
    if expansion.uses_moment_symbols:
        # class D: the expansion is the centred σ̃'s (expansion.activation names σ itself)
        sigma = r"\tilde\sigma" if expansion.centred else r"\sigma"
        text += rf",\quad m_j = \mathbb{{E}}[{sigma}(s)\, s^j]"
    return text


# --- formal first integrals -------------------------------------------------------------------


def _lie(poly: dict, field: tuple, depth: int) -> dict:
    """∇G·F for G = Σ c_α X^α and F_l = Σ f_{l,β} X^β (dicts of exponent tuples)."""
    out: dict = {}
    for alpha, c in poly.items():
        for l in range(depth):
            if alpha[l] == 0:
                continue
            lowered = list(alpha)
            lowered[l] -= 1
            for beta, f in field[l].items():
                key = tuple(x + y for x, y in zip(lowered, beta, strict=True))
                out[key] = out.get(key, 0) + c * alpha[l] * f
    return out


@dataclass(frozen=True)
class FirstIntegrals:
    """I_j = X_{j+1}² − X_j² + I_j¹ (j = 1..L−1), ∇I_j·F = O(|X|^{L+d'}) (MATH.md §12).

    ``exact[j]``: I_j as a SymPy polynomial in X (moment symbols m_k, K); ``numeric[j]``: its
    coefficients (dict α → mpf); ``drift[j]`` = (2 + d_1, 2 + d') with d the degree of the first
    non-vanishing term of ∇I·F̂ on the balanced ray (relative to L − 1), before and after the
    correction: along a trajectory from the balanced ray ΔI_j ∝ ρ^{drift}."""

    depth: int
    gap: int
    exact: tuple
    numeric: tuple
    drift: tuple


@lru_cache(maxsize=32)
def first_integrals(
    spec: str | sp.Expr | Activation, depth: int, amplitude: float = 1.0, extra: int = 3
) -> FirstIntegrals:
    """Formal first integrals to first order: ∇I¹·F̂⁰ = −∇I⁰·F̂^{d_1} solved in homogeneous
    polynomials of degree 2 + d_1 (the homological equation with right side 0 at leading order;
    solvable for every class tested; the free part, functions of the leading invariants, is set
    to 0).

    Raises:
        NumericalError: the homological equation has no polynomial solution.
        (validation errors as :func:`escape_expansion`)
    """
    import itertools

    extra = require_int(extra, "extra", minimum=0)
    cls = classify(spec)
    gap = correction_gap(cls)
    exact_amplitude = rationalize_floats(as_expression(amplitude, "amplitude"))  # a string: refused
    field = field_expansion(cls, depth, exact_amplitude, gap + extra)
    X = chain_symbols(depth)
    parts = tuple(
        tuple({a: c.as_expr() for a, c in comp.items()} for comp in part) for part in field.parts
    )
    numeric_parts = _numeric_parts(field, 40)
    degree = 2 + gap
    monomials = [
        m for m in itertools.product(range(degree + 1), repeat=depth) if sum(m) == degree
    ]
    unknowns = sp.symbols(f"u0:{len(monomials)}")
    exact_out, numeric_out, drift_out = [], [], []
    symbols = list(field.coefficients.symbols)
    for j in range(depth - 1):
        base = {
            tuple(2 if m == j + 1 else 0 for m in range(depth)): sp.Integer(1),
            tuple(2 if m == j else 0 for m in range(depth)): sp.Integer(-1),
        }
        target = _lie(base, parts[gap], depth)
        trial = {m: u for m, u in zip(monomials, unknowns, strict=True)}
        image = _lie(trial, parts[0], depth)
        equations = [
            sp.expand(image.get(k, 0) + target.get(k, 0)) for k in set(image) | set(target)
        ]
        solution = sp.linsolve([e for e in equations if e != 0], unknowns)
        if not solution:
            raise NumericalError(f"no polynomial first integral I_{j + 1} at first order")
        (values_u,) = solution
        free = {u: 0 for u in unknowns}
        correction = {
            m: sp.expand(as_expression(v).xreplace(free))
            for m, v in zip(monomials, values_u, strict=True)
        }
        poly = {**base, **{m: c for m, c in correction.items() if c != 0}}
        names = {s: sp.Symbol(str(s)) for s in symbols}
        exact_out.append(
            sp.Add(
                *(
                    _exact_coefficient(field, c.xreplace(names))
                    * sp.Mul(*(x**p for x, p in zip(X, m, strict=True)))
                    for m, c in poly.items()
                )
            )
        )
        with mpmath.workdps(50):
            values = _generator_values(field, 1)
            kernel = mpmath_kernel(list(poly.values()), symbols)  # one function, every c
            numeric = {
                m: mpmath.mpf(v) for m, v in zip(poly, kernel(*values), strict=True)
            }
        numeric_out.append(numeric)
        drift_out.append(
            (
                _drift_degree(base, numeric_parts, depth),
                _drift_degree(numeric, numeric_parts, depth),
            )
        )
    return FirstIntegrals(depth, gap, tuple(exact_out), tuple(numeric_out), tuple(drift_out))


def _exact_coefficient(field: FieldExpansion, expr: sp.Expr) -> sp.Expr:
    """A coefficient in the ring's generator names, with the exact values substituted."""
    subs = {}
    for gen in field.coefficients.symbols:
        name = str(gen)
        if name in field.exact:
            subs[sp.Symbol(name)] = field.exact[name]
        elif name == "iK":
            c1 = field.exact["c_1"]
            subs[sp.Symbol(name)] = 1 / (
                field.constants.amplitude * moment_symbol(1) * c1 ** (field.depth - 1)
            )
        elif name != "lnrho":
            subs[sp.Symbol(name)] = sp.Symbol(name, real=True)
    return sp.simplify(expr.xreplace(subs))


def _drift_degree(poly: dict, numeric_parts: tuple, depth: int) -> int | None:
    """deg(∇I·F̂) − (L − 2) for the lowest total degree at which ∇I·F̂ ≠ 0 at X = 𝟏: along a
    trajectory near the balanced ray ΔI ∝ ρ^{this} (None when none within the parts built)."""
    with mpmath.workdps(50):
        by_degree: dict[int, mpmath.mpf] = {}
        for part in numeric_parts:
            for alpha, value in _lie(poly, part, depth).items():
                by_degree[sum(alpha)] = by_degree.get(sum(alpha), 0) + value
        top = max(abs(poly[k]) for k in poly)
        built = depth + len(numeric_parts) - 1  # degrees beyond miss higher parts
        for degree in sorted(by_degree):
            if degree > built:
                break
            if abs(by_degree[degree]) > mpmath.mpf(10) ** -25 * top:
                return degree - (depth - 2)
    return None
