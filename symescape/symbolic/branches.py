"""Branches fixed on all of ℝ: |u|, max, min and sign whose choice never changes.

    |u| = u where u ≥ 0 on ℝ (|2 + sin z| = 2 + sin z),  min(a, b, …) drops b where a ≤ b on
    ℝ (min(tanh z, 2) = tanh z),  sign(u) = 1 where u > 0 on ℝ,

and the mirror cases. Such a σ is analytic (MATH.md §0 needs σ analytic at 0, or continuous
and piecewise-linear), but written with a piecewise head it would be refused as not analytic.
The sign of u on ℝ is decided by interval arithmetic over ℝ, else by SymPy's ``solveset`` (an
empty solution set of u < 0) under a time budget, and confirmed on a grid of [-24, 24];
anything undecided keeps its head.
"""

from __future__ import annotations

import operator
from functools import lru_cache

import mpmath
import sympy as sp

from symescape.errors import TimeBudgetError
from symescape.symbolic.budget import time_budget

BRANCH_SECONDS = 2.0
"""Time budget of one ``solveset`` deciding the sign of a branch argument on ℝ."""

_HEADS = (sp.Abs, sp.Max, sp.Min, sp.sign)


@lru_cache(maxsize=256)
def resolve_fixed_branches(expr: sp.Expr, z: sp.Symbol) -> sp.Expr:
    """``expr`` with every |u|, max(a, b), min(a, b) and sign(u) whose branch is the same on all
    of ℝ replaced by that branch (innermost first).

    >>> z = sp.Symbol("z", real=True)
    >>> resolve_fixed_branches(sp.Min(sp.tanh(z), 2) + sp.Abs(2 + sp.sin(z)), z)
    sin(z) + tanh(z) + 2
    >>> resolve_fixed_branches(sp.Max(0, z), z)
    Max(0, z)
    """
    if not expr.has(*_HEADS):
        return expr
    return _resolve(expr, z)


def _resolve(expr: sp.Basic, z: sp.Symbol) -> sp.Basic:
    if not expr.args:
        return expr
    args = tuple(_resolve(arg, z) for arg in expr.args)
    node = expr.func(*args) if args != expr.args else expr
    return _fixed_branch(node, z) if isinstance(node, _HEADS) else node


def _fixed_branch(node: sp.Expr, z: sp.Symbol) -> sp.Expr:
    if isinstance(node, sp.Abs):
        u = node.args[0]
        if _never(u, z, sp.StrictLessThan):
            return u
        if _never(u, z, sp.StrictGreaterThan):
            return -u
    elif isinstance(node, sp.sign):
        u = node.args[0]
        if _never(u, z, sp.LessThan):
            return sp.S.One
        if _never(u, z, sp.GreaterThan):
            return sp.S.NegativeOne
    else:  # Max(a, b, …), Min(a, b, …): drop every argument another one dominates on ℝ
        larger = isinstance(node, sp.Max)
        relation = sp.StrictLessThan if larger else sp.StrictGreaterThan
        kept = list(node.args)
        for candidate in node.args:
            others = [other for other in kept if other is not candidate]
            # Max: candidate is never chosen where some other − candidate < 0 nowhere
            if others and any(_never(other - candidate, z, relation) for other in others):
                kept = others
        if len(kept) < len(node.args):
            return kept[0] if len(kept) == 1 else node.func(*kept)
    return node


def _never(u: sp.Expr, z: sp.Symbol, relation: type[sp.Rel]) -> bool:
    """Whether ``relation(u, 0)`` holds nowhere on ℝ: interval bounds or solveset show it, and a
    grid of [-24, 24] agrees (a guard against a wrong empty set)."""
    if not u.has(z):
        return bool(relation(u, 0) == sp.false)
    step = f"sign of {sp.sstr(u)[:60]} on ℝ"
    try:
        with time_budget(step, BRANCH_SECONDS):
            empty = _bounded_away(u, z, relation) or (
                sp.solveset(relation(u, 0), z, sp.S.Reals) is sp.S.EmptySet
            )
    except TimeBudgetError as exc:
        if exc.step != step:
            raise
        return False
    except (NotImplementedError, ValueError, TypeError):
        return False
    return empty and not _holds_on_grid(u, z, relation)


def _bounded_away(u: sp.Expr, z: sp.Symbol, relation: type[sp.Rel]) -> bool:
    """Whether interval arithmetic over ℝ (SymPy's AccumBounds, which over-approximates the range)
    shows ``relation(u, 0)`` false everywhere: z² + 2 − sin z ∈ [1, ∞), where solveset gives up."""
    bounded = u.replace(  # ranges SymPy's AccumBounds do not evaluate
        lambda node: isinstance(node, sp.tanh | sp.erf), lambda node: sp.AccumBounds(-1, 1)
    ).replace(
        lambda node: isinstance(node, sp.atan), lambda node: sp.AccumBounds(-sp.pi / 2, sp.pi / 2)
    )
    bound = bounded.subs(z, sp.AccumBounds(-sp.oo, sp.oo))
    if not isinstance(bound, sp.AccumBounds):
        return False
    low, high = bound.min, bound.max
    decided = {
        sp.StrictLessThan: low >= 0,
        sp.StrictGreaterThan: high <= 0,
        sp.LessThan: low > 0,
        sp.GreaterThan: high < 0,
    }[relation]
    return decided is sp.true


_COMPARE = {
    sp.StrictLessThan: operator.lt,
    sp.StrictGreaterThan: operator.gt,
    sp.LessThan: operator.le,
    sp.GreaterThan: operator.ge,
}


def _holds_on_grid(u: sp.Expr, z: sp.Symbol, relation: type[sp.Rel]) -> bool:
    from symescape.codegen import mpmath_kernel

    kernel, compare = mpmath_kernel([u], [z]), _COMPARE[relation]
    with mpmath.workdps(30):
        for k in range(-1200, 1201):
            try:
                value = mpmath.mpmathify(kernel(mpmath.mpf(k) / 50)[0])
            except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                return True  # undefined somewhere: do not decide
            if mpmath.im(value) != 0 or compare(mpmath.re(value), 0):
                return True
    return False
