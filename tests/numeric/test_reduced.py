"""The exact reduced flow (issue 4): Jacobian, leading order, quadrature nodes, full-GD tracking."""

import numpy as np
import pytest

from symescape import ConfigurationError, NoEscapeError, NoLinearPathError
from symescape.numeric.precise_escape import escape_time_precise
from symescape.numeric.reduced import reduced_model, teacher_reduced_model


@pytest.mark.parametrize(
    ("activation_spec", "teacher"),
    [("tanh", None), ("gelu", None), ("softplus", None), ("tanh", "erf(s)")],
)
def test_jacobian_against_finite_differences(activation_spec, teacher):
    # The last case: a different teacher and the logistic loss (ℓ'' ≠ 1), issue 17.
    if teacher is None:
        model = reduced_model(activation_spec, 4)
    else:
        model = teacher_reduced_model(activation_spec, 4, teacher, "logistic")
    X = np.array([0.4, -0.3, 0.6, 0.5])
    h = 1e-6
    numeric = np.array(
        [(model.field(X + h * e) - model.field(X - h * e)) / (2 * h) for e in np.eye(4)]
    ).T
    assert np.abs(model.jacobian(X) - numeric).max() <= 1e-8 * max(1, np.abs(numeric).max())


@pytest.mark.parametrize("activation_spec", ["tanh", "erf", "gelu", "swish"])
def test_leading_order_field(activation_spec):
    # MATH.md §5: dX_l/dt = K P / X_l + O(|X|^{L+q-2}).
    model = reduced_model(activation_spec, 5)
    X = np.array([1.0, 1.3, 0.8, 1.1, 0.9]) * 1e-3
    leading = float(model.constants.K) * np.prod(X) / X
    relative = np.abs(model.field(X) / leading - 1).max()
    assert relative < 50 * 1e-3 ** (model.classification.q - 1)


def test_gauss_hermite_nodes_converged_up_to_the_threshold():
    # Escape times integrate up to ρ* = 0.5; there the default rule is converged to round-off.
    coarse = reduced_model("tanh", 4)
    fine = reduced_model("tanh", 4, nodes=4 * coarse.nodes)
    for X in (np.full(4, 0.5), np.array([0.6, 0.3, 0.5, 0.7])):
        assert np.abs(coarse.field(X) - fine.field(X)).max() <= 1e-12


def test_gauss_hermite_loses_accuracy_past_escape():
    # tanh(X s) has poles at s = ±iπ/(2X): as X grows the chain approaches a step and the rule
    # converges slowly. Documented, measured limitation (README): post-escape fields are
    # approximate even with 4x the nodes.
    coarse = reduced_model("tanh", 4)
    fine = reduced_model("tanh", 4, nodes=4 * coarse.nodes)
    X = np.full(4, 3.0)
    assert np.abs(coarse.field(X) - fine.field(X)).max() > 1e-3


def test_no_linear_path():
    with pytest.raises(NoLinearPathError):
        reduced_model("x**2 + x**3", 3)


@pytest.mark.parametrize("activation_spec", ["tanh", "gelu"])
def test_gd_step_is_euler_step_of_reduced_field(activation_spec):
    # With Gauss–Hermite inputs and normalised rates, one GD step moves the ansatz scalars by
    # exactly η F(X): the reduction is exact, not approximate.
    from symescape.experiments.gd_vs_ode import gd_vs_ode

    run = gd_vs_ode(activation_spec, (0.5, 0.3, 0.4, 0.6), width=7, lr=0.01, time=0.05)
    assert run["euler_step_error"] <= 1e-15


@pytest.mark.parametrize("activation_spec", ["tanh", "gelu"])
def test_full_gd_tracks_reduced_ode(activation_spec):
    from symescape.experiments.gd_vs_ode import gd_vs_ode

    X0 = (0.5, 0.3, 0.4, 0.6)  # unbalanced start
    run = gd_vs_ode(activation_spec, X0, width=8, lr=0.002, time=40.0, record_points=10)
    X_gd = np.array(run["X_gd"])
    assert np.abs(X_gd[-1] - np.array(X0)).max() > 0.1  # the run moved the scalars substantially
    assert run["max_rel_deviation"] <= 1e-3
    assert run["max_ansatz_deviation"] < 1e-12


def test_a_negative_K_outside_double_range_is_no_escape_not_an_underflow():
    # K = μ₁ c_1 = (1e-400 + E[tanh'] − 1)·1e-400 < 0 was reported as "outside double precision
    # … rescale σ", and the 30-digit path printed "K = -0"
    with pytest.raises(NoEscapeError, match=r"= -\d\.\d+e-401 < 0"):
        reduced_model("1e-400*x+tanh(x)-x", 2)
    with pytest.raises(NoEscapeError, match=r"= -\d\.\d+e-401 ≤ 0"):
        escape_time_precise("1e-400*x+tanh(x)-x", 2, [0.1] * 2, digits=15)


@pytest.mark.parametrize(
    ("activation_spec", "teacher", "depth"),
    [("tanh", None, 4), ("gelu", None, 7), ("linear", None, 3), ("linear", None, 1),
     ("tanh", "erf(s)", 5)],
)  # fmt: skip
def test_one_point_field_is_the_batched_field(activation_spec, teacher, depth):
    # One point takes its own path (scalar X_l, one row-wise sum); it must give the batched
    # rows' values, loss and output. At L = 1 the kernel returns the nodes s themselves as
    # ∂_1 f (f = X_1 s), which that path passes on as a read-only view.
    if teacher is None:
        model = reduced_model(activation_spec, depth)
    else:
        model = teacher_reduced_model(activation_spec, depth, teacher, "logistic")
    batch = np.random.default_rng(3).uniform(-0.8, 0.8, (5, depth))
    fields, losses = model.field(batch), model.loss(batch)
    for row, X in enumerate(batch):
        np.testing.assert_allclose(model.field(X), fields[row], rtol=1e-14, atol=1e-300)
        np.testing.assert_allclose(model.loss(X), losses[row], rtol=1e-14)
        np.testing.assert_allclose(model.output(X), model.output(batch)[row], rtol=1e-14)


def test_a_model_pickles_after_use():
    # The kernel it caches is generated code; a pickled copy (sent to a worker) looks it up again.
    import pickle

    model = reduced_model("tanh", 4)
    X = np.array([0.2, 0.3, 0.4, 0.5])
    before = model.field(X)
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.field(X), before)


def test_a_point_of_the_wrong_length_is_refused():
    model = reduced_model("tanh", 3)
    for X in (np.ones(2), np.ones(4), np.ones((5, 2)), np.float64(1.0)):
        with pytest.raises(ConfigurationError, match="L = 3 entries"):
            model.field(X)
