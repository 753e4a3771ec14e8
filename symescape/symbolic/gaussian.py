"""Gaussian expectations E_s[g(s)], s ~ N(0, 1), three ways (the rules and the numeric
expectations are in :mod:`symescape.precision.gauss`).

- :func:`expectation_gauss_hermite`: probabilists' Gauss–Hermite quadrature in NumPy (fast path);
- :func:`expectation_mpmath`: adaptive tanh-sinh quadrature in mpmath at a chosen precision;
- :func:`expectation_exact`: SymPy's exact integral, attempted only for integrands it can close
  quickly (polynomials, exp, sin, cos, sinh, cosh, erf of s times the Gaussian).

Everything later in symescape computes expectations through this module.
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache

import mpmath
import sympy as sp

from symescape.precision.gauss import (
    DEFAULT_DPS,
    DEFAULT_NODES,
    expectation_gauss_hermite,
    expectation_mpmath,
)


class ExpectationMethod(Enum):
    """How to compute a Gaussian expectation."""

    GAUSS_HERMITE = "gauss-hermite"
    MPMATH = "mpmath"
    EXACT = "exact"


_EXACT_FUNCTIONS = (sp.exp, sp.sin, sp.cos, sp.sinh, sp.cosh, sp.erf, sp.erfc)


def _closable(expr: sp.Expr, s: sp.Symbol) -> bool:
    """Whether SymPy can integrate ``expr · exp(-s²/2)`` over R quickly: a whitelist."""
    for node in sp.preorder_traversal(expr):
        if not node.has(s) or node.is_Symbol or node.is_Add or node.is_Mul:
            continue
        if node.is_Pow:
            if node.base.has(s) and not (node.exp.is_Integer and node.exp >= 0):
                return False
            if node.exp.has(s):
                return False
        elif isinstance(node, _EXACT_FUNCTIONS):
            if not sp.Poly(node.args[0], s).degree() <= (2 if node.func is sp.exp else 1):
                return False
        else:
            return False
    return True


_T = sp.Symbol("t", positive=True)


@lru_cache(maxsize=4096)
def _exact_term(term: sp.Expr, s: sp.Symbol, half_line: bool = False) -> sp.Expr | None:
    density = sp.exp(-(s**2) / 2) / sp.sqrt(2 * sp.pi)
    lower = 0 if half_line else -sp.oo
    result = sp.integrate(term * density, (s, lower, sp.oo))
    if result.has(sp.Integral) or result.has(sp.oo, -sp.oo, sp.zoo, sp.nan):
        return None
    return result


def _exact_sum(expr: sp.Expr, s: sp.Symbol, half_line: bool) -> sp.Expr | None:
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(expr)):
        value = _exact_term(term, s, half_line)
        if value is None:
            return None
        total += value
    return total


def expectation_exact(expr: sp.Expr, s: sp.Symbol) -> sp.Expr | None:
    """E_s[g(s)] exactly, or None when the integrand is outside the closable whitelist or SymPy
    returns an unevaluated integral.

    Integrands are expanded and integrated term by term (each term cached): SymPy is far faster on
    a product than on a long sum. Piecewise integrands (ReLU) are split at 0, their only kink in
    symescape's uses: substituting s = ±t with t > 0 resolves Max/Abs/Piecewise on each half-line.
    """
    expr = sp.sympify(expr)
    if not expr.has(s):
        return expr
    piecewise = any(expr.has(h) for h in (sp.Max, sp.Min, sp.Abs, sp.Piecewise, sp.Heaviside))
    halves = [expr.xreplace({s: _T}), expr.xreplace({s: -_T})] if piecewise else [expr]
    halves = [sp.piecewise_fold(h.rewrite(sp.Piecewise)) if piecewise else h for h in halves]
    variable = _T if piecewise else s
    try:
        if any(h.has(sp.Piecewise) or not _closable(sp.expand(h), variable) for h in halves):
            return None
    except sp.PolynomialError:
        return None
    total = sp.Integer(0)
    for half in halves:
        value = _exact_sum(half, variable, half_line=piecewise)
        if value is None:
            return None
        total += value
    return sp.simplify(total)


def gaussian_expectation(
    expr: sp.Expr,
    s: sp.Symbol,
    method: ExpectationMethod = ExpectationMethod.GAUSS_HERMITE,
    *,
    nodes: int = DEFAULT_NODES,
    dps: int = DEFAULT_DPS,
) -> float | mpmath.mpf | sp.Expr | None:
    """E_s[g(s)] for a SymPy expression g in ``s``, by the chosen method.

    Returns a float (Gauss–Hermite), an mpf (mpmath) or a SymPy expression / None (exact).
    """
    from symescape.codegen import broadcast_outputs, mpmath_kernel, numpy_kernel

    method = ExpectationMethod(method)
    if method is ExpectationMethod.EXACT:
        return expectation_exact(expr, s)
    if method is ExpectationMethod.MPMATH:
        kernel = mpmath_kernel([expr], [s])
        return expectation_mpmath(lambda x: kernel(x)[0], dps=dps)
    kernel = numpy_kernel([expr], [s])
    # Kinks of piecewise expressions (ReLU) sit at 0 in every use symescape makes of them.
    split = any(expr.has(head) for head in (sp.Max, sp.Min, sp.Abs, sp.Piecewise, sp.Heaviside))
    return float(
        expectation_gauss_hermite(
            lambda x: broadcast_outputs(kernel(x), x)[0], nodes, split_at_zero=split
        )
    )
