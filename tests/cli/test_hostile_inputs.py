"""Hostile input (issue 13): nothing in an activation string is executed, every limit has its own
message, exact zero tests, and every bad CLI option exits non-zero with one line, no traceback."""

import json
import os
import re
import stat

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner
from tolerances import ROUND_OFF

import symescape
from symescape import ActivationError, ConfigurationError, Z, activation, classify
from symescape.cli import main
from symescape.errors import (
    RefusedExpressionError,
    StalePointWarning,
    SymescapeError,
    TimeBudgetError,
)
from symescape.experiments.imbalance import random_identity_check
from symescape.experiments.sweeps import SweepStore, point_key, write_atomic
from symescape.symbolic.budget import default_budget, time_budget
from symescape.symbolic.parsing import MAX_EXPONENT, MAX_LENGTH, MAX_NESTING, MAX_TERMS


def injections(sentinel):
    """Ways to smuggle code into an expression; each would create ``sentinel`` if executed."""
    command = f"touch {sentinel}"
    return [
        f"tanh(x) + 0*__import__('os').system('{command}')",
        f"x + 0*exec(\"import os; os.system('{command}')\")",
        f"x + 0*eval(\"__import__('os').system('{command}')\")",
        f"x + getattr(x, 'func')('{command}')",
        f"x + 0*[os.system('{command}') for _ in range(1)]",
        f"(lambda: os.system('{command}'))()",
        f"x + x.func.__globals__['os'].system('{command}')",
        f"Symbol('{command}')",
        f"sympify(\"__import__('os').system('{command}')\")",
        f"x + 0*open('{sentinel}', 'w').close()",
        f"x + system(f'{command}')",
    ]


def assert_one_line_failure(result, code=2):
    """Non-zero exit, one line of output, no traceback."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


COMMANDS = [
    lambda text: ("classify", text),
    lambda text: ("escape", "--activation", text, "--depth", 3, "--eps", 0.1),
    lambda text: ("identity", "--activation", text),
    lambda text: ("escape-directions", "--activation", text),
]


@pytest.mark.parametrize("command", range(len(COMMANDS)))
def test_injection_never_runs_from_the_cli(tmp_path, command):
    sentinel = tmp_path / "SENTINEL"
    for text in injections(sentinel):
        line = assert_one_line_failure(run(*COMMANDS[command](text)))
        assert "refused" in line or "cannot parse" in line, line
        assert not sentinel.exists(), text


def test_injection_never_runs_from_derive(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    for text in injections(sentinel):
        assert_one_line_failure(run("derive", text, "--out", tmp_path / "out"))
        assert not sentinel.exists(), text
    assert not (tmp_path / "out").exists()  # refused before any write


def test_injection_never_runs_from_the_api(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    for text in injections(sentinel):
        with pytest.raises(ActivationError):
            symescape.activation(text)
        assert not sentinel.exists(), text


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("(" * 500 + "x" + ")" * 500, f"limit {MAX_NESTING}"),
        ("+".join(["x"] * 3000), f"limit of {MAX_LENGTH}"),
        ("+".join(["x"] * (MAX_TERMS + 1)), f"more than {MAX_TERMS} terms"),
        ("x+" + "-" * (MAX_NESTING + 5) + "x", f"more than {MAX_NESTING} operations deep"),
        ("x**(10**100)", f"|n| ≤ {MAX_EXPONENT}"),
        ("2**2**2**2**2*x", f"|n| ≤ {MAX_EXPONENT}"),
        ("(9**999)**999*x", "digits"),
        ("2x", "implicit multiplication"),
        ("x.real", "attribute access"),
        ("x[0]", "subscripts"),
        ("x + __import__", "dunder"),
        ("lambda: x", "lambdas"),
        ("[x for x in y]", "comprehensions"),
        ("sin(x=1)", "keyword arguments"),
        ("'x'", "strings"),
        ("foo(x)", "unknown function 'foo'"),
        ("x*y", "second variable"),
        ("x + _x", "may not start with '_'"),
        ("1e400*x", "not finite"),
        ("1j*x", "complex literals"),
        # found by a random-tree search: SymPy's Poly and nsimplify ended in a bare ValueError
        # ("pow() outrageous exponent") or OverflowError on e^(±8e30)
        ("(silu(8e30)) - (Max(E, 6e-17))", f"constant beyond |a| ≤ {MAX_EXPONENT}"),
        ("exp(600)*exp(600)*x", f"constant beyond |a| ≤ {MAX_EXPONENT}"),  # SymPy: exp(1200)
        ("x + x**2/(exp(-8e30) + 1)", f"constant beyond |a| ≤ {MAX_EXPONENT}"),
        ("x + sinh(2000)", f"constant beyond |a| ≤ {MAX_EXPONENT}"),
    ],
)
def test_each_refusal_and_limit_has_its_own_message(text, fragment):
    line = assert_one_line_failure(run("classify", text))
    assert fragment in line, line
    with pytest.raises(RefusedExpressionError, match=re.escape(fragment)):
        activation(text)


def test_sympy_input_gets_the_same_exponent_limit():
    with pytest.raises(RefusedExpressionError, match="exceeds the limit"):
        classify(Z ** (10**100))
    with pytest.raises(RefusedExpressionError, match="exponential of a constant beyond"):
        classify(Z + sp.exp(-sp.Integer(10) ** 31))


@pytest.mark.parametrize(
    "text, label", [("x + exp(1000)*x**2", "C"), ("x*exp(-8e30*x)", "C"), ("x + exp(-1000)", "D")]
)
def test_exponentials_within_the_limit_or_of_the_variable_are_classified(text, label):
    assert classify(text).label == label


@pytest.mark.parametrize("text", ["tanh(1000*x)", "x + 10**(-120)*x**3", "x + 1e-120*x**3"])
def test_tiny_or_steep_cubic_terms_are_exactly_class_B3(text):
    result = classify(text)
    assert result.label == "B_3"
    assert not any("numerically" in step for step in result.steps)


def test_exact_cancellation_is_class_A_and_says_how():
    result = classify("x + sin(x)**2 + cos(x)**2 - 1")
    assert result.label == "A"


def test_time_budget_stops_a_step_with_a_message():
    with pytest.raises(TimeBudgetError, match="a slow step: stopped after its time budget"):
        with time_budget("a slow step", 0.2):
            while True:
                sp.expand((Z + 1) ** 40)


def test_time_budget_survives_code_that_swallows_value_errors():
    """SymPy catches ValueError (a TimeBudgetError is one) in places: the alarm fires again
    until the budgeted block is left, so the step still stops.

    The first alarm lands inside a ``try`` that spans the whole first loop, so it is swallowed
    for certain; the second loop has no ``try``, so only a repeated alarm can end it.
    """
    swallowed = False
    with pytest.raises(TimeBudgetError, match="a swallowing step"):
        with time_budget("a swallowing step", 0.1):
            try:
                while True:
                    sp.expand((Z + 1) ** 40)
            except ValueError:  # what SymPy does to the first alarm in places
                swallowed = True
            while True:
                sp.expand((Z + 1) ** 40)
    assert swallowed


def test_time_budget_holds_when_the_alarm_is_swallowed_and_the_block_ends():
    """An alarm can land where its exception is swallowed for good (CI saw one land in
    hypothesis's gc callback, which only prints it) and the block can then finish before the
    alarm repeats: the block still ends in the budget error, not in a silent overrun."""
    swallowed = False
    with pytest.raises(TimeBudgetError, match="a finishing step"):
        with time_budget("a finishing step", 0.05):
            try:
                while True:
                    sp.expand((Z + 1) ** 40)
            except ValueError:
                swallowed = True  # and the block returns at once, within the 0.25 s repeat
    assert swallowed


def test_time_budget_names_itself_when_code_converts_the_alarm():
    """Code that catches the alarm's ValueError and raises its own error instead (as some SymPy
    routines do): past the deadline the block still ends in a TimeBudgetError, chained to it."""

    class ConvertedError(RuntimeError):
        pass

    with pytest.raises(TimeBudgetError, match="a converting step") as caught:
        with time_budget("a converting step", 0.1):
            try:
                while True:
                    sp.expand((Z + 1) ** 40)
            except ValueError as exc:
                raise ConvertedError("not a budget error") from exc
    assert isinstance(caught.value.__cause__, ConvertedError)


def test_an_error_before_the_deadline_is_not_a_budget_error():
    with pytest.raises(KeyError):
        with time_budget("a failing step", 60):
            raise KeyError("genuine")


def test_the_cli_sets_the_symbolic_budget():
    # the error message tells a CLI user to raise the budget: there is an option to do it
    slow = "tanh(exp(sin(x) + x) - 1)*atan(x)**3 + x + x**2*sinh(x)"
    result = run("--budget", "0.01", "classify", slow)
    assert result.exit_code != 0 and "time budget of 0.01 s" in result.output
    assert "symescape --budget SECONDS" in result.output
    assert run("--budget", "0", "classify", "tanh").exit_code == 2


def test_time_budget_reaches_classify():
    expr = sp.tanh(sp.exp(sp.sin(Z) + Z) - 1) * sp.atan(Z) ** 3 + Z  # a slow Taylor expansion
    classify.cache_clear()
    with default_budget(0.05), pytest.raises(TimeBudgetError, match="time budget of 0.05 s"):
        classify(expr)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("escape", "--depth", 3, "--eps", 0.1, "--rtol", 0), "--rtol must be > 0"),
        (("escape", "--depth", 3, "--eps", 0.1, "--rtol", 10), "a relative error must be < 1"),
        (("escape", "--depth", 3, "--eps", 0.1, "--precision", 20, "--method", "lsoda"),
         "--method does not apply to the mpmath ODE"),
        (("escape", "--depth", 3, "--eps", 0.1, "--method", "series", "--max-time", 1),
         "--max-time does not apply to --method series"),
        (("classify", "tanh", "--json", "--latex"), "choose one"),
        (("escape", "--depth", 3, "--eps", 0.1, "--rtol", "nan"), "finite"),
        (("escape", "--depth", 3, "--eps", 0.1, "--rtol", -1), "--rtol must be > 0"),
        (("escape", "--depth", 3, "--eps", 0.1, "--rtol", 1e-20), "below what double precision"),
        (("escape", "--depth", 3, "--eps", 0.1, "--rtol", "inf"), "finite"),
        (("escape", "--depth", 3, "--eps", 0.1, "--max-time", -1), "--max-time must be ≥ 0"),
        (("escape", "--depth", 3, "--eps", 0.1, "--max-time", "nan"), "not NaN"),
        (("escape", "--depth", 3, "--eps", "nan"), "finite"),
        (("escape", "--depth", 3, "--eps", -0.1), "--eps must be > 0"),
        (("escape", "--depth", 0, "--eps", 0.1), "must be ≥"),
        (("escape", "--depth", "x", "--eps", 0.1), "must be an integer ≥ 1"),
        (("escape", "--depth", 3, "--scales", "0.1,nan,0.1"), "finite"),
        (("escape", "--depth", 3, "--scales", "a,b"), "comma-separated"),
        (("escape", "--depth", 3, "--eps", 0.1, "--amplitude", "nan"), "finite"),
        (("escape", "--depth", 3, "--eps", 0.1, "--criterion", "nope:1"), "criterion"),
        (("escape", "--depth", 3, "--eps", 0.1, "--method", "magic"), "magic"),
        (("escape", "--depth", 3), "exactly one of --eps and --scales"),
        (("escape", "--depth", 10**9, "--eps", 0.1), "GiB of memory"),
        (("escape", "--depth", 200, "--eps", 0.1), "beyond the 100 layers"),
        (("classify", "tanh", "--depth", 101), "beyond the 100 layers"),
        (("escape", "--depth", 3, "--eps", 0.1, "--precision", 5), "between 15 and 200"),
        (("escape", "--depth", 4, "--eps", 10), "nothing to escape"),
        (("escape", "--depth", 4, "--eps", 10, "--precision", 30), "nothing to escape"),
        (("escape", "--depth", 4, "--scales", "0.01,0.02", "--method", "series"), "2 scales"),
        (("expand", "tanh", "--depth", 4, "--precision", 5), "between 15 and 200"),
        (("identity", "--seed", -1), "must be ≥"),
        (("identity", "--depth", 1), "must be ≥ 2"),
        (("identity", "--width", 0), "must be ≥"),
        (("identity", "--batch", -3), "must be ≥"),
        (("identity", "--width", 1000000), "GiB of memory"),
        (("identity", "--loss", "hinge"), "hinge"),
        (("escape-directions", "--width", 100000), "GiB of memory"),
        (("escape-directions", "--samples", 10**9), "GiB of memory"),
        (("escape-directions", "--seed", -2), "must be ≥"),
        (("escape-directions", "--restarts", 0), "must be ≥"),
        (("escape-directions", "--search-starts", -5), "--search-starts must be ≥ 0"),
        (("escape-directions", "--samples", 1), "samples must be ≥ 2"),
        (("saddle-to-saddle", "--seed", -1), "--seed must be ≥ 0"),
        (("predict", "--activation", "tanh", "--depth", 3, "--width", 10**9, "--check"),
         "GiB of memory"),
        (("saddle-to-saddle", "--width", 10**6), "GiB of memory"),
        (("saddle-to-saddle", "--samples", 10**10), "GiB of memory"),
        (("saddle-to-saddle", "--width", 0), "--width must be ≥ 1"),
        (("saddle-to-saddle", "--init-scale", "nan"), "finite"),
        (("saddle-to-saddle", "--time", -1), "--time must be > 0"),
        (("classify", "tanh", "--depth", 0), "must be ≥"),
        (("classify", "tanh", "--order", 999), "range"),
        (("classify", "tanh", "--depth", 4, "--amplitude", "nan"), "finite"),
        (("classify", "tanhh"), "unknown activation"),
        (("derive", "tanh", "--depth", -1), "must be ≥"),
        (("nosuchcommand",), "No such command"),
    ],
)
def test_bad_option_values_exit_2_with_one_line(args, fragment):
    line = assert_one_line_failure(run(*args))
    assert fragment in line, line


def test_escape_failure_is_a_non_zero_exit():
    result = run("escape", "--depth", 3, "--eps", 0.1, "--criterion", "product:5", "--json")
    assert result.exit_code == 1, result.output
    record = json.loads(result.stdout)
    assert record["status"] != "escaped"
    if record["status"] == "failed":  # the integrator gave up: say where the flow stood
        assert "geometric mean of X at" in record["message"], record["message"]


def test_escape_warns_outside_the_hypothesis():
    result = run("escape", "--activation", "x + x**4", "--depth", 3, "--eps", 0.2, "--json")
    assert "outside the hypothesis" in result.stderr
    assert json.loads(result.stdout)["activation"] == "x + x**4"


def test_library_error_is_one_line():
    line = assert_one_line_failure(run("identity", "--activation", "exp(x)", "--depth", 30))
    assert "overflow" in line


def test_identity_underflow_reports_only_measurable_errors():
    # σ = z/10 shrinks every signal tenfold per layer: at L = 400 every term is subnormal, so no
    # relative error means anything; the command says so and fails instead of printing one.
    args = ("identity", "--activation", "x/10", "--depth", 400, "--width", 2, "--batch", 2)
    result = run(*args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "underflowed" in result.output and "no identity could be measured" in result.output
    record = json.loads(run(*args, "--json").stdout)
    assert record["max_rel_error"] is None and record["underflowed_identities"] == 2 * 399 + 1
    healthy = json.loads(run("identity", "--json").stdout)
    assert healthy["underflowed_identities"] == 0 and healthy["max_rel_error"] < ROUND_OFF


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: symescape.gaussian_moment(activation("tanh"), "3"), "moment order"),
        (lambda: symescape.taylor_coefficients(activation("tanh"), "3"), "order"),
        (lambda: symescape.corrected_time_mpmath(float("nan"), 1.0, 0.1, 3, 4), "eps"),
        (lambda: symescape.corrected_time_mpmath(0.1, "a", 0.1, 3, 4), "K"),
        (lambda: symescape.corrected_time(0.1, 1.0, float("nan"), 3, 4), "kappa"),
        (lambda: symescape.leading_time(np.array([0.1, 0.1]), float("nan")), "K"),
        (lambda: symescape.escape_constants("tanh", "4"), "depth"),
        (lambda: symescape.escape_constants("tanh", 4, float("nan")), "amplitude"),
        (
            lambda: symescape.schur_perron(
                np.diag([np.nan, 1.0]), np.ones((2, 2)), np.ones((2, 2)), np.eye(2)
            ),
            "non-finite",
        ),
    ],
)
def test_api_arguments_raise_configuration_error_naming_them(call, name):
    with pytest.raises(ConfigurationError, match=name):
        call()


def test_api_escape_time_checks_tolerances():
    model = symescape.reduced_model("tanh", 3)
    for kwargs, name in [({"rtol": 0}, "rtol"), ({"max_time": float("nan")}, "max_time")]:
        with pytest.raises(ConfigurationError, match=name):
            symescape.escape_time_ode(model, np.full(3, 0.1), **kwargs)
    with pytest.raises(ConfigurationError, match="scales"):
        symescape.escape_time_ode(model, "a")


def test_mu1_accepts_a_name():
    assert symescape.mu1("x").exact == 1


@pytest.mark.parametrize("content", ["", '{"params": {"a"', '{"result": {}}', "[1, 2]"])
def test_broken_sweep_points_are_named_and_recomputed(tmp_path, content):
    params = {"depth": 4, "eps": 0.1}
    path = tmp_path / f"{point_key(params)}.json"
    path.write_text(content)
    store = SweepStore(tmp_path)
    with pytest.warns(StalePointWarning, match=path.name):
        assert store.get(params, lambda: {"value": 1.0}) == {"value": 1.0}
    assert store.computed == 1 and store.reused == 0
    again = SweepStore(tmp_path)
    assert again.get(params, lambda: {"value": 2.0}) == {"value": 1.0} and again.reused == 1


def test_point_from_other_settings_is_never_reused(tmp_path):
    params, other = {"depth": 4, "eps": 0.1}, {"depth": 5, "eps": 0.1}
    SweepStore(tmp_path).get(other, lambda: {"value": 5.0})
    # Move the other settings' point to this point's file name, as a name clash would.
    os.replace(tmp_path / f"{point_key(other)}.json", tmp_path / f"{point_key(params)}.json")
    store = SweepStore(tmp_path)
    with pytest.warns(StalePointWarning, match="other settings"):
        assert store.get(params, lambda: {"value": 4.0}) == {"value": 4.0}
    record = json.loads((tmp_path / f"{point_key(params)}.json").read_text())
    assert record["params"] == params and len(record["settings_hash"]) == 64


def test_written_files_respect_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.json", "{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644


def test_derive_does_not_merge_two_expressions(tmp_path):
    first = run("derive", "x/2+x**3", "--out", tmp_path)
    second = run("derive", "x*2+x**3", "--out", tmp_path)
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    paths = {first.output.strip(), second.output.strip()}
    assert len(paths) == 2
    for path in paths:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~_umask()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_strings_given_as_numbers_or_expressions_are_never_evaluated(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    payload = f"__import__('os').system('touch {sentinel}')"
    s = sp.Symbol("s", real=True)
    with pytest.raises(ConfigurationError, match="amplitude"):
        symescape.escape_constants("tanh", 4, payload)
    with pytest.raises(ConfigurationError, match="amplitude"):
        symescape.reduced_model("tanh", 3, payload)
    for call in (
        lambda: symescape.expectation_exact(payload, s),
        lambda: symescape.gaussian_expectation(payload, s),
    ):
        with pytest.raises((SymescapeError, sp.SympifyError)):
            call()
    assert not sentinel.exists()


def test_nested_budgets_name_the_one_that_ran_out_and_disarm():
    import signal
    import time

    with pytest.raises(TimeBudgetError, match="outer step") as info:
        with time_budget("outer step", 0.2), time_budget("inner step", 30.0):
            time.sleep(2.0)
    assert info.value.seconds == 0.2
    with time_budget("quick step", 30.0):
        pass
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    with pytest.raises(ConfigurationError, match="time budget"):
        with time_budget("bad", float("nan")):
            pass


def test_an_empty_scales_entry_is_refused_by_every_path():
    # "0.01,,0.02" once read as two scales; the --precision path split the raw text again
    for extra in ((), ("--precision", 20)):
        for text in ("0.1,,0.1,0.1", "0.1,0.1,0.1,"):
            line = assert_one_line_failure(run("escape", "--depth", 3, "--scales", text, *extra))
            assert "--scales has an empty entry" in line, line


def test_api_misuse_gets_a_named_error():
    import symescape as se

    with pytest.raises(TypeError):  # keyword-only: a list of ids once became quick=True
        se.verify(["prop2-classes"])
    model = se.reduced_model("tanh", 3)
    assert se.escape_times(model, [0.1] * 3, criterion="product:0.6").ode.escaped
    with pytest.raises(ConfigurationError, match="criterion must be"):
        se.escape_times(model, [0.1] * 3, criterion=0.6)
    with pytest.raises(ConfigurationError, match="config_from_mapping"):
        se.load_config({"activation": "tanh"})
    with pytest.raises(ConfigurationError, match="needs a PredictConfig"):
        se.predict("tanh")


# --- the Python API: bad arguments are SymescapeErrors naming them, not raw Python errors ------


def test_numpy_integers_are_depths_and_nan_is_not():
    from symescape.options import validate_depth

    assert validate_depth(np.int64(4)) == 4 and validate_depth(4.0) == 4
    for bad in (float("nan"), float("inf"), 4.5, True, 0, np.int64(0), "4"):
        with pytest.raises(ConfigurationError, match="depth must be an integer ≥ 1"):
            validate_depth(bad)


@pytest.mark.parametrize(
    "call",
    [
        lambda: classify(["tanh"]),
        lambda: symescape.escape_constants(["tanh"], 3),
        lambda: symescape.reduced_model(["tanh"], 3),
    ],
)
def test_an_unhashable_activation_is_named_not_a_type_error(call):
    with pytest.raises(ConfigurationError, match="got \\['tanh'\\] of type list"):
        call()


def test_quadrature_and_precise_arguments_are_checked():
    from symescape.numeric.precise_escape import escape_time_precise
    from symescape.numeric.quadrature import balanced_time, leading_time

    with pytest.raises(ConfigurationError, match="rho_star must be > 0"):
        leading_time(np.full(3, 0.01), 0.6, -1.0)
    with pytest.raises(ConfigurationError, match="rho_star must be a finite number"):
        balanced_time(0.01, 0.6, 3, float("nan"))
    with pytest.raises(ConfigurationError, match="numbers or decimal strings"):
        escape_time_precise("tanh", 3, ["abc"] * 3)
    from symescape.numeric.quadrature import critical_depth_law

    with pytest.raises(ConfigurationError, match="other scales must be finite and > 0"):
        critical_depth_law(0.6, 3, np.array([-0.5]))  # once a negative prefactor, −3.30


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"learning_rate": "0.1"}, "learning rate must be a real number"),
        ({"steps": 1.5}, "steps must be an integer"),
        ({"batch": True}, "batch must be an integer"),
        ({"seed": -1}, "seed must be ≥ 0"),
        ({"stop_loss_fraction": 2.0}, "must lie in \\(0, 1\\)"),
        ({"stop_loss_fraction": float("nan")}, "finite"),
        ({"rate_width": 0}, "rate_width must be ≥ 1"),
        ({"stop_ansatz_level": -0.5}, "stop_ansatz_level must be > 0"),
    ],
)
def test_training_config_checks_each_field(options, fragment):
    from symescape.numeric.training import TrainingConfig

    with pytest.raises(ConfigurationError, match=fragment):
        TrainingConfig(**{"steps": 10, "learning_rate": 0.1, **options})


def test_help_lists_every_figure_and_benchmark_name():
    # 'reproduce --help' said "fig1 fig2 fig3, or all" after fig4, fig5 and relu existed, and
    # 'bench --help' named no benchmark: the lists are written out, and this keeps them whole
    from symescape.reports.bench import BENCHMARKS
    from symescape.reports.figures import FIGURES

    for command, names in (("reproduce", FIGURES), ("bench", BENCHMARKS)):
        text = " ".join(CliRunner().invoke(main, [command, "--help"]).output.split())
        for name in names:
            assert f" {name}," in text or f" {name} " in text, (command, name)


def test_an_activation_starting_with_minus_gets_the_double_dash_hint():
    # 'classify -x' gave click's bare "No such option: -x"
    result = CliRunner().invoke(main, ["classify", "-x"])
    assert result.exit_code == 2
    assert "symescape classify -- '-x'" in result.output
    assert CliRunner().invoke(main, ["classify", "--", "-x"]).exit_code == 0
    # no hint where the command takes no argument
    assert "--'" not in CliRunner().invoke(main, ["escape", "-x"]).output


@pytest.mark.parametrize("option", ["--amplitude", "--eps"])
def test_a_positive_number_that_underflows_is_named_as_such(option):
    # '--amplitude 1e-400' said "must be > 0, got 0.0" to someone who typed a positive number
    extra = ["--eps", 0.1] if option != "--eps" else []
    args = ["escape", "--depth", 2, option, "1e-400", *extra]
    line = assert_one_line_failure(run(*args))
    assert "1e-400 underflows to 0 in double precision" in line


def test_identity_of_a_zero_sigma_is_not_called_underflow():
    # σ ≡ 0: every identity reads 0 = 0 exactly; it was reported as 7 underflowed identities
    # with the advice 'use a smaller depth'
    line = assert_one_line_failure(run("identity", "--activation", "0*x"))
    assert "identically 0" in line and "underflow" not in line
    with pytest.raises(ConfigurationError, match="identically 0"):
        random_identity_check("x - x", 3, 4, 2)


def test_values_near_the_top_of_the_doubles_get_named_errors_or_results(tmp_path):
    from symescape.experiments.predict import config_from_mapping, predict
    from symescape.options import require_real

    # an integer beyond the doubles: float() overflowed inside the check
    with pytest.raises(ConfigurationError, match="calibration eps must be a finite number"):
        config_from_mapping(
            {"activation": "tanh", "depth": 3, "init": {"kind": "he-normal", "eps": 0.1},
             "calibration": {"eps": 10**400, "steps": 100}}
        )  # fmt: skip
    with pytest.raises(ConfigurationError, match="x must be a finite number"):
        require_real(10**400, "x")
    # calibration steps of 1e308 were converted to an int that np.isfinite cannot take
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps({"activation": "tanh", "depth": 3, "init": {"kind": "he-normal", "eps": 0.1},
                    "calibration": {"eps": 0.2, "steps": 1e308}})
    )  # fmt: skip
    result = run("predict", str(config))
    assert result.exit_code == 1 and "no escape predicted within max_steps" in result.output
    # ρ*² overflowed a double: "numerical failure (OverflowError)" before
    result = run("escape", "--depth", 3, "--eps", 0.1, "--criterion", "product:1e200")
    assert result.exit_code == 2
    assert "beyond the leading-order quadrature" in result.output.splitlines()[-1]
    # a threshold the flow cannot reach is a result saying so, whatever its size
    for rho in ("1e10", "1e308"):
        prediction = predict(
            config_from_mapping({"activation": "tanh", "depth": 3, "criterion": f"product:{rho}"})
        )
        assert prediction.steps is None and "the flow stalls" in prediction.validity
