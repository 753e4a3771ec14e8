"""Gaussian moments of an activation, Hermite coefficients and μ₁ (MATH.md §3), as exact-or-precise
constants.

    m_k = E_s[σ(s) s^k],   μ_k = E_s[σ(s) He_k(s)] = E_s[σ^{(k)}(s)] (Stein),   μ₁ = E[σ'(s)].

Each is a :class:`Constant`: the exact SymPy value where SymPy closes the integral, and always an
mpmath value to ≥ 30 digits. The exact route goes through Stein's lemma,
``E[σ s^k] = Σ_m k!/(m! 2^m (k-2m)!) E[σ^{(k-2m)}]``, whose derivative integrals SymPy closes
quickly; the mpmath route integrates σ(s) s^k directly, so the two are independent.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import factorial

import mpmath
import sympy as sp

from symescape.codegen import mpmath_kernel
from symescape.precision.gauss import DEFAULT_DPS, expectation_mpmath
from symescape.symbolic.activations import Activation, Z
from symescape.symbolic.gaussian import expectation_exact

S = sp.Symbol("s", real=True)
"""Integration variable of the Gaussian expectations, s ~ N(0, 1)."""


@dataclass(frozen=True)
class Constant:
    """A real constant: its exact SymPy form (None when unknown) and an mpmath value.

    ``value`` carries at least ``DEFAULT_DPS - 5`` correct digits.
    """

    exact: sp.Expr | None
    value: mpmath.mpf

    def __float__(self) -> float:
        return float(self.value)

    @property
    def is_exact(self) -> bool:
        return self.exact is not None

    def latex(self, digits: int = 15) -> str:
        """The exact form in LaTeX, or the value to ``digits`` significant digits."""
        if self.exact is not None:
            return sp.latex(self.exact)
        return mpmath.nstr(self.value, digits)

    def __str__(self) -> str:
        if self.exact is not None:
            return str(self.exact)
        return mpmath.nstr(self.value, 20)

    @classmethod
    def from_exact(cls, exact: sp.Expr, dps: int = DEFAULT_DPS) -> Constant:
        with mpmath.workdps(dps + 10):
            value = mpmath.mpf(sp.N(exact, dps + 10))
        return cls(sp.nsimplify(exact) if exact.is_Float else exact, value)


def linear_combination(terms: list[tuple[sp.Expr, Constant]]) -> Constant:
    """Σ a_i C_i for exact coefficients a_i; exact when every C_i is."""
    with mpmath.workdps(DEFAULT_DPS + 10):
        value = mpmath.fsum(mpmath.mpf(sp.N(a, DEFAULT_DPS + 10)) * c.value for a, c in terms)
    if all(c.exact is not None for _, c in terms):
        return Constant(sp.simplify(sum(a * c.exact for a, c in terms)), value)
    return Constant(None, value)


def product(*factors: Constant | sp.Expr | int) -> Constant:
    """The product of constants and exact numbers; exact when every factor is."""
    exact: sp.Expr | None = sp.Integer(1)
    with mpmath.workdps(DEFAULT_DPS + 10):
        value = mpmath.mpf(1)
        for f in factors:
            if isinstance(f, Constant):
                value *= f.value
                exact = None if (exact is None or f.exact is None) else exact * f.exact
            else:
                value *= mpmath.mpf(sp.N(f, DEFAULT_DPS + 10))
                exact = None if exact is None else exact * f
    return Constant(None if exact is None else sp.simplify(exact), value)


def quotient(numerator: Constant, denominator: Constant) -> Constant:
    """numerator / denominator; exact when both are."""
    with mpmath.workdps(DEFAULT_DPS + 10):
        value = numerator.value / denominator.value
    exact = None
    if numerator.exact is not None and denominator.exact is not None:
        exact = sp.simplify(numerator.exact / denominator.exact)
    return Constant(exact, value)


def _sigma_of_s(act: Activation) -> sp.Expr:
    return act.expr.xreplace({Z: S})


@lru_cache(maxsize=1024)
def _mpmath_moment(expr: sp.Expr, k: int, dps: int) -> mpmath.mpf:
    kernel = mpmath_kernel([expr * S**k], [S])
    return expectation_mpmath(lambda s: kernel(s)[0], dps=dps)


@lru_cache(maxsize=1024)
def derivative_expectation_exact(act: Activation, j: int) -> sp.Expr | None:
    """E[σ^{(j)}(s)] exactly (None when SymPy does not close it)."""
    return expectation_exact(sp.diff(_sigma_of_s(act), S, j), S)


@lru_cache(maxsize=1024)
def _stein_exact_moment(act: Activation, k: int) -> sp.Expr | None:
    # s^k = Σ_m k!/(m! 2^m (k-2m)!) He_{k-2m}(s) and E[σ He_j] = E[σ^{(j)}].
    total = sp.Integer(0)
    for m in range(k // 2 + 1):
        coefficient = sp.Rational(factorial(k), factorial(m) * 2**m * factorial(k - 2 * m))
        term = derivative_expectation_exact(act, k - 2 * m)
        if term is None:
            return None
        total += coefficient * term
    return sp.simplify(total)


@lru_cache(maxsize=1024)
def gaussian_moment(act: Activation, k: int, dps: int = DEFAULT_DPS) -> Constant:
    """m_k = E_s[σ(s) s^k], exact where SymPy closes it, and always to ``dps`` digits by mpmath.

    >>> gaussian_moment(activation("sin"), 1).exact
    exp(-1/2)
    """
    if k < 0:
        raise ValueError(f"moment order must be ≥ 0, got {k}")
    exact = _direct_or_stein_exact(act, k)
    return Constant(exact, _mpmath_moment(_sigma_of_s(act), k, dps))


def _direct_or_stein_exact(act: Activation, k: int) -> sp.Expr | None:
    from symescape.symbolic.taylor import is_piecewise_defined

    if is_piecewise_defined(act):
        # Derivatives of kinks are distributions: integrate σ(s) s^k directly instead.
        return expectation_exact(_sigma_of_s(act) * S**k, S)
    return _stein_exact_moment(act, k)


def hermite_moment(act: Activation, k: int, dps: int = DEFAULT_DPS) -> Constant:
    """μ_k = E_s[σ(s) He_k(s)] (probabilists' Hermite; σ = Σ_k μ_k He_k / k!)."""
    he = sp.hermite_prob(k, S) if hasattr(sp, "hermite_prob") else _he(k)
    poly = sp.Poly(he, S)
    terms = [(c, gaussian_moment(act, int(m[0]), dps)) for m, c in poly.terms()]
    return linear_combination(terms)


def _he(k: int) -> sp.Expr:
    return sp.expand(2 ** (-sp.Rational(k, 2)) * sp.hermite(k, S / sp.sqrt(2)))


def mu1(act: Activation, dps: int = DEFAULT_DPS) -> Constant:
    """μ₁ = E_s[σ'(s)] = E_s[σ(s) s], the first Hermite coefficient (the paper's γ in §5)."""
    return gaussian_moment(act, 1, dps)
