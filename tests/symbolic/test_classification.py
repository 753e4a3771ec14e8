"""Activation algebra (issue 2): the classification table, properties, and bad input."""

import re
from math import factorial

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from symescape import (
    ActivationClass,
    ActivationError,
    ConfigurationError,
    NotAnalyticError,
    NotRealFunctionError,
    TimeBudgetError,
    Z,
    activation,
    classify,
    first_nonlinear_order,
    is_odd,
    phi_coefficients,
    phi_expression,
    taylor_coefficients,
)
from symescape.symbolic.budget import default_budget
from symescape.symbolic.taylor import acot_zeros

A, B, C, D = ActivationClass.A, ActivationClass.B, ActivationClass.C, ActivationClass.D


@pytest.mark.parametrize(
    "spec, cls, q, centred",
    [
        ("tanh", B, 3, None),
        ("erf", B, 3, None),
        ("sin", B, 3, None),
        ("atan", B, 3, None),
        ("gelu", C, 2, None),
        ("swish", C, 2, None),
        ("silu", C, 2, None),
        ("sigmoid", D, 3, B),
        ("softplus", D, 2, C),
        ("linear", A, None, None),
        ("x - x**3", B, 3, None),
        ("sin(x) + x**3/6", B, 5, None),
        ("x + x**4", ActivationClass.OUTSIDE, 4, None),
    ],
)
def test_classification_table(spec, cls, q, centred):
    result = classify(spec)
    assert result.activation_class is cls
    assert result.q == q
    if centred is None:
        assert result.centred is None
    else:
        assert result.centred.activation_class is centred


@pytest.mark.parametrize(
    "name", ["relu", "leaky_relu", "Abs(x)", "sign(x)*x", "max(x, 2*x - 1)", "min(x, 0) + abs(x)"]
)
def test_piecewise_linear(name):
    result = classify(name)
    assert result.activation_class is ActivationClass.PIECEWISE_LINEAR
    assert result.q is None and not result.in_hypothesis


@pytest.mark.parametrize(
    "text, analytic, label",
    [("Min(tanh(x), 2)", "tanh(z)", "B_3"), ("Max(tanh(x), -5)", "tanh(z)", "B_3"),
     ("Abs(2 + sin(x))", "sin(z) + 2", "D"), ("sign(2 + cos(x))*tanh(x)", "tanh(z)", "B_3"),
     ("Max(x**2 + 1, -x**2) - 1", "z**2", "C"),
     # three arguments (SymPy flattens nested ones), decided by interval bounds
     ("min(tanh(x), 2, 3 + sin(x))", "tanh(z)", "B_3"),
     ("max(max(x**2 + 2, sin(x)), cos(x)) - 2", "z**2", "C")],
)  # fmt: skip
def test_a_branch_that_never_changes_on_the_reals_is_resolved(text, analytic, label):
    # analytic functions written with a piecewise head were refused as not analytic at 0
    result = classify(text)
    assert str(result.activation.expr) == analytic and result.label == label


@pytest.mark.parametrize(
    "text, says",
    [("Min(tanh(x), 1/2)", "switches branch at z = log(sqrt(3)), away from 0"),
     ("x*Abs(x)", "not analytic at 0"), ("Max(0, x)**2", "not analytic at 0"),
     ("Max(x, sin(x))", "SymPy could not solve")],
)  # fmt: skip
def test_a_piecewise_refusal_says_where_the_branch_switches(text, says):
    # Min(tanh(x), 1/2) is analytic at 0 (its kink is at atanh(1/2)) and was refused as "not
    # analytic at 0"; Max(x, sin(x)) must not leak SymPy's NotImplementedError from solve
    with pytest.raises(NotAnalyticError, match=re.escape(says)):
        classify(text)


@pytest.mark.parametrize(
    "text, at",
    [("x + sign(x)", "0"), ("x + Heaviside(x)", "0"), ("x + Heaviside(x - 1)", "1"),
     ("relu(x) + sign(x + 1/2)", "-1/2"),
     # 1 on both sides of 0 and 0 at 0: the one-sided limits agree, the value does not
     ("sign(x)**2", "0"), ("Abs(sign(x))", "0"), ("relu(x) + sign(x - 2)**2", "2")],
)  # fmt: skip
def test_piecewise_linear_with_a_jump_is_refused(text, at):
    # each branch is affine, but σ is discontinuous: outside the theory, said with the point
    with pytest.raises(NotAnalyticError, match=f"jumps at z = {at}:"):
        classify(text)


@pytest.mark.parametrize(
    "text, heads",
    [("floor(x)", "floor jumps"), ("x + ceiling(x/2)", "ceiling jumps"),
     ("relu(x) + ceiling(x + 1/2) + floor(x)", "ceiling and floor jump")],
)  # fmt: skip
def test_integer_steps_are_refused_for_their_jumps(text, heads):
    # piecewise constant between integers: refused for the jumps, not as "not piecewise-linear"
    with pytest.raises(NotAnalyticError, match=f"refused: {heads} wherever the argument crosses"):
        classify(text)


@pytest.mark.parametrize(
    "text, at",
    [
        ("acot(x)", "0"),
        ("acot(x + 1)", "-1"),
        ("x*acot(x)", "0"),
        ("acot(x**3 - 8)", "2"),
        # three real roots that SymPy's radicals write with I (is_real undecided): they used to
        # be dropped, and the quadrature failed later with a misleading reason
        ("acot(x**3 - 3*x + 1)", "≈-1.87939, ≈0.347296, ≈1.53209"),
        ("acot(x**2*(x + 1))", "-1"),  # the double zero at 0 (u ≥ 0) does not jump
    ],
)
def test_acot_is_refused_where_its_argument_crosses_zero(text, at):
    # SymPy's acot(u) = atan(1/u) on the reals jumps at u = 0, while its series at 0 is the
    # continuous branch π/2 − atan(u): the class came from one function and μ₁ from the other
    # (acot gave μ₁ = +0.598 with c₁ = −1; the continuous branch has μ₁ = −0.656)
    with pytest.raises(NotAnalyticError, match=f"crosses 0, at z = {at}, so σ is not analytic"):
        classify(text)


def test_acot_whose_argument_touches_zero_from_below_is_a_removable_jump():
    # SymPy writes acot(exp(x) - 1 - x) as -acot(u), u = x - exp(x) + 1 ≤ 0: acot(u) → −π/2 as
    # z → 0 while acot(0) = π/2
    with pytest.raises(NotAnalyticError, match="touches 0 from below.*at z = 0"):
        classify("acot(exp(x) - 1 - x)")


@pytest.mark.parametrize("text", ["acot(x**2)", "acot(cos(x)**2)"])
def test_acot_whose_argument_touches_zero_from_above_is_refused_as_analytic(text):
    # analytic (π/2 − atan(u)), but atan(1/u), the form every kernel evaluates, divides by 0
    # there: refused with that reason and the branch to write, not as "jumps" (it used to be)
    with pytest.raises(ActivationError, match="u ≥ 0 on both sides.*is analytic") as caught:
        classify(text)
    assert not isinstance(caught.value, NotAnalyticError)
    assert "pi/2 - atan(u)" in str(caught.value)


def test_acot_whose_argument_has_zeros_sympy_cannot_find_is_refused_clearly():
    # was a bare NotImplementedError from sp.solve
    with pytest.raises(ActivationError, match="whose real zeros SymPy cannot find"):
        classify("acot(x + sin(x) - 1)")


@given(
    st.lists(
        st.tuples(st.fractions(-3, 3, max_denominator=7), st.integers(1, 4)),
        min_size=1,
        max_size=3,
        unique_by=lambda pair: pair[0],
    ),
    st.sampled_from([-2, 1]),
)
def test_acot_zeros_follow_the_multiplicity_and_the_sign_of_u(factors, lead):
    # u = lead·∏(z − a)^m: u changes sign at a iff m is odd; at an even zero its sign on both
    # sides is the sign of lead·∏_{b≠a}(a − b)^n
    u = lead * sp.Mul(*[(Z - sp.Rational(a)) ** m for a, m in factors])
    act = activation(sp.acot(u))
    (node,) = act.expr.atoms(sp.acot)  # SymPy may write acot(u) as −acot(−u): signs follow
    orientation = sp.cancel(node.args[0] / u)
    assert orientation in (1, -1)
    found = {point: (left, right) for point, left, right in acot_zeros(act)}
    assert set(found) == {sp.Rational(a) for a, _ in factors}
    for a, m in factors:
        left, right = found[sp.Rational(a)]
        if m % 2:
            assert left == -right
        else:
            rest = lead * sp.Mul(*[(sp.Rational(a) - b) ** n for b, n in factors if b != a])
            assert left == right == orientation * sp.sign(rest)


def test_acot_of_an_argument_without_real_zero_and_the_continuous_branch_are_classified():
    assert classify("acot(x**2 + 1)").activation_class is ActivationClass.D
    branch = classify("pi/2 - atan(x)")
    assert branch.c1 == -1 and not branch.mu1_positive
    assert abs(float(branch.mu1.value) + 0.6556795424187985) < 1e-15


def test_mu1_sign_flagged_not_hidden():
    result = classify("x - x**3")
    assert result.mu1.exact == -2
    assert not result.mu1_positive
    assert classify("tanh").mu1_positive


def test_known_constants():
    # c_1 need not be 1 (MATH.md §3): erf 2/√π; GELU and Swish 1/2.
    assert classify("erf").c1 == 2 / sp.sqrt(sp.pi)
    assert classify("gelu").c1 == sp.Rational(1, 2)
    assert classify("swish").c1 == sp.Rational(1, 2)
    assert classify("tanh").phi_leading == -sp.Rational(2, 3) * Z**3


@pytest.mark.parametrize("text", ["log(x)", "1/x", "sqrt(x)", "Abs(x)**3", "x*Abs(x)"])
def test_not_analytic(text):
    with pytest.raises(NotAnalyticError):
        classify(text)


def test_not_real_valued():
    with pytest.raises(NotRealFunctionError):
        classify("log(x - 1)")


# --- independent definitions, used by the property tests -------------------------------------


def coefficients_by_derivatives(expr: sp.Expr, order: int) -> list[sp.Expr]:
    """c_k = σ^{(k)}(0)/k!, computed by differentiation (not by series, which the package uses)."""
    out, current = [], expr
    for k in range(order + 1):
        out.append(sp.simplify(sp.limit(current, Z, 0) / factorial(k)))
        current = sp.diff(current, Z)
    return out


def expected_class(coefficients: list[sp.Expr], odd: bool) -> tuple[ActivationClass, int | None]:
    nonzero = [k for k in range(2, len(coefficients)) if sp.N(coefficients[k], 50) != 0]
    q = nonzero[0] if nonzero else None
    if sp.N(coefficients[0], 50) != 0:
        return D, q
    if q is None:
        return A, None
    if odd:
        return B, q
    if q == 2:
        return C, q
    return ActivationClass.OUTSIDE, q


rationals = st.fractions(min_value=-3, max_value=3, max_denominator=5).map(sp.Rational)
nonzero_rationals = rationals.filter(lambda r: r != 0)
ODD_FUNCTIONS = {"tanh": sp.tanh, "erf": sp.erf, "sin": sp.sin, "atan": sp.atan}
OTHER_FUNCTIONS = {
    "gelu": activation("gelu").expr,
    "swish": activation("swish").expr,
    "sigmoid": activation("sigmoid").expr,
    "softplus": activation("softplus").expr,
}


@st.composite
def random_activation(draw, odd_only: bool = False):
    """σ = c_1 z + Σ_{k=0,2..5} p_k z^k + Σ_j r_j f_j(α_j z): registry functions and a polynomial.

    Returns (expression, is_odd) where oddness is known by construction.
    """
    degrees = [1, 3, 5] if odd_only else [0, 1, 2, 3, 4, 5]
    expr = sum((draw(rationals) * Z**k for k in degrees), sp.Integer(0))
    odd = all(expr.coeff(Z, k) == 0 for k in (0, 2, 4)) if not odd_only else True
    pool = dict(ODD_FUNCTIONS) if odd_only else {**ODD_FUNCTIONS, **OTHER_FUNCTIONS}
    names = draw(st.lists(st.sampled_from(sorted(pool)), max_size=2, unique=True))
    for name in names:
        r, alpha = draw(nonzero_rationals), draw(nonzero_rationals)
        f = pool[name]
        expr += r * (f(alpha * Z) if callable(f) else f.xreplace({Z: alpha * Z}))
        odd = odd and name in ODD_FUNCTIONS
    # Keep a linear path so the generated family is non-degenerate (c_1 ≠ 0 in most draws).
    return sp.expand(expr), odd


@given(random_activation())
def test_class_q_cq_match_definitions(sample):
    expr, odd = sample
    coefficients = coefficients_by_derivatives(expr, 7)
    cls_expected, q_expected = expected_class(coefficients, odd)
    if q_expected is None and cls_expected is not A and sp.diff(expr, Z, 2) != 0:
        return  # first nonlinear term beyond order 7: not decidable by this reference
    result = classify(expr)
    assert result.activation_class is cls_expected
    assert result.q == q_expected
    if q_expected is not None:
        assert sp.simplify(result.cq - coefficients[q_expected]) == 0
    assert sp.simplify(result.c1 - coefficients[1]) == 0


@given(random_activation())
def test_phi_series_term_by_term(sample):
    expr, _ = sample
    act = activation(expr)
    direct = sp.series(phi_expression(act), Z, 0, 7).removeO()
    from_sigma = phi_coefficients(act, 6)
    c = taylor_coefficients(act, 6)
    for k in range(7):
        assert sp.simplify(direct.coeff(Z, k) - from_sigma[k]) == 0
        # MATH.md §3: φ = -c_0 + Σ_{k≥2} (k-1) c_k z^k, no linear term.
        expected = -c[0] if k == 0 else (0 if k == 1 else (k - 1) * c[k])
        assert sp.simplify(from_sigma[k] - expected) == 0


@given(st.lists(st.integers(-5, 5), min_size=1, max_size=6))
def test_phi_of_a_polynomial_is_expanded(coefficients):
    # φ_σ = zσ' − σ = Σ (k−1) c_k z^k: JSON printed ``-z**2 + z*(2*z + 1) - z`` for z + z²
    sigma = sum(c * Z**k for k, c in enumerate(coefficients, start=1))
    phi = phi_expression(activation(sigma))
    assert phi == sp.expand(sum((k - 1) * c * Z**k for k, c in enumerate(coefficients, start=1)))


@given(random_activation(), nonzero_rationals, nonzero_rationals)
def test_class_and_q_invariant_under_rescaling(sample, alpha, beta):
    expr, _ = sample
    original = classify(expr)
    scaled = classify(sp.expand(beta * expr.xreplace({Z: alpha * Z})))
    assert scaled.activation_class is original.activation_class
    assert scaled.q == original.q


@given(random_activation(odd_only=True))
def test_odd_functions_are_A_or_B(sample):
    expr, _ = sample
    result = classify(expr)
    assert result.activation_class in (A, B)
    assert result.odd
    if result.activation_class is B:
        assert result.q % 2 == 1 and result.q >= 3


@pytest.mark.parametrize("text", ["exp(x**2)", "log(1 + x)", "x + exp(x**3)"])
def test_classify_refuses_a_sigma_without_gaussian_moments(text):
    # analytic at 0, but μ₁ = E[σ(s) s] does not exist: refused here, not at the first use of μ₁
    from symescape.errors import GaussianDomainError

    with pytest.raises(GaussianDomainError, match="does not exist"):
        classify(text)


@pytest.mark.parametrize(
    "text", ["x + (sin(x)**2 + cos(x)**2 - 1)*x**2", "x + (cosh(x)**2 - sinh(x)**2 - 1)*x**2"]
)
def test_a_factor_that_is_identically_zero_does_not_stall_the_series(text):
    # SymPy's series searched for ever for the leading term of z²(sin²z + cos²z − 1) (the CLI
    # stopped at its 120 s budget); distributed first, each term's series is quick
    from symescape.symbolic.budget import default_budget

    with default_budget(30.0):
        result = classify(text)
    assert result.activation_class is ActivationClass.A


@given(st.dictionaries(st.integers(2, 300), st.integers(-3, 3), max_size=4), st.integers(-2, 2))
def test_q_of_a_polynomial_of_any_degree(high_terms, c1):
    # x + x**65 was NotAnalyticError: the series search stops at order 64
    sigma = c1 * Z + sum(c * Z**k for k, c in high_terms.items())
    nonzero = [k for k, c in high_terms.items() if c != 0]
    assert first_nonlinear_order(activation(sigma)) == (min(nonzero) if nonzero else None)


def test_taylor_coefficients_run_under_the_default_budget():
    # order 20 000 of tanh ran on for minutes inside default_budget(3.0)
    with default_budget(0.5), pytest.raises(TimeBudgetError, match="Taylor expansion"):
        taylor_coefficients(activation("tanh"), 20000)


def test_first_nonlinear_order_checks_max_order():
    with pytest.raises(ConfigurationError, match="max_order"):
        first_nonlinear_order(activation("tanh"), max_order=-1)


@pytest.mark.parametrize(
    "function, expected",
    [(lambda a: taylor_coefficients(a, 3), (0, 1, 0, sp.Rational(-1, 3))),
     (lambda a: phi_coefficients(a, 3), (0, 0, 0, sp.Rational(-2, 3))),
     (first_nonlinear_order, 3), (is_odd, True)],
)  # fmt: skip
def test_taylor_functions_take_a_name_as_the_moment_functions_do(function, expected):
    # they raised AttributeError: 'str' object has no attribute 'expr'
    assert function("tanh") == function(activation("tanh")) == expected


@pytest.mark.parametrize(
    "text",
    [
        "acos(cos(x))",  # |x|
        "acosh(cosh(x))",  # |x|
        "asin(cos(x))",  # π/2 − |x|
        "sqrt(x**2 + x**4)",  # |x|·sqrt(1 + x²)
        "sqrt(1 - cos(x))",  # √2 |sin(x/2)|
        "acos(exp(-x**2))",  # ≈ √2 |x|
        "x + sqrt(1 - exp(-x**2))",
        "acos(cos(x)) + x",
    ],
)
def test_a_kink_hidden_in_an_analytic_looking_formula_is_refused(text):
    # SymPy expands from the right (z → 0⁺): these got the right-hand branch's series (class A
    # with c_1 = 1 for acos(cos x), and a K) until the series was checked on both sides of 0
    with pytest.raises(NotAnalyticError, match="misses σ at z = -"):
        classify(text)


@pytest.mark.parametrize("text", ["cbrt(x**3)", "cbrt(x**3) + x", "(x**5)**(1/5)"])
def test_a_principal_root_complex_left_of_0_is_refused_as_not_real(text):
    # cbrt(u) is u**(1/3), SymPy's principal root: complex where u < 0. The two-sided check
    # called cbrt(x**3) "not analytic ... a kink or jump" by the size of the complex value
    with pytest.raises(NotRealFunctionError, match="principal root"):
        classify(text)


def test_python_api_expressions_beyond_the_grammar_get_named_errors():
    # review of 2026-12-07: Mod gave a raw ValueError, zeta a RecursionError
    x = sp.Symbol("x", real=True)
    with pytest.raises(NotAnalyticError, match="misses σ at z = -"):
        classify(sp.Mod(x, 1))  # a jump at 0
    with pytest.raises(ActivationError, match="recursion limit"):
        classify(sp.zeta(x + 3))


@pytest.mark.parametrize(
    "text",
    [
        "tanh(1000*x)",  # radius of convergence ~1.6e-3
        "x*exp(-8e30*x)",  # coefficients growing like (8e30)^k / k!
        "1/(1 + 100*x**2)",  # poles at ±i/10
        "x + 1e-300*x**2",  # a coefficient far below the others
        "sqrt(1 + x**2)",
        "log(cosh(x))",
        "exp(sin(x)) - 1",
    ],
)
def test_analytic_formulas_at_extreme_scales_pass_the_two_sided_check(text):
    assert isinstance(classify(text).activation_class, ActivationClass)
