"""The imbalance identity (issue 3): all three forms to round-off, and to 40 digits in mpmath."""

import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support import REGISTRY_NAMES
from tolerances import ROUND_OFF

from symescape.experiments.imbalance import imbalance_identity
from symescape.numeric.inits import he_normal_weights
from symescape.numeric.losses import LOGISTIC, SQUARED, Loss
from symescape.symbolic.resolved import activation_kernels


def _cubic_loss(f, y):
    # A user loss: ℓ = (f - y)^4 / 4 + (f - y), derivative (f - y)^3 + 1.
    r = f - y
    return r**4 / 4 + r, r**3 + 1


CUSTOM = Loss("custom-quartic", _cubic_loss)

polynomial_activation = st.lists(
    st.fractions(min_value=-1, max_value=1, max_denominator=4), min_size=2, max_size=4
).map(lambda cs: "x + " + " + ".join(f"({c})*x**{k + 2}" for k, c in enumerate(cs)))


@settings(max_examples=200)  # cheap: ~40 ms an example
@given(
    activation_spec=st.one_of(st.sampled_from(REGISTRY_NAMES), polynomial_activation),
    depth=st.integers(min_value=2, max_value=6),
    widths=st.lists(st.integers(min_value=1, max_value=8), min_size=6, max_size=6),
    loss=st.sampled_from([SQUARED, LOGISTIC, CUSTOM]),
    seed=st.integers(min_value=0, max_value=10**6),
)
def test_identity_holds_to_round_off(activation_spec, depth, widths, loss, seed):
    kernels = activation_kernels(activation_spec)
    input_dim = widths[0]
    weights = he_normal_weights([input_dim] + widths[1:depth] + [1], seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((5, input_dim))
    y = rng.standard_normal(5)
    try:
        check = imbalance_identity(weights, x, y, loss, kernels, rates=rng.uniform(0.1, 3, depth))
    except ArithmeticError:
        assume(False)  # compositions of polynomials can overflow double precision: not a case
    assert len(check.scalar) == depth - 1
    for form in (check.scalar, check.preconditioned):
        for layer in form:
            assert layer.abs_error <= ROUND_OFF * layer.scale + 1e-300
    assert check.matrix_max_abs_error <= ROUND_OFF * check.matrix_scale + 1e-300


def test_overflow_is_an_error_not_nan():
    kernels = activation_kernels("x + x**5")
    weights = tuple(10 * w for w in he_normal_weights([3, 4, 4, 4, 1], seed=0))
    with pytest.raises(ArithmeticError, match="overflowed"):
        imbalance_identity(weights, np.ones((2, 3)), np.ones(2), SQUARED, kernels)


def test_identity_with_batch_weights():
    kernels = activation_kernels("tanh")
    weights = he_normal_weights([3, 4, 4, 1], seed=3)
    rng = np.random.default_rng(3)
    x, y, w = rng.standard_normal((9, 3)), rng.standard_normal(9), rng.dirichlet(np.ones(9))
    check = imbalance_identity(weights, x, y, SQUARED, kernels, batch_weights=w)
    assert check.max_rel_error <= ROUND_OFF


def test_linear_activation_conserves_imbalance():
    kernels = activation_kernels("linear")
    weights = he_normal_weights([3, 5, 5, 1], seed=1)
    x = np.random.default_rng(1).standard_normal((7, 3))
    check = imbalance_identity(weights, x, np.ones(7), SQUARED, kernels)
    for layer in check.scalar:
        assert layer.rhs == 0.0 and abs(layer.lhs) <= ROUND_OFF * layer.scale


@pytest.mark.parametrize("activation_spec", ["tanh", "x + x**2/3 - x**3/5", "gelu"])
def test_identity_in_mpmath_to_40_digits(activation_spec):
    kernels = activation_kernels(activation_spec, backend="mpmath")
    rng = np.random.default_rng(7)
    with mpmath.workdps(60):

        def mp(a):
            return np.vectorize(lambda v: mpmath.mpf(float(v)), otypes=[object])(a)

        weights = tuple(mp(w) for w in he_normal_weights([3, 3, 2, 1], seed=7))
        x = mp(rng.standard_normal((4, 3)))
        y = mp(rng.standard_normal(4))
        check = imbalance_identity(
            weights, x, y, SQUARED, kernels, rates=[mpmath.mpf(1), mpmath.mpf(2), mpmath.mpf(3)]
        )
        for layer in check.scalar + check.preconditioned:
            assert abs(layer.lhs - layer.rhs) <= mpmath.mpf(10) ** -40 * layer.scale
        assert check.matrix_max_abs_error <= mpmath.mpf(10) ** -40 * check.matrix_scale


def test_mpmath_engine_matches_double():
    # The two backends compute the same thing: agreement to double round-off.
    weights = he_normal_weights([3, 3, 2, 1], seed=2)
    x = np.random.default_rng(2).standard_normal((4, 3))
    y = np.ones(4)
    double = imbalance_identity(weights, x, y, SQUARED, activation_kernels("tanh"))
    with mpmath.workdps(30):
        precise = imbalance_identity(
            tuple(w.astype(object) for w in weights),
            x.astype(object),
            y.astype(object),
            SQUARED,
            activation_kernels("tanh", backend="mpmath"),
        )
        for a, b in zip(double.scalar, precise.scalar, strict=True):
            assert abs(a.rhs - float(b.rhs)) <= 1e-14 * a.scale


def test_phi_kernel_is_z_sigma_prime_minus_sigma():
    kernels = activation_kernels("softplus")
    z = np.linspace(-2, 2, 9)
    expected = z / (1 + np.exp(-z)) - np.log1p(np.exp(z))
    assert np.allclose(kernels.phi(z), expected, rtol=0, atol=1e-14)
