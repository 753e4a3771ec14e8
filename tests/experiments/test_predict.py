"""Predict the plateau of the network you actually train (issue 17): general teachers and losses,
escape in GD steps, `symescape predict`."""

import json
import re
from dataclasses import replace
from pathlib import Path

import mpmath
import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from tolerances import (
    EXPONENT,
    PREDICT_HE_CALIBRATED,
    PREDICT_VS_GD,
    ROUND_OFF,
    STEP_SHIFT,
    rel_err,
)

from symescape.cli import main
from symescape.errors import ConfigurationError, NoEscapeError, ZeroFirstHermiteError
from symescape.experiments.claims_predict import ansatz_case, he_case
from symescape.experiments.predict import (
    Calibration,
    InitKind,
    check_prediction,
    config_from_mapping,
    load_config,
    measure,
    predict,
)
from symescape.numeric.discrete import (
    GradientDescentMap,
    StepMethod,
    ansatz_metric,
    escape_steps,
)
from symescape.numeric.escape import escape_time_ode
from symescape.numeric.function_teacher import function_teacher
from symescape.numeric.reduced import reduced_model, teacher_reduced_model
from symescape.numeric.training import Engine
from symescape.symbolic.activations import Z, activation
from symescape.symbolic.constants import escape_constants
from symescape.symbolic.taylor import taylor_coefficients
from symescape.symbolic.teacher import (
    LabelMode,
    LossKind,
    student_teacher,
    teacher_constants,
    teacher_spec,
)

STUDENTS = ("tanh", "erf", "gelu", "sin", "sigmoid")
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)  # a symbolic example takes seconds


def _same(a, b):
    """Two Constants agree: the exact forms symbolically (when both exist), the values to 30
    digits."""
    assert (a.exact is None) == (b.exact is None)
    if a.exact is not None:
        assert sp.simplify(a.exact - b.exact) == 0
    with mpmath.workdps(50):
        assert abs(a.value - b.value) <= mpmath.mpf("1e-30") * max(1, abs(b.value))


# --- constants ----------------------------------------------------------------------------------


@settings(max_examples=3, phases=NO_SHRINK)
@given(
    st.sampled_from(STUDENTS),
    st.integers(min_value=1, max_value=6),
    st.fractions(min_value=-3, max_value=3, max_denominator=7).filter(lambda a: a != 0),
)
def test_teacher_equal_to_student_reproduces_todays_constants(student, depth, amplitude):
    a = sp.Rational(amplitude.numerator, amplitude.denominator)
    new = teacher_constants(student, depth, student_teacher(student, a))
    old = escape_constants(student, depth, a)
    _same(new.K, old.K)
    assert (new.kappa is None) == (old.kappa is None)
    if old.kappa is not None:
        _same(new.kappa, old.kappa)
        for g_new, g_old in zip(new.gamma, old.gamma, strict=True):
            _same(g_new, g_old)


@settings(max_examples=4, phases=NO_SHRINK)
@given(
    st.sampled_from(["erf(s)", "tanh(s)", "s + s**3/5", "sin(s) + cos(s)"]),
    st.sampled_from(["tanh", "gelu"]),
    st.fractions(min_value=-4, max_value=4, max_denominator=5).filter(lambda a: a != 0),
    st.sampled_from([LossKind.SQUARED, LossKind.LOGISTIC]),
)
def test_scaling_the_teacher_scales_K_and_keeps_kappa(teacher, student, amplitude, loss):
    a = sp.Rational(amplitude.numerator, amplitude.denominator)
    base = teacher_constants(student, 4, teacher, loss)
    scaled = teacher_constants(student, 4, teacher_spec(teacher).scaled(a), loss)
    with mpmath.workdps(50):
        factor = mpmath.mpf(a.p) / a.q
        assert abs(scaled.K.value - factor * base.K.value) <= mpmath.mpf("1e-30") * abs(
            base.K.value
        )
        assert abs(scaled.kappa.value - base.kappa.value) <= mpmath.mpf("1e-28")


def test_K_for_a_different_teacher_is_its_first_hermite_coefficient():
    # tanh student (c_1 = 1), erf teacher: K = E[erf(s) s] = 2/√(3π) at any depth.
    for depth in (2, 4):
        c = teacher_constants("tanh", depth, "erf(s)")
        assert sp.simplify(c.K.exact - 2 / sp.sqrt(3 * sp.pi)) == 0
    # logistic loss halves it: −ℓ'(0, y) = y/2.
    half = teacher_constants("tanh", 4, "erf(s)", LossKind.LOGISTIC)
    assert sp.simplify(half.K.exact - 1 / sp.sqrt(3 * sp.pi)) == 0
    # sign labels: E[sign(s) s]/2 = 1/√(2π), for any teacher with its only sign change at 0.
    signs = teacher_constants("tanh", 4, teacher_spec("erf(s)", LabelMode.SIGN), "logistic")
    assert sp.simplify(signs.K.exact - 1 / sp.sqrt(2 * sp.pi)) == 0


@pytest.mark.parametrize(("teacher", "order"), [("s**2 - 1", 2), ("s**3 - 3*s", 3), ("cos(s)", 2)])
def test_zero_first_hermite_coefficient_is_outside_with_its_order(teacher, order):
    with pytest.raises(ZeroFirstHermiteError) as info:
        teacher_constants("tanh", 4, teacher)
    assert info.value.order == order
    result = predict(config_from_mapping({"activation": "tanh", "depth": 4, "teacher": teacher}))
    assert result.steps is None and result.details["hermite_order"] == order
    assert "Hermite" in result.validity


def test_sign_labels_need_a_single_sign_change_at_zero():
    with pytest.raises(ConfigurationError):
        teacher_constants("tanh", 4, teacher_spec("s**3 - s", LabelMode.SIGN))


@pytest.mark.parametrize(
    ("student", "teacher", "loss", "labels"),
    [
        ("tanh", "erf(s)", "squared", "value"),
        ("tanh", "erf(s)", "logistic", "value"),
        ("erf", "tanh(s)", "logistic", "sign"),
        ("gelu", "sin(s) + s**2/4", "squared", "value"),
    ],
)
def test_K_and_kappa_against_the_reduced_field(student, teacher, loss, labels):
    # Independent route: on the balanced ray X = ρ 1 the reduced field gives
    # R = mean(F_l/X_l) = K ρ^{L-2} (1 + κ ρ^{q-1} + O(ρ^{q})); Richardson in ρ removes O(ρ^q).
    depth = 5
    model = teacher_reduced_model(student, depth, teacher_spec(teacher, labels), loss)
    K, kappa, q = float(model.constants.K), float(model.constants.kappa), model.classification.q

    def excess(rho):
        R = np.mean(model.field(np.full(depth, rho)) / rho)
        return (R / (K * rho ** (depth - 2)) - 1) / rho ** (q - 1)

    rho = 0.02
    tiny = 1e-3
    leading = np.mean(model.field(np.full(depth, tiny)) / tiny) / (K * tiny ** (depth - 2))
    assert abs(leading - 1) < 10 * tiny ** (q - 1) * max(1, abs(kappa))
    estimate = 2 * excess(rho / 2) - excess(rho)  # removes the O(ρ) term of the excess
    assert abs(estimate - kappa) <= 2e-3 * max(1, abs(kappa))


@pytest.mark.parametrize(
    ("student", "depth", "teacher"), [("tanh", 4, "s + s**3/5"), ("gelu", 3, "s + s**2/3")]
)
def test_K_and_kappa_by_symbolic_expansion_of_the_balanced_ray(student, depth, teacher):
    # Independent symbolic route: expand the chain (σ by its Taylor polynomial) on X_l = ρ in
    # powers of ρ, take E_s exactly (polynomial teacher), and read R = mean F_l/X_l =
    # K ρ^{L-2} (1 + κ ρ^{q-1} + …) off the coefficients.
    constants = teacher_constants(student, depth, teacher)
    q = constants.classification.q
    top = depth - 2 + q
    rho, s, z = sp.symbols("rho s z", real=True)
    coefficients = taylor_coefficients(activation(student), top + 1)
    sigma = sum(c * z**k for k, c in enumerate(coefficients))
    dsigma = sp.diff(sigma, z)
    g = activation(teacher).expr.xreplace({Z: s})

    def truncate(e):
        e = sp.expand(e)
        return sum(e.coeff(rho, k) * rho**k for k in range(top + 1))

    def gauss(e):
        poly = sp.Poly(sp.expand(e), s)
        return sum(c * sp.factorial2(m[0] - 1) for m, c in poly.terms() if m[0] % 2 == 0)

    pre, post = [], [s]
    for _ in range(depth - 1):
        pre.append(truncate(rho * post[-1]))
        post.append(truncate(sigma.subs(z, pre[-1])))
    f = truncate(rho * post[-1])
    R = 0
    for l in range(1, depth + 1):
        d = post[l - 1]
        for k in range(l, depth):
            d = truncate(d * rho * dsigma.subs(z, pre[k - 1]))
        R += truncate(gauss((g - f) * d)) / rho
    R = sp.expand(R / depth)
    K = R.coeff(rho, depth - 2)
    assert sp.simplify(K - constants.K.exact) == 0
    assert sp.simplify(R.coeff(rho, depth - 2 + q - 1) / K - constants.kappa.exact) == 0


def test_kappa_vanishes_for_an_odd_teacher_of_a_class_C_student():
    # E[tanh(s) s²] = 0: κ = 0, and the field's excess is of higher order than O(ρ) (measured
    # O(ρ³): GELU has c_3 = 0, and two c_2 insertions give even powers of s, which an odd teacher
    # does not see).
    c = teacher_constants("gelu", 4, "tanh")
    assert c.kappa.value == 0
    model = teacher_reduced_model("gelu", 4, "tanh")
    rho = np.array([0.02, 0.01])
    R = np.array([np.mean(model.field(np.full(4, r)) / r) for r in rho])
    excess = R / (float(c.K) * rho**2) - 1
    assert np.log(excess[0] / excess[1]) / np.log(2) >= 2 - EXPONENT


def test_default_teacher_reduced_model_is_todays_bit_for_bit():
    X = np.array([0.3, -0.2, 0.25, 0.4])
    for act in ("tanh", "softplus"):  # class B and class D (centred teacher and student)
        old, new = reduced_model(act, 4), teacher_reduced_model(act, 4, act)
        assert np.array_equal(old.field(X), new.field(X))
        assert old.loss(X) == new.loss(X)
        assert np.array_equal(old.jacobian(X), new.jacobian(X))


def test_multi_mode_teacher_is_refused_by_the_single_direction_ansatz():
    with pytest.raises(ConfigurationError):
        teacher_reduced_model("tanh", 4, ["erf(s)", "tanh(s)"])
    c = teacher_constants("tanh", 4, ["erf(s)", "tanh(s)/2"])
    with mpmath.workdps(50):
        expected = mpmath.sqrt(sum(b.value**2 for b in c.beta))
        assert abs(c.K.value - expected) <= mpmath.mpf("1e-30")


@pytest.mark.parametrize("zeros", [["0"], ["0", "s - s"]])
def test_teacher_modes_that_are_zero_are_dropped(zeros):
    # y is the same without them: the prediction is the single-mode one (exact on the ansatz),
    # not a leading-order value for "several modes" (1474 ± 14.7 against 1540 ± 1 steps before)
    single = predict(config_from_mapping({"activation": "tanh", "depth": 3, "teacher": "erf(s)"}))
    config = config_from_mapping({"activation": "tanh", "depth": 3, "teacher": ["erf(s)", *zeros]})
    assert len(config.teacher.modes) == 1
    assert predict(config) == single
    kept = config_from_mapping({"activation": "tanh", "depth": 3, "teacher": ["erf(s)", "s**2"]})
    assert len(kept.teacher.modes) == 2


def test_function_teacher_uses_its_own_functions():
    teacher = function_teacher(teacher_spec(["erf(s)", "s**2 - 1"]), 5)
    x = np.random.default_rng(0).standard_normal((7, 5))
    from scipy.special import erf

    assert np.allclose(teacher(x), erf(x[:, 0]) + x[:, 1] ** 2 - 1, atol=ROUND_OFF)
    signs = function_teacher(teacher_spec("s**3", LabelMode.SIGN), 5)
    assert np.array_equal(signs(x), np.sign(x[:, 0]))


# --- discrete steps -----------------------------------------------------------------------------


@pytest.mark.parametrize("eta", [0.2, 1.0, 2.0])
@pytest.mark.parametrize("rates", ["normalised", "uniform"])
def test_modified_equation_against_direct_summation(eta, rates):
    model = teacher_reduced_model("tanh", 4, "erf(s)", "logistic")
    gd = GradientDescentMap(model, eta, ansatz_metric(4, 4, rates))
    modified = escape_steps(gd, np.full(4, 0.1))
    summed = escape_steps(gd, np.full(4, 0.1), method="summation")
    assert abs(modified.steps - summed.steps) <= modified.error_estimate
    # and the correction matters: the uncorrected flow misses by more than the estimate
    assert abs(modified.steps_flow - summed.steps) > modified.error_estimate


@pytest.mark.parametrize("eta", [10.0, 20.0])
def test_a_rate_too_large_for_the_modified_equation_iterates_the_map(eta):
    # at η = 20 the modified field's ODE stalled for minutes; the first-order correction is
    # 0.72 (η = 10) and 1.45 (η = 20) of the field at the escape point, so the map is iterated,
    # and it is exact on the ansatz: the steps equal the summation route's
    model = teacher_reduced_model("tanh", 4, "erf(s)", "logistic")
    gd = GradientDescentMap(model, eta, ansatz_metric(4, 16, "normalised"))
    result = escape_steps(gd, np.full(4, 0.05))
    assert result.method is StepMethod.SUMMATION and "too large" in result.message
    assert result.steps == escape_steps(gd, np.full(4, 0.05), method="summation").steps
    small = GradientDescentMap(model, 0.5, ansatz_metric(4, 16, "normalised"))
    assert escape_steps(small, np.full(4, 0.05)).method is StepMethod.MODIFIED


def test_a_huge_rate_is_reported_in_a_readable_line():
    # η = 1e308: the correction's size was printed with '.2f', a 300-digit number
    model = teacher_reduced_model("tanh", 4, "erf(s)", "logistic")
    gd = GradientDescentMap(model, 1e308, ansatz_metric(4, 16, "normalised"))
    result = escape_steps(gd, np.full(4, 0.05))
    assert "too large" in result.message and not re.search(r"\d{20}", result.message)


@pytest.mark.slow
def test_large_rate_prediction_matches_the_network():
    config = replace(load_config(EXAMPLE), learning_rate=20.0)
    checked = check_prediction(config)
    assert checked.prediction.steps == checked.measurement.steps == 34


def test_a_network_that_blows_up_after_its_escape_still_measures_it():
    # η = 50 (tanh, L = 4, the defaults): the map crosses ρ* at step 4, then diverges (step 96);
    # the measuring run stops at the crossing instead of training to its budget
    config = config_from_mapping({"activation": "tanh", "depth": 4, "learning_rate": 50.0})
    checked = check_prediction(config)
    assert checked.prediction.steps == checked.measurement.steps == 4


def test_a_chain_whose_expectations_diverge_is_outside_with_exit_1():
    # σ = sin(z)e^z nested three times grows like exp(exp|s|): predict once ran for minutes
    out = CliRunner().invoke(
        main, ["predict", "--activation", "sin(x)*exp(x)", "--depth", "4", "--eps", "0.05"]
    )
    assert out.exit_code == 1, out.output
    assert "steps           None" in out.output and "chain nests" in out.output
    # the text output says which setting it answered (defaults included)
    assert "setting         σ = sin(x)*exp(x), L = 4, widths [8, 8, 8], η = 0.05" in out.output


def test_gradient_descent_without_escape_raises_no_escape():
    # K < 0 (a negative amplitude): the GD map reports it as the flow does, by name
    gd = GradientDescentMap(reduced_model("tanh", 3, -1.0), 0.5, ansatz_metric(3, 4, "uniform"))
    with pytest.raises(NoEscapeError, match="K = .* ≤ 0 for tanh"):
        escape_steps(gd, np.full(3, 0.1))


@pytest.mark.parametrize("eps", [0.1, 0.02])
def test_step_size_delay_has_a_closed_form(eps):
    # For dρ/dt = H(ρ) the Euler map's modified equation delays escape by
    # ΔT/η = ½ ∫ H'/H dρ = ½ ln(H(ρ*)/H(ε)) steps, independent of η at first order
    # (≈ ((L−1)/2) ln(ρ*/ε) at leading order): GD sits a few steps longer than T/η.
    model = teacher_reduced_model("tanh", 4, "erf(s)")
    gd = GradientDescentMap(model, 0.2, ansatz_metric(4, 6, "normalised"))
    delayed = escape_time_ode(gd, np.full(4, eps)).time / 0.2
    flow = escape_steps(gd, np.full(4, eps)).steps_flow

    def H(rho):
        return float(np.mean(model.field(np.full(4, rho))))

    expected = 0.5 * np.log(H(0.5) / H(eps))
    assert rel_err(delayed - flow, expected) <= STEP_SHIFT


# --- prediction against training ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("student", "teacher", "loss", "eta"),
    [("tanh", "erf(s)", "squared", 0.5), ("gelu", "tanh(s)", "logistic", 2.0)],
)
def test_prediction_against_full_network_gd(student, teacher, loss, eta):
    result = check_prediction(ansatz_case(student, teacher, loss, eta, 0.1), Engine.NUMPY)
    assert result.measurement.steps is not None
    assert rel_err(result.prediction.steps, result.measurement.steps) <= PREDICT_VS_GD


def test_sign_labels_prediction_against_full_network_gd():
    # y = sign(erf(s)) ∈ {±1} with the logistic loss: K = c_1^{L-1}/√(2π).
    config = ansatz_case("tanh", "erf(s)", "logistic", 1.0, 0.1, labels="sign")
    result = check_prediction(config, Engine.NUMPY)
    assert rel_err(result.prediction.steps, result.measurement.steps) <= PREDICT_VS_GD


@pytest.mark.slow
@pytest.mark.parametrize("eta", [0.2, 1.0])
@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize(("student", "teacher"), [("tanh", "erf(s)"), ("gelu", "tanh(s)")])
def test_prediction_against_full_network_gd_grid(student, teacher, loss, eta):
    result = check_prediction(ansatz_case(student, teacher, loss, eta, 0.05))
    assert result.measurement.steps is not None
    assert rel_err(result.prediction.steps, result.measurement.steps) <= PREDICT_VS_GD


@pytest.mark.slow
def test_he_normal_calibrated_prediction_at_two_further_eps():
    first = measure(he_case(0.025))
    assert first.steps is not None
    calibration = {"eps": 0.025, "steps": first.steps}
    for eps in (0.0125, 0.00625):
        predicted = predict(he_case(eps, calibration)).steps
        measured = measure(he_case(eps)).steps
        assert measured is not None
        assert rel_err(predicted, measured) <= PREDICT_HE_CALIBRATED


def test_he_normal_without_calibration_predicts_the_exponent_only():
    c = config_from_mapping(
        {
            "activation": "tanh",
            "depth": 5,
            "init": {"kind": "he-normal", "eps": 0.1, "bottleneck": 4},
        }
    )
    assert c.init.kind is InitKind.HE_NORMAL
    result = predict(c)
    assert result.steps is None and result.details["exponent"] == -2
    assert "prefactor" in result.validity
    calibrated = predict(
        config_from_mapping(
            {
                "activation": "tanh",
                "depth": 5,
                "init": {"kind": "he-normal", "eps": 0.05, "bottleneck": 4},
                "calibration": {"eps": 0.1, "steps": 100},
            }
        )
    )
    assert calibrated.steps == pytest.approx(400)
    with pytest.raises(ConfigurationError):
        Calibration(0.1, -3)


# --- configuration and CLI ----------------------------------------------------------------------


def test_config_errors_are_specific():
    with pytest.raises(ConfigurationError, match="unknown configuration keys"):
        config_from_mapping({"activation": "tanh", "depth": 4, "learnign_rate": 0.1})
    with pytest.raises(ConfigurationError):
        config_from_mapping({"activation": "tanh", "depth": 4, "learning_rate": -1})
    with pytest.raises(ConfigurationError):
        config_from_mapping({"activation": "tanh", "depth": 4, "loss": "hinge"})
    with pytest.raises(ConfigurationError):
        config_from_mapping({"activation": "tanh", "depth": 4, "widths": [4, 5, 6]})
    with pytest.raises(ConfigurationError):
        config_from_mapping({"activation": "tanh"})
    with pytest.raises(ConfigurationError, match="init.seed must be ≥ 0"):
        config_from_mapping({"activation": "tanh", "depth": 3, "init": {"seed": -1}})


@pytest.mark.parametrize("eps, eps0", [(1.0, 0.1), (0.1, 1.0), (2.0, 0.1)])
def test_he_normal_prediction_refuses_eps_not_below_one(eps, eps0):
    # at r = 2 the law ln(1/ε) is 0 at ε = 1 (a division by zero) and negative past it
    config = config_from_mapping(
        {
            "activation": "tanh",
            "depth": 3,
            "learning_rate": 0.1,
            "init": {"kind": "he-normal", "eps": eps, "bottleneck": 2},
            "calibration": {"eps": eps0, "steps": 100},
        }
    )
    with pytest.raises(ConfigurationError, match="ε < 1"):
        predict(config)


def test_toml_and_json_give_the_same_config(tmp_path):
    data = {
        "activation": "tanh",
        "depth": 3,
        "teacher": "erf(s)",
        "init": {"kind": "ansatz", "eps": 0.2},
        "learning_rate": 0.1,
    }
    (tmp_path / "c.json").write_text(json.dumps(data))
    (tmp_path / "c.toml").write_text(
        'activation = "tanh"\ndepth = 3\nteacher = "erf(s)"\nlearning_rate = 0.1\n'
        '[init]\nkind = "ansatz"\neps = 0.2\n'
    )
    assert load_config(tmp_path / "c.json") == load_config(tmp_path / "c.toml")
    with pytest.raises(ConfigurationError):
        load_config(tmp_path / "c.yaml")


def test_cli_predict_json_keys_and_error_exit(tmp_path):
    runner = CliRunner()
    out = runner.invoke(
        main,
        [
            "predict",
            "--activation",
            "tanh",
            "--depth",
            "3",
            "--teacher",
            "erf(s)",
            "--eps",
            "0.2",
            "--learning-rate",
            "0.1",
            "--json",
        ],
    )
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout)
    assert {"steps", "time", "order", "error_estimate", "basis", "validity"} <= set(record)
    assert record["time"] == pytest.approx(record["steps"] * 0.1)
    bad = runner.invoke(main, ["predict", "--activation", "tanh", "--depth", "0"])
    assert bad.exit_code != 0 and "depth" in bad.output


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "predict_tanh.toml"


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example_numbers() -> tuple[int, float, float, int]:
    """(steps, time, error estimate, measured steps) as the README states them."""
    text = " ".join(README.read_text().split())
    found = re.search(
        r"predicted (\d+) steps \(time ([\d.]+), error estimate ±(\d+) steps?\); "
        r"`--check` measures (\d+)",
        text,
    )
    assert found, "the README's worked example sentence changed"
    steps, time, error, measured = found.groups()
    return int(steps), float(time), float(error), int(measured)


def test_worked_example_predicts_inside_the_theory():
    result = predict(load_config(EXAMPLE))
    assert result.steps is not None and result.validity.startswith("inside")
    # the numbers the README prints are the ones the tool gives
    steps, time, error, _ = readme_example_numbers()
    assert (result.steps, result.time, round(result.error_estimate)) == (steps, time, error)
    assert result.time == pytest.approx(result.steps * 0.5)
    # the step-size correction and the exact flow both move the answer off T_lead
    assert result.details["steps_leading"] < result.details["steps_flow"] < result.steps


@pytest.mark.slow
def test_cli_check_prints_prediction_and_measurement():
    out = CliRunner().invoke(main, ["predict", str(EXAMPLE), "--check", "--json"])
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout[out.stdout.index("{") :])
    assert record["relative_error"] <= PREDICT_VS_GD
    assert record["measured_steps"] == readme_example_numbers()[3]  # as the README says


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"width": 1.9}, "widths must be an integer"),
        ({"width": True}, "widths must be an integer"),
        ({"learning_rate": True}, "learning_rate must be a real number"),
        ({"learning_rate": "0.1"}, "learning_rate must be a real number"),
        ({"init": {"eps": True}}, "init.eps must be a real number"),
        ({"init": {"eps": "0.1"}}, "init.eps must be a real number"),
        ({"init": {"kind": "he-normal", "bottleneck": 2.5}}, "init.bottleneck must be an integer"),
        ({"batch": 0}, "batch must be ≥ 1"),
    ],
)
def test_a_configuration_value_of_the_wrong_type_is_refused_not_coerced(extra, fragment):
    # a file's width 1.9 ran with widths [1, 1, 1] and learning_rate true at η = 1
    with pytest.raises(ConfigurationError, match=fragment):
        config_from_mapping({"activation": "tanh", "depth": 4, **extra})


@pytest.mark.parametrize("key, value", [("width", 10**6), ("batch", 10**9), ("input_dim", 10**7)])
def test_check_from_python_refuses_a_run_larger_than_memory_before_allocating(key, value):
    # the CLI refused these with an estimate; from Python they raised MemoryError (7.28 TiB)
    mapping = {"activation": "tanh", "depth": 3, "init": {"kind": "he-normal"}, key: value}
    with pytest.raises(ConfigurationError, match="GiB of memory"):
        check_prediction(config_from_mapping(mapping))


def test_an_unresolved_field_is_a_prediction_without_an_escape_not_a_crash():
    # predict's GD map has no 'nodes': the resolution message raised AttributeError
    result = predict(config_from_mapping({"activation": "x*exp(-5*x**2)", "depth": 2}))
    assert result.steps is None and "not resolved at the" in result.validity
    assert "between 96 and 384 nodes" in result.validity


def test_a_field_gap_too_small_to_move_a_step_does_not_refuse_the_prediction():
    # the audit's run: a relative field gap of 1.2e-6 at the escape point (above escape's 1e-6)
    # made predict answer "no escape predicted"; over 118 steps it moves the count by 1e-4
    config = config_from_mapping(
        {
            "activation": "tanh",
            "depth": 5,
            "width": 8,
            "teacher": "tanh(2*s)",
            "loss": "logistic",
            "learning_rate": 1.0,
            "init": {"kind": "ansatz", "eps": 0.2},
        }
    )
    result = check_prediction(config, Engine.NUMPY)
    assert result.prediction.steps is not None and result.measurement.steps is not None
    assert rel_err(result.prediction.steps, result.measurement.steps) <= PREDICT_VS_GD


def test_width_and_widths_together_are_refused_and_a_flag_replaces_the_files(tmp_path):
    # both keys: 'width' was silently ignored, so 'predict config.toml --width 32' kept the
    # file's widths
    base = {"activation": "tanh", "depth": 3, "teacher": "erf(s)"}
    with pytest.raises(ConfigurationError, match="not both"):
        config_from_mapping({**base, "width": 4, "widths": [8, 8]})
    (tmp_path / "c.json").write_text(json.dumps({**base, "widths": [8, 8]}))
    assert load_config(tmp_path / "c.json", {"width": 32}).widths == (32, 32)
    (tmp_path / "d.json").write_text(json.dumps({**base, "width": 8}))
    assert load_config(tmp_path / "d.json", {"widths": [16, 16]}).widths == (16, 16)
    # likewise --eps replaces the file's explicit init scales (which override ε)
    (tmp_path / "e.json").write_text(
        json.dumps({**base, "init": {"kind": "ansatz", "scales": [0.1, 0.2, 0.3]}})
    )
    assert load_config(tmp_path / "e.json", {"init": {"eps": 0.05}}).init.scales is None


def test_config_file_defects_get_one_clear_error(tmp_path):
    # a hostile pass: a non-UTF-8 file raised UnicodeDecodeError; a [calibration] table leaked
    # "Calibration.__init__() missing 1 required positional argument"; nodes = 1e8 ran for
    # minutes with no word
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_config(binary)
    base = {"activation": "tanh", "depth": 4, "init": {"kind": "he-normal", "eps": 0.05}}
    for table, fragment in [
        ({"eps": 0.1}, "exactly eps"),
        ({"eps": 0.1, "steps": 10, "foo": 1}, "exactly eps"),
        (3, "exactly eps"),
        ({"eps": "x", "steps": 3}, "calibration eps"),
        ({"eps": 0.1, "steps": 100.5}, "calibration steps"),
    ]:
        with pytest.raises(ConfigurationError, match=fragment):
            config_from_mapping({**base, "calibration": table})
    with pytest.raises(ConfigurationError, match="reduced field on 100000000 nodes needs about"):
        config_from_mapping({"activation": "tanh", "depth": 4, "nodes": 10**8})


def test_max_steps_reached_is_named_as_such():
    # it read "time budget 0.25 exhausted", like the --budget seconds option (a hostile pass)
    result = predict(config_from_mapping({"activation": "tanh", "depth": 4, "max_steps": 5}))
    assert result.steps is None and "max_steps = 5 reached" in result.validity


def test_the_setting_line_shows_explicit_scales(tmp_path):
    # explicit init scales override ε, and the line said 'ansatz start at ε = 0.1' (a hostile
    # pass); the prediction used the scales
    path = tmp_path / "s.json"
    path.write_text(
        json.dumps(
            {
                "activation": "tanh",
                "depth": 4,
                "init": {"kind": "ansatz", "scales": [0.1, 0.2, 0.1, 0.1]},
            }
        )
    )
    line = next(
        row
        for row in CliRunner().invoke(main, ["predict", str(path)]).stdout.splitlines()
        if row.startswith("setting")
    )
    assert "start at scales [0.1, 0.2, 0.1, 0.1]" in line and "ε =" not in line


def test_a_huge_depth_is_refused_for_its_reason_not_for_memory():
    # depth 1e11 said 'out of memory: use smaller sizes' (a hostile pass); 1e5 gave the reason
    with pytest.raises(ConfigurationError, match="beyond the 100 layers"):
        config_from_mapping({"activation": "tanh", "depth": 10**11})


def test_a_staircase_teacher_is_resolved_and_trained_on_the_predictions_rule():
    # floor(s) jumps at every integer: split at 0 alone, its field was unresolved (gap 0.036
    # between 96 and 384 nodes) and no escape was predicted. Split at each jump, the prediction
    # does not move with the nodes, and the network trained on the same population (the
    # check's data on the rule's nodes; the plain rule's was off by 4 % at 96 nodes) escapes
    # at the predicted step.
    steps = []
    for nodes in (96, 384):
        config = config_from_mapping(
            {"activation": "tanh", "depth": 4, "teacher": "floor(s)", "nodes": nodes}
        )
        model = teacher_reduced_model("tanh", 4, "floor(s)", nodes=nodes)
        assert model.breakpoints == tuple(float(n) for n in range(-14, 15))
        result = check_prediction(config)
        assert result.prediction.steps is not None and result.measurement.steps is not None
        assert rel_err(result.prediction.steps, result.measurement.steps) <= PREDICT_VS_GD
        steps.append(result.prediction.steps)
    assert abs(steps[0] - steps[1]) <= 1


def test_a_teacher_outside_the_theory_is_still_trained_by_measure():
    # g = s² − 1 has no linear component (outside the first-order theory): the prediction says
    # so, but measuring the network needs only the population's rule, not the escape constants
    config = config_from_mapping(
        {"activation": "tanh", "depth": 3, "teacher": "s**2 - 1", "max_steps": 50}
    )
    with pytest.raises(ZeroFirstHermiteError):
        teacher_reduced_model("tanh", 3, "s**2 - 1")
    result = measure(config, engine=Engine.NUMPY)
    assert result.steps_run == 50


@pytest.mark.parametrize("teacher", ["sign(s)", "Heaviside(s) - 1/2"])
def test_a_teacher_with_a_jump_is_predicted_and_trained(teacher):
    # a teacher needs values only: sign(s) has no σ' kernel (its derivative is a DiracDelta),
    # which used to stop the prediction with "name 'DiracDelta' is not defined"
    config = config_from_mapping({"activation": "tanh", "depth": 3, "teacher": teacher})
    result = check_prediction(config)
    assert result.prediction.steps is not None and result.measurement.steps is not None
    assert rel_err(result.prediction.steps, result.measurement.steps) <= PREDICT_VS_GD
