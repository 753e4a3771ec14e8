"""Filtered composition (MATH.md §5, Lemma 15): the monomials of the scalar chain f and of the
reduced field F, each with the activations where it takes a nonlinear branch.

Each activation m is tagged: σ(z) → c_1 z + t_m Σ_{k≥2} c_k z^k. A monomial's tag exponents say
which activations contribute a nonlinear insertion; its first insertion is the smallest such m,
its weighted degree the total degree in the X_l. The bounds checked here:

    linear path: degree L;  first insertion at m: degree ≥ L + m(q-1).

Field monomials use placeholder symbols m_j = E[σ(s) s^j] and e_j = E[s^j] (exact), so that
degrees are read off symbolically. The truncation keeps every monomial of degree ≤ max_degree
exact: Taylor order max_degree - L + 1 suffices, since an order-k insertion costs k - 1 degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symescape.errors import ConfigurationError
from symescape.options import hashable_cache
from symescape.symbolic.activations import Activation
from symescape.symbolic.chain import chain_symbols
from symescape.symbolic.classification import ActivationClass, classify
from symescape.symbolic.moments import S
from symescape.symbolic.taylor import taylor_coefficients


@dataclass(frozen=True)
class Monomial:
    """coefficient · Π X_l^{powers[l]} · s^{s_power}; ``insertions`` the activations with a
    nonlinear branch (1-based), ``first_insertion`` their minimum (None for the linear path)."""

    coefficient: sp.Expr
    powers: tuple[int, ...]
    s_power: int
    insertions: tuple[int, ...]

    @property
    def degree(self) -> int:
        return sum(self.powers)

    @property
    def first_insertion(self) -> int | None:
        return min(self.insertions) if self.insertions else None


def _tags(depth: int) -> tuple[sp.Symbol, ...]:
    return tuple(sp.Symbol(f"t_{m}") for m in range(1, depth))


@hashable_cache(maxsize=64)
def tagged_chain(spec: str | sp.Expr | Activation, depth: int, max_degree: int) -> sp.Expr:
    """f with tagged, truncated Taylor activations, expanded and truncated at total X-degree
    ``max_degree`` (class D: the centred activation)."""
    cls = classify(spec)
    if cls.activation_class is ActivationClass.PIECEWISE_LINEAR:
        raise ConfigurationError("filtered composition needs an analytic activation")
    act = cls.chain_activation
    if max_degree < depth:
        raise ConfigurationError(f"max_degree must be ≥ L = {depth}")
    order = max(max_degree - depth + 1, 1)
    c = taylor_coefficients(act, order)
    X, tags = chain_symbols(depth), _tags(depth)
    h = S
    for m in range(1, depth):
        z = sp.expand(X[m - 1] * h)
        nonlinear = sum((c[k] * z**k for k in range(2, order + 1)), sp.Integer(0))
        h = _truncate(sp.expand(c[1] * z + tags[m - 1] * nonlinear), X, max_degree)
    return _truncate(sp.expand(X[-1] * h), X, max_degree)


def _truncate(expr: sp.Expr, X: tuple[sp.Symbol, ...], max_degree: int) -> sp.Expr:
    poly = sp.Poly(expr, *X)
    return sum(
        (
            coeff * sp.Mul(*(x**p for x, p in zip(X, powers, strict=True)))
            for powers, coeff in poly.terms()
            if sum(powers) <= max_degree
        ),
        sp.Integer(0),
    )


def chain_monomials(
    spec: str | sp.Expr | Activation, depth: int, max_degree: int
) -> list[Monomial]:
    """The monomials of f up to total X-degree ``max_degree``, with their insertions.

    f = c_1^{L-1} P s + O(|X|^{L+q-1}); an insertion at activation m has degree ≥ L + m(q−1)
        (MATH.md §5).
    """
    expr = tagged_chain(spec, depth, max_degree)
    X, tags = chain_symbols(depth), _tags(depth)
    out = []
    for powers, coeff in sp.Poly(expr, *X, S, *tags).terms():
        tag_powers = powers[depth + 1 :]
        insertions = tuple(m + 1 for m, p in enumerate(tag_powers) if p > 0)
        out.append(Monomial(coeff, tuple(powers[:depth]), powers[depth], insertions))
    return out


def check_degree_bounds(spec: str | sp.Expr | Activation, depth: int, max_degree: int) -> list[str]:
    """Violations of the MATH.md §5 bounds (an insertion first at activation m has degree
    ≥ L + m(q−1)) among f's monomials (empty when they hold)."""
    q = classify(spec).q
    problems = []
    for mono in chain_monomials(spec, depth, max_degree):
        m = mono.first_insertion
        bound = depth if m is None else depth + m * (q - 1)
        if mono.degree < bound:
            problems.append(f"{mono}: degree {mono.degree} < {bound}")
        if m is None and mono.degree != depth:
            problems.append(f"linear-path monomial of degree {mono.degree} ≠ L")
    return problems


def moment_symbols(count: int) -> tuple[tuple[sp.Symbol, ...], tuple[sp.Symbol, ...]]:
    """Placeholders m_j = E[σ(s) s^j] and e_j = E[s^j], j < count."""
    return (
        tuple(sp.Symbol(f"m_{j}") for j in range(count)),
        tuple(sp.Symbol(f"e_{j}") for j in range(count)),
    )


def field_polynomial(
    spec: str | sp.Expr | Activation,
    depth: int,
    max_degree: int,
    amplitude: sp.Expr | int = 1,
) -> tuple[sp.Expr, ...]:
    """F_l = E[(a σ(s) - f) ∂_l f] up to total X-degree ``max_degree``, with the Gaussian
    expectations left as m_j, e_j (tags set to 1). Exact for degrees ≤ max_degree.

    dX_l/dt = K P/X_l + O(|X|^{L+q-2}),  K = a μ₁ c_1^{L-1}  (MATH.md §5).
    """
    X = chain_symbols(depth)
    amplitude = sp.sympify(amplitude, strict=True)
    # ∂_l f has degree one less than f: expand f one degree further.
    f = tagged_chain(spec, depth, max_degree + 1).subs({t: 1 for t in _tags(depth)})
    s_degree = sp.Poly(f, S).degree()
    m, e = moment_symbols(2 * s_degree + 2)
    field = []
    for x in X:
        grad = sp.expand(sp.diff(f, x))
        teacher = sum(
            (amplitude * coeff * m[k] for (k,), coeff in sp.Poly(grad, S).terms()), sp.Integer(0)
        )
        product = sp.Poly(sp.expand(f * grad), S)
        self_term = sum((coeff * e[k] for (k,), coeff in product.terms()), sp.Integer(0))
        field.append(_truncate(sp.expand(teacher - self_term), X, max_degree))
    return tuple(field)


def lowest_degree(expr: sp.Expr, variables: tuple[sp.Symbol, ...]) -> int | None:
    """The smallest total degree in ``variables`` among expr's monomials (None for 0)."""
    expr = sp.expand(expr)
    if expr == 0:
        return None
    return min(sum(p) for p in sp.Poly(expr, *variables).monoms())
