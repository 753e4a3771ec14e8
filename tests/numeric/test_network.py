"""Network engine (issue 3): gradients, ensembles, the ansatz, initialisations, bad input."""

import numpy as np
import pytest
from support import REGISTRY_NAMES
from tolerances import ROUND_OFF

from symescape import ActivationError, ConfigurationError, DivergenceError
from symescape.numeric.inits import (
    ansatz_scalars,
    ansatz_weights,
    he_normal_weights,
    modewise_block_weights,
)
from symescape.numeric.losses import LOGISTIC, SQUARED
from symescape.numeric.network import (
    batch_mean,
    flat_squared_loss,
    flatten_weights,
    forward,
    loss_and_gradients,
    unflatten_weights,
)
from symescape.numeric.teachers import orthonormal_teacher, single_mode_teacher
from symescape.numeric.training import (
    DataMode,
    TrainingConfig,
    gauss_hermite_inputs,
    train,
)
from symescape.symbolic.resolved import activation_kernels


@pytest.mark.parametrize("activation_spec", ["tanh", "gelu", "softplus", "x + x**2/2"])
@pytest.mark.parametrize("loss", [SQUARED, LOGISTIC])
def test_gradients_against_central_differences(activation_spec, loss):
    kernels = activation_kernels(activation_spec)
    weights = he_normal_weights([3, 4, 3, 1], seed=5)
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    _, _, grads = loss_and_gradients(weights, x, y, loss, kernels)
    h = 1e-6
    for index, w in enumerate(weights):
        numeric = np.zeros_like(w)
        for position in np.ndindex(w.shape):
            plus = [a.copy() for a in weights]
            minus = [a.copy() for a in weights]
            plus[index][position] += h
            minus[index][position] -= h
            up = loss_and_gradients(tuple(plus), x, y, loss, kernels)[0][0]
            down = loss_and_gradients(tuple(minus), x, y, loss, kernels)[0][0]
            numeric[position] = (up - down) / (2 * h)
        assert np.allclose(grads.gradients[index], numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("activation_spec", REGISTRY_NAMES)
def test_gradient_on_ansatz_lies_in_ansatz(activation_spec):
    kernels = activation_kernels(activation_spec)
    teacher = single_mode_teacher(5, seed=3)
    v = teacher.directions[0]
    weights = ansatz_weights([0.7, -0.4, 0.9, 0.5], v, width=6)
    x, w = gauss_hermite_inputs(teacher, 40)
    # Orthogonal input components contribute nothing on the ansatz: add some to the nodes.
    _, _, grads = loss_and_gradients(weights, x, teacher(x, kernels), SQUARED, kernels, w)
    g1, *middle, gL = (g[0] for g in grads.gradients)
    scale = max(np.abs(g).max() for g in (g1, gL, *middle))
    assert np.abs(g1 - np.outer(np.ones(6), g1.mean(axis=0))).max() <= ROUND_OFF * scale
    assert np.abs(g1 - np.outer(g1 @ v, v)).max() <= ROUND_OFF * scale
    for g in middle:
        assert np.abs(g - g.mean()).max() <= ROUND_OFF * scale
    assert np.abs(gL - gL.mean()).max() <= ROUND_OFF * scale


def test_ansatz_round_trip():
    v = np.array([0.6, 0.8, 0.0])
    X = np.array([[0.1, 0.2, 0.3, 0.4], [1.0, -2.0, 3.0, -4.0]])
    recovered, deviation = ansatz_scalars(ansatz_weights(X, v, 5), v)
    assert np.allclose(recovered, X, rtol=1e-14) and np.all(deviation < 1e-15)
    off = he_normal_weights([3, 5, 5, 5, 1], ensemble=2, seed=0)
    assert np.all(ansatz_scalars(off, v)[1] > 0.01)


def test_ensemble_steps_equal_individual_steps():
    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(4)
    ensemble = he_normal_weights([4, 8, 8, 1], ensemble=3, seed=11, epsilon=0.3, bottleneck=2)
    config = TrainingConfig(steps=20, learning_rate=0.05, data=DataMode.FIXED, batch=16, seed=4)
    together = train(ensemble, teacher, kernels, config)
    x = np.random.default_rng(4).standard_normal((3, 16, 4))  # the same draws as train's
    for member in range(3):
        single = tuple(w[member : member + 1] for w in ensemble)
        config_one = TrainingConfig(
            steps=20, learning_rate=0.05, data=DataMode.FIXED, batch=16, seed=4
        )
        alone = _train_on(single, teacher, kernels, config_one, x[member : member + 1])
        assert np.allclose(together.loss[:, member], alone, rtol=1e-12, atol=1e-15)


def _train_on(weights, teacher, kernels, config, x):
    y = teacher(x, kernels)
    losses = []
    for _ in range(config.steps + 1):
        loss, _, grads = loss_and_gradients(weights, x, y, SQUARED, kernels)
        losses.append(loss[0])
        weights = tuple(
            w - config.learning_rate * g for w, g in zip(weights, grads.gradients, strict=True)
        )
    return np.array(losses)


def test_he_normal_scaling_and_variance():
    weights = he_normal_weights([200, 200, 200, 1], ensemble=4, seed=0, epsilon=0.01, bottleneck=2)
    assert abs(np.var(weights[0]) - 2 / 200 * 1e-4) < 0.05 * 2 / 200 * 1e-4
    assert abs(np.var(weights[2]) - 2 / 200) < 0.3 * 2 / 200
    with pytest.raises(ConfigurationError, match="0 ≤ r ≤ L"):
        he_normal_weights([3, 3, 1], bottleneck=3)
    with pytest.raises(ConfigurationError, match="ε"):
        he_normal_weights([3, 3, 1], epsilon=0.0)


def test_modewise_blocks_structure():
    teacher = orthonormal_teacher(6, [3.0, 2.0, 1.0])
    scalars = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2]])
    weights = modewise_block_weights(scalars, teacher.directions, block_width=2)
    assert [w.shape for w in weights] == [(1, 6, 6), (1, 6, 6), (1, 6, 6), (1, 1, 6)]
    assert np.allclose(weights[0][0, 2:4], np.outer([1, 1], 0.5 * teacher.directions[1]))
    assert np.allclose(weights[1][0, 0:2, 2:4], 0) and np.allclose(weights[1][0, 2:4, 2:4], 0.3)
    assert np.allclose(weights[3][0, 0, 4:6], 0.6)


def test_forward_without_validation_is_the_same_pass_and_skips_only_the_checks():
    kernels = activation_kernels("tanh")
    weights = he_normal_weights([3, 4, 1], ensemble=2, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    checked = forward(weights, x, kernels)
    unchecked = forward(weights, x, kernels, validate=False)
    for a, b in zip(checked.pre + checked.post, unchecked.pre + unchecked.post, strict=True):
        np.testing.assert_array_equal(a, b)
    bad = (weights[0] * np.nan, weights[1])
    with pytest.raises(ConfigurationError, match="non-finite"):
        forward(bad, x, kernels)
    assert np.isnan(forward(bad, x, kernels, validate=False).output).all()


def test_bad_inputs():
    kernels = activation_kernels("tanh")
    good = he_normal_weights([3, 4, 1], seed=0)
    with pytest.raises(ConfigurationError, match="takes 5 inputs"):
        loss_and_gradients(
            (good[0], np.ones((1, 1, 5))), np.ones((2, 3)), np.ones(2), SQUARED, kernels
        )
    with pytest.raises(ConfigurationError, match="one row"):
        loss_and_gradients(
            (good[0], np.ones((1, 2, 4))), np.ones((2, 3)), np.ones(2), SQUARED, kernels
        )
    with pytest.raises(ConfigurationError, match="non-finite"):
        loss_and_gradients(
            (good[0] * np.nan, good[1]), np.ones((2, 3)), np.ones(2), SQUARED, kernels
        )
    with pytest.raises(ConfigurationError, match="inputs"):
        loss_and_gradients(good, np.ones((2, 4)), np.ones(2), SQUARED, kernels)
    with pytest.raises(ConfigurationError, match="inputs contain non-finite"):
        loss_and_gradients(good, np.full((2, 3), np.inf), np.ones(2), SQUARED, kernels)
    with pytest.raises(ConfigurationError, match="depth ≥ 1"):
        loss_and_gradients((), np.ones((2, 3)), np.ones(2), SQUARED, kernels)
    with pytest.raises(ConfigurationError, match="width must be ≥ 1"):
        ansatz_weights([1.0, 1.0], np.ones(3), 0)
    with pytest.raises(ActivationError, match="not finite"):
        activation_kernels("log(x)")


def test_divergence_reports_step():
    kernels = activation_kernels("linear")
    teacher = single_mode_teacher(3)
    weights = he_normal_weights([3, 4, 4, 1], seed=0)
    config = TrainingConfig(steps=500, learning_rate=50.0, data=DataMode.FIXED, batch=8)
    with pytest.raises(DivergenceError) as info:
        with np.errstate(all="ignore"):
            train(weights, teacher, kernels, config)
    assert info.value.step > 0 and f"step {info.value.step}" in str(info.value)


def test_batch_mean_weighted():
    values = np.arange(12.0).reshape(2, 3, 2)
    w = np.array([0.2, 0.3, 0.5])
    assert np.allclose(batch_mean(values, w), (values * w[None, :, None]).sum(axis=1))
    assert np.allclose(batch_mean(values, None), values.mean(axis=1))


@pytest.mark.parametrize(("activation_spec", "outputs"), [("tanh", 1), ("relu", 2), ("gelu", 3)])
def test_flat_squared_loss_is_the_network_pass(activation_spec, outputs):
    # The flat one-network path (checked once, 2-D arrays) against the general pass.
    kernels = activation_kernels(activation_spec)
    shapes = ((7, 4), (7, 7), (outputs, 7))
    rng = np.random.default_rng(5)
    x = rng.standard_normal((50, 4))
    y = rng.standard_normal((50, outputs)) if outputs > 1 else rng.standard_normal(50)
    theta = rng.standard_normal(sum(r * c for r, c in shapes)) * 0.5
    value, _, back = loss_and_gradients(
        unflatten_weights(theta, shapes), x, y, SQUARED, kernels, vector=outputs > 1
    )
    flat_value, gradient = flat_squared_loss(shapes, x, y, kernels)(theta)
    assert flat_value == pytest.approx(float(value[0]), rel=ROUND_OFF)
    expected = flatten_weights([G[0] for G in back.gradients])
    np.testing.assert_allclose(gradient, expected, rtol=0, atol=ROUND_OFF * np.abs(expected).max())


def test_flat_squared_loss_refuses_a_bad_batch():
    kernels = activation_kernels("tanh")
    shapes = ((3, 2), (1, 3))
    x, y = np.zeros((5, 2)), np.zeros(5)
    with pytest.raises(ConfigurationError, match="W_2 takes"):
        flat_squared_loss(((3, 2), (1, 4)), x, y, kernels)
    with pytest.raises(ConfigurationError, match="the batch must be"):
        flat_squared_loss(shapes, np.zeros((5, 3)), y, kernels)
    with pytest.raises(ConfigurationError, match="the batch must be"):
        flat_squared_loss(shapes, x, np.zeros((5, 2)), kernels)
    with pytest.raises(ConfigurationError, match="NaN or inf"):
        flat_squared_loss(shapes, x, np.full(5, np.nan), kernels)
    with pytest.raises(ConfigurationError, match="B ≥ 1"):
        flat_squared_loss(shapes, np.zeros((0, 2)), np.zeros(0), kernels)
    with pytest.raises(ConfigurationError, match="integers ≥ 1"):
        flat_squared_loss(((3, 2.5), (1, 3)), x, y, kernels)
    two = ((3, 2), (2, 3))  # two outputs: y must be (B, 2); its transpose is refused
    with pytest.raises(ConfigurationError, match="the batch must be"):
        flat_squared_loss(two, x, np.zeros((2, 5)), kernels)
    with pytest.raises(ConfigurationError, match="θ must have 9 entries"):
        flat_squared_loss(shapes, x, y, kernels)(np.zeros(10))
