"""Escape times and quadratures (issue 4): closed forms, laws, corrections, precision, bad input."""

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tolerances import EXPONENT

from symescape import ConfigurationError, NoEscapeError, NumericalError
from symescape.numeric import escape as escape_module
from symescape.numeric.escape import EscapeCriterion, EscapeStatus, escape_time_ode, escape_times
from symescape.numeric.precise_escape import escape_time_precise
from symescape.numeric.quadrature import (
    balanced_time,
    corrected_time,
    corrected_time_mpmath,
    critical_depth_law,
    leading_time,
    leading_time_grid,
    leading_time_mpmath,
)
from symescape.numeric.reduced import reduced_model


def slope(x, y):
    return np.polyfit(np.log(x), np.log(y), 1)[0]


@pytest.mark.parametrize("depth", [1, 2, 3, 6])
def test_balanced_closed_form_equals_quadrature(depth):
    eps = np.geomspace(1e-4, 0.4, 25)
    grid = np.repeat(eps[:, None], depth, axis=1)
    closed = balanced_time(eps, 0.7, depth)
    assert np.abs(leading_time_grid(grid, 0.7) / closed - 1).max() <= 1e-12


@pytest.mark.parametrize("depth", [4, 6])
def test_ode_approaches_leading_order(depth):
    model = reduced_model("tanh", depth)
    eps = np.array([1e-2, 1e-3, 1e-4])
    T = np.array([escape_time_ode(model, np.full(depth, e)).time for e in eps])
    gap = np.abs(balanced_time(eps, float(model.constants.K), depth) / T - 1)
    assert np.all(np.diff(gap) < 0) and gap[-1] < 1e-3


@pytest.mark.parametrize(
    ("activation_spec", "amplitude", "eps"),
    [("tanh", 1.0, 1e-8), ("tanh", 1.5, 1e-3), ("x + x**2/2", 1.5, 1e-3), ("gelu", 2.0, 0.1)],
)
def test_depth_one_is_the_linear_flow_and_gives_no_leading_order(activation_spec, amplitude, eps):
    """At L = 1, f = X s and dX/dt = aμ₁ − X: T = ln((aμ₁ − ε)/(aμ₁ − ρ*)) stays O(1), so the
    quadratures (0.8255 against 1.7457 for tanh, whatever ε) are not given."""
    model = reduced_model(activation_spec, 1, amplitude)
    report = escape_times(model, np.array([eps]))
    K = float(model.constants.K)
    exact = np.log((K - eps) / (K - 0.5))
    assert abs(report.ode.time - exact) <= 1e-8 * exact
    assert report.time_leading is None and report.time_corrected is None
    assert any(f"{exact:.12g}" in note for note in report.notes)


@pytest.mark.parametrize("activation_spec", ["atan", "tanh", "erf", "x + x**2/2"])
def test_the_escape_time_meets_rtol_where_96_nodes_do_not_resolve_the_field(activation_spec):
    # atan's Gauss–Hermite field at 96 nodes is off by 4.4e-9 relative (branch points at ±i),
    # and T at L = 1 was off the exact ln((K − ε)/(K − ρ*)) by 2.3e-9 at rtol = 1e-10: the
    # gap now sends the run to 4× the nodes, and says so
    rtol = 1e-10
    model = reduced_model(activation_spec, 1)
    result = escape_time_ode(model, np.array([0.01]), rtol=rtol)
    K = float(model.constants.K)
    exact = np.log((K - 0.01) / (K - 0.5))
    assert abs(result.time - exact) <= rtol * exact
    refined = [note for note in result.notes if "field refined from 96 to 384" in note]
    assert len(refined) == (activation_spec == "atan")


def test_ode_minus_leading_order_converges_at_depth_two():
    # L = 2: T_lead = ln(ρ*/ε)/K and the correction is O(ε^{L-2}) = O(1) absolute: T - T_lead
    # tends to a constant, so the relative gap falls only like 1/ln(1/ε).
    model = reduced_model("tanh", 2)
    eps = np.array([1e-2, 1e-3, 1e-4, 1e-6])
    offset = [
        escape_time_ode(model, np.full(2, e)).time
        - balanced_time(e, float(model.constants.K), 2)[0]
        for e in eps
    ]
    changes = np.abs(np.diff(offset))
    assert np.all(np.diff(changes) < 0) and changes[-1] < 1e-6 * abs(offset[-1])


def test_K_times_T_collapses_across_activations():
    depth = 5
    spreads = []
    for eps in (1e-1, 1e-2, 1e-3):
        KT = [
            float(m.constants.K) * escape_time_ode(m, np.full(depth, eps)).time
            for m in (reduced_model(a, depth) for a in ("tanh", "erf", "sin", "gelu", "swish"))
        ]
        spreads.append((max(KT) - min(KT)) / np.mean(KT))
    assert spreads[0] > spreads[1] > spreads[2] and spreads[2] < 0.01


@pytest.mark.parametrize("activation_spec, depth", [("tanh", 5), ("gelu", 5), ("erf", 4)])
def test_imbalance_drift_orders(activation_spec, depth):
    # MATH.md §5: on the balanced ray, d/dt(X_1² - X_2²) ~ ρ^{L+q-1}, (X_2² - X_3²) ~ ρ^{L+2(q-1)}.
    model = reduced_model(activation_spec, depth)
    q = model.classification.q
    rho = np.geomspace(1e-3, 1e-2, 5)
    fields = np.array([model.field(np.full(depth, r)) for r in rho])
    d12 = np.abs(2 * rho * (fields[:, 0] - fields[:, 1]))
    d23 = np.abs(2 * rho * (fields[:, 1] - fields[:, 2]))
    assert abs(slope(rho, d12) - (depth + q - 1)) <= EXPONENT
    assert abs(slope(rho, d23) - (depth + 2 * (q - 1))) <= EXPONENT


def test_critical_depth_law_at_depth_six():
    depth, other = 6, 0.5
    model = reduced_model("tanh", depth)
    K = float(model.constants.K)
    eps = np.geomspace(1e-4, 1e-3, 4)
    for r in range(1, depth + 1):
        T = np.array(
            [escape_time_ode(model, np.array([e] * r + [other] * (depth - r))).time for e in eps]
        )
        law = critical_depth_law(K, r, np.full(depth - r, other))
        if r == 2:
            # Logarithmic: T = a + b ln(1/ε) with b the shell prefactor 1/(K Π_{i>2} s_i).
            b = np.polyfit(np.log(1 / eps), T, 1)[0]
            assert abs(b / law.prefactor - 1) <= 0.01
        else:
            assert abs(slope(eps, T) - law.exponent) <= EXPONENT, r


@pytest.mark.parametrize(
    "activation_spec, depth, regime",
    [
        ("tanh", 6, "above"),
        ("tanh", 4, "resonance"),
        ("tanh", 3, "below"),
        ("gelu", 5, "above"),
        ("gelu", 4, "above"),
        ("gelu", 3, "resonance"),
    ],
)
def test_first_correction_orders(activation_spec, depth, regime):
    model = reduced_model(activation_spec, depth)
    q, K = model.classification.q, float(model.constants.K)
    kappa = float(model.constants.kappa)
    eps = np.geomspace(0.005, 0.02, 4)
    T = np.array([escape_time_ode(model, np.full(depth, e), rtol=1e-12).time for e in eps])
    lead_err = np.abs(balanced_time(eps, K, depth) / T - 1)
    corr_err = np.abs(corrected_time(eps, K, kappa, q, depth) / T - 1)
    if regime == "above":
        assert abs(slope(eps, lead_err) - (q - 1)) <= EXPONENT
    elif regime == "resonance":
        assert depth == q + 1
        assert abs(slope(eps, lead_err / np.log(1 / eps)) - (depth - 2)) <= EXPONENT
    else:
        assert abs(slope(eps, lead_err) - (depth - 2)) <= EXPONENT
    assert np.all(corr_err < lead_err)


@pytest.mark.parametrize("activation_spec, depth", [("tanh", 4), ("gelu", 5), ("sin", 6)])
def test_per_coordinate_ratios_and_uniformity_discrepancy(activation_spec, depth):
    # MATH.md §7: γ_1 = q γ_l (l ≥ 2) on the balanced ray; the paper's "same ratio in every l"
    # fails at l = 1. Measured from the exact field at small ρ.
    model = reduced_model(activation_spec, depth)
    q, K = model.classification.q, float(model.constants.K)
    rho = 1e-3
    measured = (model.field(np.full(depth, rho)) / (K * rho ** (depth - 1)) - 1) / rho ** (q - 1)
    predicted = np.array([float(g) for g in model.constants.gamma])
    assert np.abs(measured / predicted - 1).max() <= 0.01
    assert abs(measured[0] / measured[1] - q) <= 0.01 * q
    assert not model.constants.gamma_uniform


def test_quadratures_against_mpmath():
    scales = np.array([0.01, 0.02, 0.3, 0.4, 0.05, 0.01])
    with mpmath.workdps(40):
        reference = leading_time_mpmath(scales, 0.6, dps=30)
        assert abs(leading_time(scales, 0.6) / float(reference) - 1) <= 1e-12
        for eps in (0.2, 0.01, 1e-3):
            exact = corrected_time_mpmath(eps, 0.6, -1.1, 3, 6, dps=30)
            assert abs(corrected_time(eps, 0.6, -1.1, 3, 6)[0] / float(exact) - 1) <= 1e-12


def test_ode_against_tighter_run_and_lsoda():
    model = reduced_model("tanh", 5)
    scales = np.array([0.01, 0.02, 0.015, 0.03, 0.01])
    loose = escape_time_ode(model, scales, rtol=1e-10).time
    tight = escape_time_ode(model, scales, rtol=1e-13).time
    lsoda = escape_time_ode(model, scales, method="lsoda", rtol=1e-10).time
    assert abs(loose / tight - 1) <= 1e-8
    assert abs(lsoda / tight - 1) <= 1e-6


def test_loss_criterion():
    model = reduced_model("tanh", 3)
    result = escape_time_ode(model, np.full(3, 0.05), EscapeCriterion("loss", 0.5))
    lsoda = escape_time_ode(model, np.full(3, 0.05), EscapeCriterion("loss", 0.5), method="lsoda")
    assert result.escaped and abs(result.time / lsoda.time - 1) <= 1e-6
    initial = float(model.loss(np.full(3, 0.05)))
    assert float(model.loss(result.final_state)) <= 0.5 * initial * 1.0001


def test_budget_exhausted_is_a_status_not_a_time():
    model = reduced_model("tanh", 5)
    for method in ("fast", "lsoda"):
        result = escape_time_ode(model, np.full(5, 1e-3), method=method, max_time=1e4)
        assert result.status is EscapeStatus.NOT_REACHED and result.time is None
        # The run stops at the budget, not before: the time reached is the budget itself.
        assert result.time_reached == pytest.approx(1e4, rel=1e-6)


def test_bad_inputs():
    model = reduced_model("tanh", 3)
    with pytest.raises(ConfigurationError, match="> 0"):
        escape_time_ode(model, np.array([0.1, 0.0, 0.1]))
    with pytest.raises(ConfigurationError, match="≥ ρ\\*"):
        escape_time_ode(model, np.full(3, 0.6))
    with pytest.raises(ConfigurationError, match="3 scales given for depth 4"):
        escape_time_ode(reduced_model("tanh", 4), np.full(3, 0.1))
    with pytest.raises(ConfigurationError, match="depth"):
        reduced_model("tanh", 0)
    with pytest.raises(NoEscapeError):
        escape_time_ode(reduced_model("x - x**3", 3), np.full(3, 0.1))
    with pytest.raises(ConfigurationError):
        EscapeCriterion.parse("product:-1")
    # the value's own check speaks, not the generic format message
    with pytest.raises(ConfigurationError, match="loss fraction must be < 1"):
        EscapeCriterion.parse("loss:2")
    with pytest.raises(ConfigurationError, match="finite and > 0, got nan"):
        EscapeCriterion.parse("product:nan")
    with pytest.raises(ConfigurationError, match="expected 'product:RHO'"):
        EscapeCriterion.parse("product:half")
    with pytest.raises(ConfigurationError):
        escape_time_ode(model, np.full(3, np.nan))
    with pytest.raises(ConfigurationError, match="ε"):
        balanced_time(np.array([0.0]), 1.0, 3)
    with pytest.raises(NoEscapeError):
        balanced_time(0.1, -1.0, 3)


def test_report_balanced_and_unbalanced():
    model = reduced_model("gelu", 4)
    balanced = escape_times(model, np.full(4, 0.01))
    assert balanced.time_corrected is not None
    assert abs(balanced.time_corrected / balanced.ode.time - 1) < abs(
        balanced.time_leading / balanced.ode.time - 1
    )
    unbalanced = escape_times(model, np.array([0.01, 0.05, 0.2, 0.3]))
    assert unbalanced.time_corrected is None and unbalanced.time_leading > 0


def test_an_unresolved_quadrature_is_a_failure_not_an_escape_time():
    """σ = sin z + z³/6 (class B_5) at L = 6: the 96-node field stays positive up to ρ* = 0.5
    while the converged field there is −1e136 (cubic tails through five layers), so the old
    answer, an escape time, was wrong. Now the escape point is checked against 4× the nodes."""
    with np.errstate(all="ignore"):
        unresolved = escape_time_ode(reduced_model("sin(x) + x**3/6", 6), np.full(6, 0.01))
    assert unresolved.status is EscapeStatus.FAILED and unresolved.time is None
    assert "not resolved" in unresolved.message
    # Resolved cases are untouched: B_5 at L = 4 and tanh at L = 6 escape.
    assert escape_time_ode(reduced_model("sin(x) + x**3/6", 4), np.full(4, 0.01)).escaped
    assert escape_time_ode(reduced_model("tanh", 6), np.full(6, 0.01)).escaped


@pytest.mark.parametrize(
    "scales", [[1e-200] * 3, [1e-200, 3e-200, 1e-100], [1e-160, 1e-160, 2e-160]]
)
def test_leading_time_below_the_square_root_of_the_smallest_double(scales):
    # s² underflows for s < 1.5e-154; T ≈ ε^-(L-2)/K is still a double: computed in logs
    K = 0.6
    fast = leading_time(np.array(scales), K)
    exact = leading_time_mpmath(np.array(scales), K)
    assert np.isfinite(fast) and abs(fast / float(exact) - 1) <= 1e-10


def test_beyond_double_precision_is_said_not_overflowed():
    from symescape.errors import NumericalError

    with pytest.raises(NumericalError, match="exceeds double precision"):
        leading_time(np.full(5, 1e-200), 0.6)  # T ≈ 1e600
    run = escape_time_ode(reduced_model("tanh", 3), np.full(3, 1e-200))
    assert run.status is EscapeStatus.FAILED and "underflows double precision" in run.message


@settings(deadline=None, max_examples=30)
@given(st.floats(0.01, 3.9995), st.floats(0.01, 0.4))
def test_corrected_time_near_the_breakdown_matches_its_closed_form(a, eps):
    # L = q = 3, κ = -a: T_1 = (1/K)[-1/ρ + √a atanh(√a ρ)] from ε to ρ* = 1/2. Fixed panels
    # were 0.9 % low at a = 3.99, where the pole ρ = 1/√a sits just past ρ*.
    K = 0.6057055096021589
    primitive = lambda r: -1 / r + mpmath.sqrt(a) * mpmath.atanh(mpmath.sqrt(a) * r)  # noqa: E731
    exact = float((primitive(mpmath.mpf(0.5)) - primitive(mpmath.mpf(eps))) / K)
    try:
        value = corrected_time(eps, K, -a, 3, 3)[0]
    except NumericalError:  # only where 1 + κρ*² is within ~1e-4 of the breakdown
        assert 1 - a / 4 < 2e-4
        return
    assert value == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("kappa, q", [(-20.0, 2), (-4.0, 3), (-5.0, 3)])
def test_corrected_time_mpmath_refuses_the_breakdown_as_the_float_path_does(kappa, q):
    # it integrated through the pole: -6.2 (a negative time), 174.2, 4.9
    for function in (corrected_time, corrected_time_mpmath):
        with pytest.raises(ConfigurationError, match="not small"):
            function(0.1, 0.6057, kappa, q, 3)


@pytest.mark.parametrize(
    "scales, match",
    [([0.2, -0.1, 0.05], "finite and > 0"), ([float("nan"), 0.1, 0.1], "finite and > 0"),
     ([0.7] * 3, "already ≥ ρ\\*"), ([], "non-empty"), ("abc", "numbers")],
)  # fmt: skip
def test_leading_time_mpmath_checks_its_scales_as_leading_time_does(scales, match):
    with pytest.raises(ConfigurationError, match=match):
        leading_time_mpmath(scales, 0.6057)


@pytest.mark.parametrize("depth", [np.float64(3.5), True, "3", 2.5, 0])
def test_balanced_time_refuses_a_depth_that_is_not_an_integer_at_least_one(depth):
    with pytest.raises(ConfigurationError, match="depth must be an integer"):
        balanced_time(0.1, 0.6057, depth)


def test_an_unresolved_start_fails_at_once_and_names_the_nodes():
    # 96 nodes miss x·exp(-100x²) (13 % gap to 384): DOP853's steps collapsed for minutes
    result = escape_time_ode(reduced_model("x*exp(-100*x**2)", 2), [0.01] * 2)
    assert result.status is EscapeStatus.FAILED and result.evaluations == 0
    assert "not resolved at the start" in result.message and "raise the nodes" in result.message
    # the cure the message names works: with 200 nodes x·exp(-5x²) escapes at the time of the
    # self-refining 15-digit path
    resolved = escape_time_ode(reduced_model("x*exp(-5*x**2)", 2, nodes=200), [0.05] * 2)
    precise = escape_time_precise("x*exp(-5*x**2)", 2, ["0.05"] * 2, digits=15)
    assert resolved.escaped and resolved.time == pytest.approx(float(precise.time), rel=1e-8)


@pytest.mark.parametrize("method", ["fast", "lsoda"])
def test_a_run_over_its_evaluation_budget_fails_instead_of_running_on(method):
    result = escape_time_ode(reduced_model("tanh", 4), [0.1] * 4, method=method, max_evaluations=5)
    assert result.status is EscapeStatus.FAILED and result.evaluations == 5
    assert "not reached within 5 field evaluations" in result.message
    assert escape_module.MAX_FIELD_EVALUATIONS == 2_000_000  # the default budget
    for bad in (0, -3, 2.5, "many"):
        with pytest.raises(ConfigurationError, match="max_evaluations"):
            escape_time_ode(reduced_model("tanh", 4), [0.1] * 4, max_evaluations=bad)


def test_the_evaluation_budget_covers_the_stiff_rerun():
    # the stiff flow of the next test: DOP853 spends STIFF_EVALUATIONS, then LSODA what is left
    model = reduced_model("x + 30*x**2", 3)
    stiff = escape_module.STIFF_EVALUATIONS
    spent = escape_time_ode(model, [0.05] * 3, max_evaluations=stiff)  # none left for LSODA
    assert spent.status is EscapeStatus.FAILED and spent.evaluations == stiff
    short = escape_time_ode(model, [0.05] * 3, max_evaluations=stiff + 50)
    assert short.status is EscapeStatus.FAILED and short.evaluations == stiff + 50
    assert f"not reached within {stiff + 50} field evaluations" in short.message


def test_a_flow_that_stalls_short_of_the_threshold_says_so_at_once():
    # teacher amplitude 1e-9: the product cannot pass ~a^(1/L)·…, far below ρ* = 0.5. DOP853's
    # steps collapsed (dt/dτ = 1/R diverges) and the stiff rerun integrated the resting state
    # for minutes; now the collapse is read as the stall it is
    model = reduced_model("tanh", 4, 1e-9)
    result = escape_time_ode(model, [1e-3] * 4)
    assert result.status is EscapeStatus.FAILED and "stalls at ρ = 0.00" in result.message
    assert result.evaluations <= escape_module.STIFF_EVALUATIONS + 10  # no stiff rerun
    rho = float(np.exp(np.mean(np.log(result.final_state))))
    assert rho < 0.01 and abs(np.mean(model.field(result.final_state) / result.final_state)) < (
        escape_module.STALL_FRACTION * np.mean(model.field(np.full(4, 1e-3)) / 1e-3)
    )


def test_the_precise_flow_names_a_stall_short_of_the_threshold():
    """The mpmath flow in τ = ln ρ cannot run where the product shrinks (above a fixed point below
    ρ*, as `expand --amplitude 1e-9` starts): NoEscapeError naming ρ and ρ* (it was a bare
    'numerical failure' naming neither)."""
    with pytest.raises(NoEscapeError, match=r"does not grow at ρ = 0\.04, short of ρ\* = 0\.5"):
        escape_time_precise("tanh", 4, ["0.04"] * 4, amplitude=1e-9, digits=15)
    # from below the fixed point the run nears it for ever (it ran for over ten minutes)
    with pytest.raises(NoEscapeError, match=r"stalls at ρ = 0\.0.*short of ρ\* = 0\.5"):
        escape_time_precise("tanh", 4, ["1e-3"] * 4, amplitude=1e-9, digits=15)


def test_a_stiff_flow_is_handed_to_lsoda_and_escapes():
    # σ = x + 30x² at L = 3 leaves the balanced ray fast (κ = 3600): DOP853 in log variables
    # spent 2·10⁶ evaluations (2 min 15 s) by t = 0.17 and failed; the flow escapes at 292.29
    model = reduced_model("x + 30*x**2", 3)
    result = escape_time_ode(model, [0.05] * 3)
    reference = escape_time_ode(model, [0.05] * 3, method="lsoda", rtol=1e-13)
    assert result.escaped and reference.escaped
    assert abs(result.time - reference.time) <= 1e-9 * reference.time
    assert any("the flow is stiff here" in note for note in result.notes)
    plain = escape_time_ode(reduced_model("tanh", 3), [0.05] * 3)
    assert not any("stiff" in note for note in plain.notes)


def test_corrected_time_past_double_precision_says_so_at_once():
    # ε^-(L-2) = 1e400 overflowed to inf − inf = NaN, and 13 panel halvings (10 s) ended in
    # "too close to the breakdown" at κ = 1
    with pytest.raises(NumericalError, match="exceeds double precision"):
        corrected_time(np.array([1e-200]), 1.0, 1.0, 3, 4)


def test_a_small_start_field_with_round_off_gaps_still_escapes():
    # centred sigmoid at L = 5 from ε = 3e-3: its tiny start field reads a 1.1e-5 gap between
    # 96 and 384 nodes (round-off); the strict start check failed verify's cor7 claim
    model = reduced_model("sigmoid", 5)
    result = escape_time_ode(model, [3e-3] * 5, method="lsoda")
    assert result.escaped and model.resolution_gap(result.final_state) <= 1e-6


def test_a_subnormal_start_field_is_refused_below_its_precision():
    # tanh at L = 3: T = C/ε to ~2e-11 for normal start fields; from ε = 1e-159 the field is
    # 6e-319 (a subnormal, 8e-6 relative spacing) and T came out 1.1e-5 off, silently
    model = reduced_model("tanh", 3)
    law = escape_time_ode(model, np.full(3, 1e-150)).time * 1e-150
    normal = escape_time_ode(model, np.full(3, 1e-156))
    assert normal.escaped and abs(normal.time * 1e-156 / law - 1) < 1e-10
    refused = escape_time_ode(model, np.full(3, 1e-159))
    assert refused.status is EscapeStatus.FAILED and refused.time is None
    assert "subnormal" in refused.message and "--precision" in refused.message
    # asked for the precision the start has, it runs, and keeps to it
    loose = escape_time_ode(model, np.full(3, 1e-158), rtol=1e-6)
    assert loose.escaped and abs(loose.time * 1e-158 / law - 1) < 1e-6


@pytest.mark.parametrize("eps", [1.12e-159, 1e-159, 3e-158])
def test_the_rtol_a_subnormal_refusal_suggests_is_accepted(eps):
    import re

    model = reduced_model("tanh", 3)
    refused = escape_time_ode(model, np.full(3, eps))
    suggested = float(re.search(r"rtol ≥ ([0-9.e+-]+)", refused.message).group(1))
    assert escape_time_ode(model, np.full(3, eps), rtol=suggested).escaped


def test_the_resolution_gap_is_measured_once_per_check(monkeypatch):
    # a field on 4× the nodes each time: once at the start, once at the escape point (the
    # refinement decision and its note used to measure the escape point's gap again)
    from symescape.numeric.reduced import ReducedModel

    calls = []
    original = ReducedModel.resolution_gap

    def counted(self, X):
        calls.append(self.nodes)
        return original(self, X)

    monkeypatch.setattr(ReducedModel, "resolution_gap", counted)
    result = escape_time_ode(reduced_model("tanh", 3), [0.05] * 3)
    assert result.escaped and calls == [96, 96]
    assert result.resolution_gap is not None and result.resolution_gap < 1e-10
