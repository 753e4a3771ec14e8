"""Theorem 16 to any order (issue 14): the escape-time expansion, the mpmath rules and
integrator, the 30-digit ODE, the CLI and its refusals."""

from __future__ import annotations

import json

import mpmath
import numpy as np
import pytest
from click.testing import CliRunner
from tolerances import (
    EXPONENT,
    HIGH_PRECISION_DIGITS,
    PRECISE_VS_DOUBLE_ODE,
    SERIES_VS_DOUBLE_ODE,
    rel_err,
)

from symescape.cli import main
from symescape.errors import (
    ConfigurationError,
    GaussianDomainError,
    NoEscapeError,
    NoLinearPathError,
    NumericalError,
    OutsideHypothesisError,
    TimeBudgetError,
)
from symescape.numeric.escape import escape_time_ode
from symescape.numeric.precise_escape import (
    escape_time_precise,
    escape_time_series,
    expansion_constant,
    slow_manifold_start,
    slow_manifold_time,
    validate_digits,
)
from symescape.numeric.reduced import reduced_model
from symescape.precision.gauss import gauss_hermite_rule_mpmath, gaussian_trapezoid_rule_mpmath
from symescape.precision.ode import integrate
from symescape.symbolic.classification import classify
from symescape.symbolic.constants import escape_constants
from symescape.symbolic.normal_form import (
    MAX_ORDER,
    Ring,
    constant_digits,
    correction_gap,
    escape_expansion,
    field_expansion,
    first_integrals,
    inner_expansion,
    latex_decimal,
    moment_symbol,
    mpfr_precision,
    numeric_field_parts,
    numeric_inner_expansion,
    required_inner_order,
    value_with_error,
)

TINY = mpmath.mpf(10) ** -HIGH_PRECISION_DIGITS


@pytest.fixture(autouse=True)
def forty_digits():
    """mpmath arithmetic in these tests at 40 digits (the library's own precision)."""
    with mpmath.workdps(40):
        yield


@pytest.mark.parametrize("spec, depth", [("gelu", 4), ("tanh", 5), ("softplus", 3)])
def test_mpfr_inner_expansion_equals_the_mpmath_one(spec, depth):
    """The fast path (MPFR numbers) against mpmath's numbers in the same inner expansion: both
    round every operation correctly at the same precision, so they agree to the last bit."""
    order = 5
    field = field_expansion(spec, depth, 1, order)
    with mpmath.workdps(50):
        parts = numeric_field_parts(field, 40)
        fast = numeric_inner_expansion(parts, depth, order)
        reference = inner_expansion(parts, depth, order, Ring(False))
    pairs = [(fast.w, reference.w)] + list(zip(fast.y, reference.y, strict=True))
    compared = 0
    for ours, theirs in pairs:
        for poly, expected in zip(ours, theirs, strict=True):
            assert poly.keys() == expected.keys()
            for key, value in poly.items():
                assert isinstance(value, mpmath.mpf)
                assert value == expected[key], (key, value, expected[key])
                compared += 1
    assert compared > 30  # not a vacuous comparison (tanh at L = 5: 38 coefficients)


def _flow_residual(spec: str, depth: int, order: int, eps: mpmath.mpf, sigma: int) -> mpmath.mpf:
    """max_l |dy_l/dθ − (F_l(e^y) e^{−y_l} / R(e^y) − 1)| for y = Σ_{n≤order} ε^n y_n(σ, θ), the
    truncated inner expansion put back into the flow it solves (module docstring of
    normal_form), with the field's parts to two degrees beyond."""
    parts = numeric_field_parts(field_expansion(spec, depth, 1, order + 2), 40)
    inner = numeric_inner_expansion(parts, depth, order)
    theta = mpmath.log(sigma)

    def series(l: int, derivative: bool) -> mpmath.mpf:
        return mpmath.fsum(
            eps**n * c * mpmath.mpf(sigma) ** a
            * ((a * theta**b + (b * theta ** (b - 1) if b else 0)) if derivative else theta**b)
            for n in range(1, order + 1)
            for (a, b), c in inner.y[l][n].items()
        )  # fmt: skip

    X = [mpmath.exp(series(l, False)) for l in range(depth)]
    rho = eps * sigma

    def evaluate(poly: dict) -> mpmath.mpf:
        return mpmath.fsum(
            c * mpmath.fprod(x**k for x, k in zip(X, alpha, strict=True))
            for alpha, c in poly.items()
        )

    F = [mpmath.fsum(rho**d * evaluate(part[l]) for d, part in enumerate(parts))
         for l in range(depth)]  # fmt: skip
    R = mpmath.fsum(F[m] / X[m] for m in range(depth)) / depth
    return max(abs(series(l, True) - (F[l] / X[l] / R - 1)) for l in range(depth))


@pytest.mark.parametrize("spec, depth, order", [("gelu", 3, 4), ("tanh", 4, 5)])
def test_inner_expansion_solves_the_flow_to_its_order(spec, depth, order):
    """An independent check of the inner expansion's algebra (the exponentials carried across
    orders, the homological solve): its truncation, put back into the flow, leaves a residual
    O(ε^{order+1}), fitted from ε = 1e-3 and 2e-3 at σ = 2 (θ = ln 2: transient and
    logarithms present). Measured: 5.002 (gelu), 6.000 (tanh)."""
    with mpmath.workdps(50):
        small, large = (_flow_residual(spec, depth, order, mpmath.mpf(e), 2)
                        for e in ("1e-3", "2e-3"))  # fmt: skip
        exponent = float(mpmath.log(large / small) / mpmath.log(2))
    assert abs(exponent - (order + 1)) <= EXPONENT, exponent


def test_mpfr_ring_round_trips_mpmath_numbers_exactly():
    ring = Ring(False, binary_precision=mpmath.mp.prec)
    values = [mpmath.mpf(0), mpmath.mpf(-3), mpmath.mpf(2) / 3, -mpmath.mpf(1) / 7,
              mpmath.mpf("1e-300") / 3, -mpmath.mpf("1e300") * 7, mpmath.pi]  # fmt: skip
    with mpfr_precision(ring.binary_precision):
        for value in values:
            back = ring.exported(ring.imported(value))
            assert back == value and isinstance(back, mpmath.mpf)
        assert ring.imported(-mpmath.mpf(2) / 3) < 0


@pytest.mark.parametrize("value", [mpmath.inf, -mpmath.inf, mpmath.nan, mpmath.mpf("1e400000000")])
def test_mpfr_ring_refuses_what_mpfr_would_turn_into_zero(value):
    # MPFR's conversion took inf and nan for 0: the term would have vanished silently
    ring = Ring(False, binary_precision=mpmath.mp.prec)
    with mpfr_precision(ring.binary_precision), pytest.raises(NumericalError):
        ring.imported(value)


def test_mpfr_inner_expansion_refuses_the_wrong_precision():
    # outside mpfr_precision gmpy2 computes at its default 53 bits: 16 digits, not 40
    field = field_expansion("gelu", 3, 1, 2)
    parts = numeric_field_parts(field, 40)
    with pytest.raises(ValueError, match="mpfr_precision"):
        inner_expansion(parts, 3, 2, Ring(False, binary_precision=mpmath.mp.prec))


def test_gauss_hermite_mpmath_is_exact_on_polynomials():
    with mpmath.workdps(40):
        s, w = gauss_hermite_rule_mpmath(12, 40)
        for k in range(0, 24, 2):  # degree < 2n
            value = mpmath.fsum(wi * si**k for si, wi in zip(s, w, strict=True))
            assert abs(value - mpmath.fac2(k - 1)) <= TINY * mpmath.fac2(k - 1)


def test_trapezoid_rule_reaches_thirty_digits_on_tanh():
    with mpmath.workdps(45):
        s, w = gaussian_trapezoid_rule_mpmath(0.12, 40)
        value = mpmath.fsum(wi * mpmath.tanh(si) * si for si, wi in zip(s, w, strict=True))
        reference = mpmath.quad(
            lambda x: mpmath.tanh(x) * x * mpmath.npdf(x), [-mpmath.inf, 0, mpmath.inf]
        )
        assert abs(value - reference) <= TINY


def test_extrapolation_integrator_reaches_thirty_digits():
    with mpmath.workdps(40):
        sol = integrate(
            lambda t, y: [y[1], -y[0]],
            mpmath.mpf(0),
            [mpmath.mpf(0), mpmath.mpf(1)],
            mpmath.mpf(3),
            rtol=mpmath.mpf(10) ** -32,
            columns=14,
        )
        assert abs(sol.final[0] - mpmath.sin(3)) <= TINY
        assert abs(sol.final[1] - mpmath.cos(3)) <= TINY


def test_the_integrators_step_hook_sees_every_accepted_step():
    # the hook drives the progress bar of escape/expand --precision: one call per accepted step
    seen: list = []
    with mpmath.workdps(30):
        sol = integrate(
            lambda t, y: [y[0]],
            mpmath.mpf(0),
            [mpmath.mpf(1)],
            mpmath.mpf(2),
            rtol=mpmath.mpf(10) ** -25,
            on_step=seen.append,
        )
    assert seen == list(sol.tau[1:]) and seen[-1] == 2 and len(seen) == sol.steps


def test_a_precise_run_with_progress_gives_the_same_time(capsys):
    plain = escape_time_precise("tanh", 3, ["0.1"] * 3, digits=15)
    shown = escape_time_precise("tanh", 3, ["0.1"] * 3, digits=15, progress=True)
    assert shown.time == plain.time and capsys.readouterr().out == ""  # the bar is stderr's


def test_resonant_expansion_tanh_depth_four():
    """A_0 = 1/(2K) and the resonance log B = −κ/K, exactly (MATH.md §7, §12)."""
    e = escape_expansion("tanh", 4, order=1)
    c = escape_constants("tanh", 4)
    (lead, log) = e.terms
    assert (lead.power, lead.log_power) == (-2, 0)
    assert (log.power, log.log_power) == (0, 1)
    assert abs(lead.value - 1 / (2 * c.K.value)) <= TINY
    assert abs(log.value + c.kappa.value / c.K.value) <= TINY
    # the exact forms, evaluated, reproduce the numeric coefficients
    values = {moment_symbol(j): c.classification.mu1.value for j in (1,)}
    assert lead.exact.free_symbols == {moment_symbol(1)}
    assert abs(mpmath.mpf(str(lead.exact.xreplace(values).evalf(40))) - lead.value) <= TINY


@pytest.mark.parametrize(("act", "depth"), [("tanh", 3), ("tanh", 5), ("gelu", 3), ("erf", 4)])
def test_leading_term_is_one_over_K_L_minus_two(act, depth):
    e = escape_expansion(act, depth, order=0, exact=False)
    K = escape_constants(act, depth).K.value
    assert (e.terms[0].power, e.terms[0].log_power) == (-(depth - 2), 0)
    assert abs(e.terms[0].value - 1 / (K * (depth - 2))) <= TINY / K


def test_depth_two_is_a_pure_log():
    e = escape_expansion("tanh", 2, order=0, exact=False)
    K = escape_constants("tanh", 2).K.value
    assert [(t.power, t.log_power) for t in e.terms] == [(0, 1)]
    assert abs(e.terms[0].value - 1 / K) <= TINY


def test_gelu_resonance_at_depth_three_is_minus_kappa_over_K():
    e = escape_expansion("gelu", 3, order=1)
    c = escape_constants("gelu", 3)
    log = next(t for t in e.terms if t.log_power == 1)
    assert abs(log.value + c.kappa.value / c.K.value) <= TINY
    assert log.exact is not None and not log.exact.free_symbols  # gelu's moments close


def test_no_log_off_resonance():
    """tanh at L = 5: no correction reaches power 0, so no logarithm."""
    e = escape_expansion("tanh", 5, order=3, exact=False)
    assert all(t.log_power == 0 for t in e.all_terms)


def test_series_matches_double_precision_ode():
    eps = 0.01
    series = escape_time_series("tanh", 3, eps)
    ode = escape_time_ode(reduced_model("tanh", 3), np.full(3, eps), rtol=1e-12)
    assert rel_err(series.time, ode.time) <= SERIES_VS_DOUBLE_ODE


def test_series_constant_does_not_depend_on_eps_and_matches_the_precise_ode():
    """C is a constant of the activation and depth; it used to be computed from a start at
    ρ_0 = ε, i.e. as T_ODE(ε) − local(ε), and lost every digit to cancellation as ε → 0."""
    small, tiny = escape_time_series("tanh", 4, 1e-3), escape_time_series("tanh", 4, 1e-8)
    assert small.constant == tiny.constant and 0 < small.constant_error < 1e-6
    precise = escape_time_precise("tanh", 4, ["0.001"] * 4, digits=20)
    # T ≈ 8.3e5 here: the series and the 20-digit ODE (30 digits: the same double, and
    # 4× the time) agree to C's error estimate (absolute)
    assert abs(small.time - float(precise.time)) <= 3 * small.constant_error + 1e-9


@pytest.mark.slow
def test_a_double_precision_run_dop853_cannot_finish_goes_to_mpmath():
    """Class D at L = 6: the field's round-off (~1e-9 of the rate here) stops DOP853 at rtol
    1e-12; LSODA's stiff rerun then ran for minutes, and looser tolerances gave C = −2.4e4 ±
    7e3 for sigmoid (−22330.739 ± 5e-7 in mpmath). Such a run goes to 15-digit mpmath, and C
    agrees with the 20-digit route to its error."""
    expansion = escape_expansion("softplus", 6)
    model = reduced_model("softplus", 6, expansion.amplitude)
    with mpmath.workdps(30):
        start = np.array([float(x) for x in slow_manifold_start(expansion, mpmath.mpf("0.04"))])
    assert slow_manifold_time(model, start, expansion.rho_star) is None  # why it falls back
    double = expansion_constant(expansion, "softplus")
    precise = expansion_constant(expansion, "softplus", digits=20)
    assert double.fallback and double.digits is None and not precise.fallback
    assert abs(double.value - precise.value) <= double.error + precise.error
    assert double.error < 1e-4  # not the ±2 of a loose double-precision run
    # where DOP853 finishes, nothing changes: double precision throughout
    assert not expansion_constant(escape_expansion("tanh", 4), "tanh").fallback


def test_a_threshold_below_the_default_start_moves_the_start():
    # expand tanh --depth 4 --rho-star 0.001 said "rho0 (the slow-manifold start) must be below
    # ρ* = 0.001, got 0.04": ρ_0 is now min(0.04, ρ*/4), and the series meets the ODE there
    expansion = escape_expansion("tanh", 4, rho_star=0.001, exact=False)
    constant = expansion_constant(expansion, "tanh")
    assert constant.rho0 == 0.00025 and not constant.fallback
    series = escape_time_series("tanh", 4, 1e-4, rho_star=0.001)
    model = reduced_model("tanh", 4)
    ode = escape_time_ode(model, np.full(4, 1e-4), "product:0.001", rtol=1e-12)
    assert ode.escaped and rel_err(series.time, ode.time) <= SERIES_VS_DOUBLE_ODE
    text = CliRunner().invoke(main, ["expand", "tanh", "--depth", "4", "--rho-star", "0.001"])
    assert text.exit_code == 0 and "constant: -825" in text.stdout


def test_a_constant_is_printed_to_the_digits_its_error_leaves():
    assert constant_digits(-4.310296584097887, 7.1e-9) == 11
    assert constant_digits(-3215.26159794511, 8.2) == 5
    assert constant_digits(-24040.65, 6971.7) == 3
    assert constant_digits(1.5, 20.0) == 1 and constant_digits(2.0, 0.0) == 15
    assert constant_digits(2.0, float("nan")) == 15
    # trailing zeros are digits too; LaTeX shows the same digits
    assert value_with_error(-24040.65, 6971.7) == ("-2.40e+04", "7.0e+03")
    assert value_with_error(-176.0004, 0.017) == ("-176.000", "0.017")
    assert latex_decimal("-2.40e+04") == r"-2.40 \cdot 10^{4}" and latex_decimal("0.017") == "0.017"


def test_precise_ode_matches_double_precision():
    precise = escape_time_precise("tanh", 3, ["0.1"] * 3, digits=15)
    ode = escape_time_ode(reduced_model("tanh", 3), np.full(3, 0.1), rtol=1e-12)
    assert rel_err(float(precise.time), ode.time) <= PRECISE_VS_DOUBLE_ODE
    assert len(precise.decimal().replace(".", "").lstrip("0")) == 15


@pytest.mark.parametrize("digits", [14, 201, 15.5])
def test_digits_outside_range_refused(digits):
    with pytest.raises(ConfigurationError):
        validate_digits(digits)


def test_bad_input_matches_escape():
    with pytest.raises(NoEscapeError):
        escape_expansion("x - x**3", 4)
    with pytest.raises(OutsideHypothesisError):
        escape_expansion("relu", 4)
    with pytest.raises(NoLinearPathError):
        escape_expansion("x**2 + x**3", 4)
    with pytest.raises(ConfigurationError, match="largest feasible order here is"):
        escape_expansion("tanh", 4, order=9)
    with pytest.raises(ConfigurationError):
        escape_expansion("tanh", 4, order=-1)


def test_the_numeric_expansion_runs_under_the_symbolic_budget():
    # gelu at L = 12, order 2 ran for minutes in the inner expansion, outside any budget
    from symescape.symbolic.budget import default_budget

    with default_budget(1.0), pytest.raises(TimeBudgetError, match="escape-time expansion"):
        escape_expansion("gelu", 12, order=2, exact=False)


@pytest.mark.parametrize("order", [10**8, 10**20])
def test_a_huge_order_is_refused_at_once(order):
    # the message's search for the largest feasible order ran over range(order): 55 s at 1e8,
    # for ever at 1e20
    with pytest.raises(ConfigurationError, match="largest feasible order here is 6"):
        escape_expansion("tanh", 4, order=order)


def test_a_depth_beyond_the_engine_names_the_deepest_feasible_depth():
    # it said "the largest feasible order here is None" at L = 16, where no order is feasible
    with pytest.raises(ConfigurationError, match="engine reaches L ≤ 14") as caught:
        escape_expansion("tanh", 16, order=0, exact=False)
    assert "None" not in str(caught.value)
    # L = 14 is within the engine (expanding it takes ~30 s: the requirement is checked instead)
    gap = correction_gap(classify("tanh"))
    assert required_inner_order(14, 0, gap) <= MAX_ORDER < required_inner_order(15, 0, gap)


def test_cli_expand_json_keys():
    result = CliRunner().invoke(main, ["expand", "tanh", "--depth", "3", "--order", "1", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout[result.stdout.index("{") :])
    assert {"terms", "constant", "order", "remainder_power"} <= set(record)
    assert {"power", "log_power", "coefficient", "exact"} == set(record["terms"][0])
    # the text form defines the m_j its exact coefficients use (tanh has no closed-form m_j)
    text = CliRunner().invoke(main, ["expand", "tanh", "--depth", "3", "--order", "1"]).stdout
    assert "m_1" in text and "where m_j = E[σ(s) s^j]" in text
    latex = CliRunner().invoke(main, ["expand", "tanh", "--depth", "3", "--order", "1", "--latex"])
    assert r"+ C + O(\varepsilon" in latex.stdout and r"\quad C = -" in latex.stdout
    assert r"\pm" in latex.stdout  # C's error bar travels with it
    assert r"m_j = \mathbb{E}[\sigma(s)\, s^j]" in latex.stdout


def test_an_order_past_the_nonlocal_power_says_it_adds_nothing():
    # tanh, L = 3: order N asks for powers up to −1 + 2N; ε^4 is non-local. Order 4 gave order
    # 2's terms without a word
    two, four = escape_expansion("tanh", 3, order=2), escape_expansion("tanh", 3, order=4)
    assert (two.power_limit, four.power_limit, four.nonlocal_power) == (3, 7, 4)
    assert not two.stops_at_nonlocal and four.stops_at_nonlocal
    assert [(t.power, t.log_power) for t in two.terms] == [
        (t.power, t.log_power) for t in four.terms
    ]
    text = CliRunner().invoke(main, ["expand", "tanh", "--depth", "3", "--order", "4"]).stdout
    assert "order 4 asks for powers up to ε^7; past ε^4 the terms are non-local" in text
    # asking exactly for the non-local power is not past it: its log terms are local and kept
    # (gelu, L = 2, order 3: ε^3 ln(1/ε) is printed, so no "adds nothing" there)
    edge = escape_expansion("gelu", 2, order=3)
    assert edge.power_limit == edge.nonlocal_power and not edge.stops_at_nonlocal
    assert any(t.power == edge.nonlocal_power and t.log_power > 0 for t in edge.terms)
    plain = CliRunner().invoke(main, ["expand", "tanh", "--depth", "3", "--order", "2"]).stdout
    assert "adds nothing" not in plain


def test_cli_escape_precision_refused_below_fifteen():
    result = CliRunner().invoke(
        main, ["escape", "--depth", "3", "--eps", "0.1", "--precision", "14"]
    )
    assert result.exit_code != 0
    assert "15" in result.output
    # expand says it in its own words: not escape's option
    result = CliRunner().invoke(main, ["expand", "tanh", "--depth", "3", "--precision", "5"])
    assert result.exit_code == 2 and "escape --precision" not in result.output
    assert "--precision) must lie between 15 and 200, got 5" in result.output


def test_first_integral_corrected_to_first_order():
    """∇I·F̂ loses its degree-(L + q − 1) term once I¹ is added: drift ρ⁴ → ρ⁶ (tanh, L = 4);
    the pair (2, 3) needs no first-order correction (MATH.md §5: a full order smaller)."""
    integrals = first_integrals("tanh", 4)
    assert integrals.drift[0] == (4, 6)
    assert integrals.drift[1] == (6, 6)
    assert moment_symbol(3) in integrals.exact[0].free_symbols


def test_quick_claim_passes():
    from symescape.experiments.claims_normal_form import check_normal_form

    assert check_normal_form(True).verdict.value == "pass"


@pytest.mark.slow
def test_thirty_digit_sweep_tanh_depth_four():
    """The issue's measurement at 30 digits: truncation errors at the predicted powers, C two
    ways, the resonance to ≥ 8 digits at ε = 1e-3, the first integrals' drift orders."""
    from symescape.experiments.claims_normal_form import normal_form_sweep

    sweep = normal_form_sweep("tanh", 4)
    assert sweep.worst_exponent <= EXPONENT
    assert sweep.constant_digits >= 15
    assert sweep.resonant and sweep.resonance_digits >= 8
    assert sweep.drifts and all(abs(f - p) <= EXPONENT for (_, _, p, f) in sweep.drifts)


def test_exact_order_beyond_budget_names_the_feasible_order():
    with pytest.raises(TimeBudgetError, match=r"largest feasible order within it is \d+"):
        escape_expansion("tanh", 3, order=3, budget=0.05)


@pytest.mark.parametrize("dps", [10, 5, 0, -3, 29])
def test_escape_expansion_refuses_too_few_digits(dps):
    # at dps = 10 the round-off cut 10^-(dps-10) = 1 silently dropped the leading ε^-2 term
    with pytest.raises(ConfigurationError, match="dps must be ≥ 30"):
        escape_expansion("tanh", 4, order=1, dps=dps)


@pytest.mark.parametrize("spec", ["exp(x)-1", "sinh", "x*cosh(x)"])
def test_precise_escape_refuses_a_chain_without_gaussian_expectations(spec):
    # reduced_model refused these at once; the 30-digit path ran for minutes at depth 4 or
    # ended in "the trapezoid rule's reach did not converge"
    with pytest.raises(GaussianDomainError, match="exp\\(exp"):
        escape_time_precise(spec, 3, [0.1] * 3, digits=15)


@pytest.mark.parametrize(
    "call, match",
    [(lambda: escape_time_precise("tanh", 3, [0.1] * 3, digits=14), r"digits \(--precision\) must"),
     (lambda: escape_time_precise("tanh", 3, [0.1] * 3, digits=15, rho_star=0), "must be > 0"),
     (lambda: escape_time_precise("tanh", 3, 0.1, digits=15), "list of 3 numbers"),
     (lambda: escape_time_series("tanh", 4, [0.01]), "eps must be a real number")],
)  # fmt: skip
def test_precise_paths_name_python_arguments(call, match):
    # from Python these said "--precision must be …", "the start's geometric mean 0.1 is already
    # ≥ ρ*" for ρ* = 0, or raised TypeError
    with pytest.raises(ConfigurationError, match=match):
        call()


def test_the_remainder_names_its_logarithm_or_says_it_is_unresolved():
    # tanh at L = 6, order 3 printed "O(ε⁴)" while T minus the series fell like ε^3.2–3.4 (the
    # audit), as ε⁴ ln²(1/ε) does: at the non-local power the logs are not resolved
    nonlocal_ = escape_expansion("tanh", 4, order=2, exact=False)
    assert nonlocal_.remainder_power == nonlocal_.nonlocal_power == 4
    assert nonlocal_.remainder_log_power is None
    assert nonlocal_.remainder_text() == "O(ε^4), up to powers of ln(1/ε)"
    # x + x²/3 at L = 5: the first omitted term is the resonant ε⁰ ln(1/ε), larger than C
    resonant = escape_expansion("x + x**2/3", 5, order=2, exact=False)
    omitted = [t for t in resonant.all_terms if t.power == resonant.remainder_power]
    assert resonant.remainder_log_power == max(t.log_power for t in omitted) == 1
    assert resonant.remainder_text() == "O(ε^0 ln(1/ε)^1)"
    assert escape_expansion("tanh", 6, order=2, exact=False).remainder_text() == "O(ε^2)"
