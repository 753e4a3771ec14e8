"""Bad input through the Python API (a third hostile test, from Python): each call gets the
project's own exception with a message that says what to change, never a raw AttributeError,
TypeError, IndexError or a library's ValueError from deep inside."""

import numpy as np
import pytest
import sympy as sp

import symescape as se
from symescape.experiments.predict import InitConfig, config_from_mapping
from symescape.numeric.inits import he_normal_weights
from symescape.numeric.teachers import single_mode_teacher
from symescape.numeric.training import TrainingConfig, train
from symescape.options import RHO_STAR
from symescape.symbolic.resolved import activation_kernels

S = sp.Symbol("s", real=True)


@pytest.mark.parametrize(
    "call, match",
    [
        # enums: the message lists the choices ("'hinge' is not a valid LossKind" listed none)
        (lambda: se.teacher_constants("tanh", 4, "erf(s)", loss="hinge"),
         "loss must be one of 'squared', 'logistic'; got 'hinge'"),
        (lambda: se.teacher_spec("erf", labels="binary"), "labels must be one of 'value', 'sign'"),
        (lambda: se.gaussian_expectation(S**2, S, "foo"), "method must be one of"),
        # a teacher that is neither a function nor a sequence ("'int' object is not iterable")
        (lambda: se.teacher_constants("tanh", 4, 3), "a teacher is a function"),
        # node counts (scipy's ValueError, or TypeError for a string)
        (lambda: se.reduced_model("tanh", 3, nodes=2.5), "nodes must be an integer"),
        (lambda: se.reduced_model("tanh", 3, nodes="96"), "nodes must be an integer"),
        (lambda: se.gauss_hermite_rule(2.5), "Gauss–Hermite nodes must be an integer"),
        # a name where a model belongs ("'str' object has no attribute 'constants'")
        (lambda: se.escape_times("tanh", [0.1] * 3), "needs a ReducedModel"),
        # settings the chosen start would drop without a word
        (lambda: InitConfig(kind="ansatz", bottleneck=2), "init.bottleneck is for He-normal"),
        (lambda: InitConfig(kind="he-normal", scales=(0.1, 0.1)), "init.scales is for ansatz"),
        # an integrand in another symbol (lambdify's NameError at the first node)
        (lambda: se.gaussian_expectation(S**4, sp.Symbol("x", real=True)), "free symbols"),
        # text where numbers belong was read as numbers by np.asarray (the README: values
        # passed to the API are never parsed as text); None said "1 scales given for depth 3"
        (lambda: se.escape_times(se.reduced_model("tanh", 3), ["0.01"] * 3),
         "scales must be real numbers, got '0.01'"),
        (lambda: se.escape_times(se.reduced_model("tanh", 3), None),
         "scales must be real numbers, got None"),
        (lambda: se.balanced_time("0.01", 0.6, 3), "ε must be real numbers"),
        (lambda: se.balanced_time([0.01, 1j], 0.6, 3), "ε must be real numbers, got 1j"),
        # the message named the range of all ε ("got 0…0"), not the ones outside (0, ρ*)
        (lambda: se.balanced_time([0.1, -1, 0.2, 0.7], 0.6, 3), r"got ε = -1, 0\.7$"),
        # a number where the integrand belongs ("'int' object is not callable")
        (lambda: se.expectation_gauss_hermite(3), "values must be a function"),
        # init as a string ("dictionary update sequence element #0 has length 1")
        (lambda: config_from_mapping({"activation": "tanh", "depth": 4, "init": "ansatz"}),
         "init must be a table"),
        # not a mapping at all: TypeError 'NoneType' object is not iterable (review, 2026-12-07)
        (lambda: config_from_mapping(None), "a configuration is a mapping of keys .*got NoneType"),
        (lambda: config_from_mapping(["tanh", 4]), "got list"),
    ],
)  # fmt: skip
def test_bad_python_input_is_a_configuration_error(call, match):
    with pytest.raises(se.ConfigurationError, match=match):
        call()


def test_predict_config_takes_names_for_the_activation_and_the_teacher():
    # teacher="erf(s)" raised AttributeError: 'str' object has no attribute 'modes'
    by_name = se.PredictConfig(activation="tanh", depth=4, teacher="erf(s)", widths=(16,) * 3)
    by_object = se.PredictConfig(
        activation=se.activation("tanh"), depth=4, teacher=se.teacher_spec("erf(s)"),
        widths=(16,) * 3,
    )  # fmt: skip
    assert by_name == by_object
    assert se.predict(by_name).steps == se.predict(by_object).steps


def test_train_takes_a_name_for_the_kernels_and_refuses_nan_labels():
    weights = he_normal_weights([4, 4, 1], ensemble=2, seed=0)
    teacher = single_mode_teacher(4)
    config = TrainingConfig(steps=5, learning_rate=0.1, batch=8, engine="numpy")
    by_name = train(weights, teacher, "tanh", config)
    by_kernels = train(weights, teacher, activation_kernels("tanh"), config)
    assert np.array_equal(by_name.loss, by_kernels.loss)
    # NaN labels were reported as a divergence: "lower the learning rate"
    x = np.random.default_rng(0).standard_normal((2, 8, 4))
    with pytest.raises(se.ConfigurationError, match="NaN or inf"):
        train(weights, teacher, "tanh", config, fixed_batch=(x, np.full((2, 8), np.nan), None))


def test_gauss_hermite_expectation_of_a_constant_function():
    # lambda s: 1.0 returns a scalar: matmul's ValueError before; E[1] = Σ w_i = 1
    assert se.expectation_gauss_hermite(lambda s: 1.0, 8) == pytest.approx(1.0, rel=1e-14)


@pytest.mark.parametrize(
    "call, match",
    [(lambda: se.saddle_blocks(np.eye(2), [0], [5]), "second must be a non-empty list"),
     (lambda: se.metzler_gauge(np.eye(2), [0], [5]), "second must be a non-empty list"),
     (lambda: se.saddle_blocks(np.eye(3), [0, 1], [1, 2]), "share indices \\[1\\]"),
     (lambda: se.saddle_blocks(np.ones((2, 3)), [0], [1]), "square matrix"),
     (lambda: se.first_integrals("tanh", 3, extra=-1), "extra must be ≥ 0")],
)  # fmt: skip
def test_index_and_order_arguments_are_checked(call, match):
    # IndexError from numpy or from a list, naming no argument
    with pytest.raises(se.ConfigurationError, match=match):
        call()


def test_a_balanced_time_past_double_precision_is_refused_not_an_overflow():
    # depth 10⁶ raised OverflowError (34, 'Numerical result out of range'); depth 200 at
    # ε = 0.01 gave inf (ε^-198 = 1e396)
    for depth in (200, 10**6):
        with pytest.raises(se.NumericalError, match="exceeds double precision"):
            se.balanced_time([0.01, 0.1], 0.6, depth)
    assert np.isclose(se.balanced_time(0.01, 0.6, 5)[0], (0.01**-3 - RHO_STAR**-3) / (0.6 * 3))


def test_a_units_teacher_with_its_default_values_says_so():
    # 'units:' said "with 2 values" though none were given: the defaults are named
    from symescape.numeric.teachers import build_teacher, parse_teacher

    with pytest.raises(se.ConfigurationError, match=r"with 2 values \(its defaults 2, 1\)"):
        build_teacher(parse_teacher("units:"), input_dim=8, outputs=1, seed=0)


@pytest.mark.parametrize("rho0, match", [(2, "below ρ\\*"), (0, "> 0"), ("x", "a real number")])
def test_the_slow_manifold_start_is_checked_by_name(rho0, match):
    # rho0 = 2 said "initial scales must be finite and > 0, got [0.0, 0.0, inf]"
    with pytest.raises(se.ConfigurationError, match=f"rho0 .*{match}"):
        se.escape_time_series("tanh", 3, 0.01, rho0=rho0)
