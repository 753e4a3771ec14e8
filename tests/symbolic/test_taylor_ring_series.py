"""The ring-series fast path of the Taylor coefficients against SymPy's ``series``."""

from __future__ import annotations

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from symescape import classify
from symescape.symbolic.activations import Z
from symescape.symbolic.taylor import RING_SERIES_HEADS, ring_series_polynomial

ORDER = 7


def compositions() -> st.SearchStrategy[sp.Expr]:
    """z scaled by a rational, then heads, sums, products and small powers, nested."""
    leaves = st.sampled_from([Z, Z / 2, 3 * Z, -Z, Z + Z**2])

    def extend(children: st.SearchStrategy[sp.Expr]) -> st.SearchStrategy[sp.Expr]:
        head = st.sampled_from(RING_SERIES_HEADS)
        return st.one_of(
            st.builds(lambda f, u: f(u), head, children),
            st.builds(lambda u, v: u + v, children, children),
            st.builds(lambda u, v: u * v, children, children),
            st.builds(lambda u, k: u**k, children, st.integers(2, 3)),
        )

    return st.recursive(leaves, extend, max_leaves=4)


@given(compositions())
def test_the_ring_series_is_the_series_wherever_it_answers(expr: sp.Expr) -> None:
    fast = ring_series_polynomial(expr, ORDER)
    if fast is None:  # declined (outside its grammar after SymPy's rewriting) or failed
        return
    slow = sp.series(expr, Z, 0, ORDER + 1).removeO()
    difference = sp.expand(fast - slow)
    # terms past z^ORDER may differ (either may carry some): compare up to the order
    low = [t for t in sp.Add.make_args(difference) if t != 0 and sp.degree(t, Z) <= ORDER]
    assert not low, (expr, fast, slow)


def test_cases_the_property_test_found() -> None:
    # the ring series gave 0 for sin((z² + z)²): its check refutes it (series then answers);
    # for tanh(cos z) its coefficients hold tanh(1), which the check once could not evaluate
    assert ring_series_polynomial(sp.sin((Z**2 + Z) ** 2), ORDER) is None
    fast = ring_series_polynomial(sp.tanh(sp.cos(Z)), ORDER)
    slow = sp.series(sp.tanh(sp.cos(Z)), Z, 0, ORDER + 1).removeO()
    assert fast is not None and sp.simplify(fast - slow) == 0


@pytest.mark.parametrize(
    "expr",
    [
        sp.sqrt(1 - Z**2),  # SymPy's cos(asin z): the ring series expanded it wrongly
        1 / (1 + Z**2),
        sp.erf(Z),
        sp.tanh(Z) + sp.Float(0.5) * Z,
        sp.log(1 + Z),
    ],
)
def test_the_ring_series_declines_outside_its_grammar(expr: sp.Expr) -> None:
    assert ring_series_polynomial(expr, ORDER) is None


def test_tanh_nested_ten_times_classifies_with_its_exact_cubic_coefficient() -> None:
    # 81 s through series (its trigsimp), a fraction of a second by the ring series (measured,
    # not asserted): each tanh adds −1/3 to the cubic coefficient of the composition
    text = "x"
    for _ in range(10):
        text = f"tanh({text})"
    result = classify(text)
    assert (result.q, result.cq) == (3, sp.Rational(-10, 3))
