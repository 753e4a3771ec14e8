import re

import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st

from symescape import (
    ConfigurationError,
    NoLinearPathError,
    OutsideHypothesisError,
    classify,
    escape_constants,
    gaussian_moment,
)
from symescape.symbolic.activations import Z, activation
from symescape.symbolic.canonical import (
    decimal_scaled,
    decimal_scaled_latex,
    float_as_rational,
)
from symescape.symbolic.constants import exact_amplitude


def test_erf_K_closed_form():
    # μ₁(erf) = E[(2/√π) e^{-s²}] = (2/√π)/√3 and c_1 = 2/√π, so K = μ₁ c_1^{L-1}.
    mu = 2 / sp.sqrt(sp.pi) / sp.sqrt(3)
    for depth in (1, 2, 5):
        K = escape_constants("erf", depth).K
        assert sp.simplify(K.exact - mu * (2 / sp.sqrt(sp.pi)) ** (depth - 1)) == 0


@given(
    st.sampled_from(["tanh", "gelu", "swish", "sin", "sigmoid", "softplus"]),
    st.integers(min_value=2, max_value=12),
    st.floats(min_value=0.1, max_value=3.0),
)
def test_kappa_is_mean_of_gammas(name, depth, amplitude):
    c = escape_constants(name, depth, amplitude)
    q = c.classification.q
    mean = sum(float(g) for g in c.gamma) / depth
    assert abs(float(c.kappa) - mean) <= 1e-12 * max(1, abs(mean))
    assert abs(float(c.gamma[0]) - q * float(c.gamma[-1])) <= 1e-12 * abs(float(c.gamma[0]))
    assert abs(
        float(c.K)
        - amplitude * float(c.classification.mu1) * float(c.classification.c1) ** (depth - 1)
    ) <= 1e-12 * abs(float(c.K))


def test_gamma_not_uniform_for_nonlinear_classes():
    # MATH.md §7: γ_1 = q γ_l (l ≥ 2), contradicting "the same ratio in every l".
    assert not escape_constants("gelu", 4).gamma_uniform


def test_class_D_uses_centred_moment():
    c = escape_constants("softplus", 3)
    act = c.classification.centred.activation
    cls = c.classification
    g = float(cls.cq) * float(gaussian_moment(act, 2)) / (float(cls.c1) * float(cls.mu1))
    assert c.centred
    assert abs(float(c.gamma[-1]) - g) < 1e-14


@pytest.mark.parametrize("depth", [0, -1, 2.5])
def test_bad_depth(depth):
    with pytest.raises(ConfigurationError, match="depth"):
        escape_constants("tanh", depth)


def test_bad_amplitude():
    with pytest.raises(ConfigurationError, match="amplitude"):
        escape_constants("tanh", 3, float("nan"))
    with pytest.raises(ConfigurationError, match="amplitude"):
        escape_constants("tanh", 3, 0)


def test_no_linear_path():
    with pytest.raises(NoLinearPathError, match="c_1"):
        escape_constants("x**2 + x**3", 3)


def test_piecewise_linear_rejected():
    with pytest.raises(OutsideHypothesisError, match="piecewise-linear"):
        escape_constants("relu", 3)


def test_negative_mu1_gives_negative_K_flagged():
    c = escape_constants(activation("x - x**3"), 3)
    assert not c.escapes and float(c.K) == -2.0


def test_depth_one_has_no_correction():
    # L = 1: f = X_1 s has no activation, so nothing nonlinear can be inserted.
    c = escape_constants("tanh", 1)
    assert float(c.kappa) == 0 and [float(g) for g in c.gamma] == [0.0]
    assert c.K.value == c.classification.mu1.value


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_becomes_a_rational_that_reads_back_as_itself(value):
    exact = float_as_rational(sp.Float(value))
    assert exact.is_Rational and float(exact) == value


@pytest.mark.parametrize(
    "value, expected",
    [(0.1, sp.Rational(1, 10)), (0.3333333333333333, sp.Rational(1, 3)), (-0.8, sp.Rational(-4, 5)),
     (1.4142135623730951, sp.Rational(14142135623730951, 10**16)),
     (2.718281828459045, sp.Rational(2718281828459045, 10**15))],
)  # fmt: skip
def test_a_float_amplitude_is_never_turned_into_an_irrational(value, expected):
    # plain nsimplify gives √2 and E for the last two: constants the user did not write
    assert float_as_rational(sp.Float(value)) == expected
    assert exact_amplitude(value) == expected


@given(
    st.integers(-(10**6), 10**6).filter(bool),
    st.integers(1, 10**6),
    st.integers(-300, 300),
)
@example(p=262144, q=1, k=-41)  # 2^18·10^-41 = 1/(5^18·10^23): printed with 36 digits
@example(p=8192, q=821, k=-36)  # 1/(821·5^13·10^23): the 2s and 5s alone move
@example(p=33, q=32768, k=38)  # 33·5^15·10^23 on the numerator: found by CI's hypothesis run
def test_decimal_scaled_is_equal_and_short(p, q, k):
    # 1e-100*tanh(x) printed its Taylor coefficients with 101 digits; the display form is
    # p/q·10^k with a short p/q, and is the same number
    value = sp.Rational(p, q) * sp.Integer(10) ** k
    shown = decimal_scaled(value * Z**3)
    assert sp.simplify(shown.doit() - value * Z**3) == 0
    assert len(str(shown)) <= 40


def test_decimal_scaled_leaves_long_rationals_without_a_decimal_scale():
    third = sp.Rational(1, 3**40)  # 20 digits, no power of ten to pull out
    assert decimal_scaled(third * Z) == third * Z
    assert decimal_scaled(sp.Rational(1, 10**30)).doit() == sp.Rational(1, 10**30)


def test_classification_steps_show_tiny_coefficients_with_their_power_of_ten():
    steps = classify("1e-100*tanh(x)").steps
    assert "c_q = -10**(-100)/3" in " ".join(steps)
    assert max(len(s) for s in steps) < 120


def test_decimal_scaled_latex_reads_as_a_product_and_numeric_constants_too():
    latex = decimal_scaled_latex(sp.tanh(Z) / 10**100 - sp.Rational(17, 315 * 10**100) * Z**7)
    assert r"\tanh{\left(z \right)} \cdot 10^{-100}" in latex and r"\cdot \cdot" not in latex
    assert not re.search(r"\d{13}", latex)
    tiny = classify("1e-100*tanh(x)").mu1  # numeric: no closed form
    assert tiny.exact is None and re.fullmatch(r"[\d.]+ \\cdot 10\^\{-101\}", tiny.latex())


@pytest.mark.parametrize(
    "spec, homogeneous", [("relu", True), ("Abs(x)", True), ("Max(x, 1)", False),
                          ("Max(x - 1, 0)", False)],
)  # fmt: skip
def test_piecewise_linear_refusal_says_homogeneous_only_when_it_is(spec, homogeneous):
    # Max(x, 1) was called positively homogeneous (σ(0) = 1, kink at 1)
    with pytest.raises(OutsideHypothesisError) as refusal:
        escape_constants(spec, 3)
    assert ("is positively homogeneous" in str(refusal.value)) is homogeneous


@pytest.mark.parametrize("offset", ["1e100", "cosh(431)"])
def test_a_huge_constant_term_does_not_swamp_the_numeric_moments(offset):
    # E[(c + tanh s) s] = E[tanh(s) s]: the constant's part is exact (E[s] = 0), so only tanh is
    # integrated; at c = 1e100 the quadrature's error bound, relative to the whole integrand,
    # read μ₁ = 0.0 ± 3e65 and κ ended in a ZeroDivisionError (a random-input search)
    shifted, plain = classify(f"{offset} + tanh(x)"), classify("tanh")
    assert abs(shifted.mu1.value - plain.mu1.value) <= 1e-30
    assert shifted.mu1.error <= 1e-30 and shifted.mu1_positive
    kappa = escape_constants(shifted, 3).kappa
    assert abs(kappa.value - escape_constants(plain, 3).kappa.value) <= 1e-25
