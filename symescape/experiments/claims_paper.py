"""The paper's claims, one check each (MATH.md §2–§10), registered in the claim registry.

Each check measures, states the prediction and tolerance, and returns a verdict that can fail;
``quick`` shrinks grids. A claim the computation contradicts is a ``discrepancy`` with numbers.
"""

from __future__ import annotations

import numpy as np

from symescape.experiments.claim_registry import (
    Claim,
    Verdict,
    claim,
    largest_or_nan,
    verdict_for,
)
from symescape.experiments.results_cache import results_cache
from symescape.numeric.fits import log_log_slope


@claim("thm1-identity")
def check_identity(quick: bool) -> Claim:
    from symescape.experiments.imbalance import random_identity_check

    activations = ["tanh", "gelu", "sigmoid", "relu", "x + x**2/3 - x**3/7"]
    seeds = range(2 if quick else 10)
    worst = 0.0
    for act in activations:
        for loss in ("squared", "logistic"):
            for seed in seeds:
                check = random_identity_check(act, 5, 6, 4, loss, 16, seed)
                worst = largest_or_nan((worst, check.max_rel_error))
    return Claim(
        "thm1-identity",
        "d/dt(||W_{l+1}||² − ||W_l||²) = 2E[b_lᵀ φ_σ(z_l)] for any smooth σ and loss "
        "(scalar, matrix and preconditioned forms), exactly, for a finite batch",
        "0 (round-off)",
        f"max relative error {worst:.2e} over {len(activations) * 2 * len(seeds)} random networks",
        "≤ 1e-10",
        verdict_for(worst <= 1e-10),
        {"max_rel_error": worst},
    )


PAPER_CLASSES = {
    "linear": "A",
    "tanh": "B_3",
    "erf": "B_3",
    "sin": "B_3",
    "gelu": "C",
    "swish": "C",
    "sigmoid": "D",
    "softplus": "D",
}


@claim("prop2-classes")
def check_classes(quick: bool) -> Claim:
    from symescape.symbolic.classification import classify

    measured = {name: classify(name).label for name in PAPER_CLASSES}
    centred = {name: classify(name).centred.label for name in ("sigmoid", "softplus")}
    ok = measured == PAPER_CLASSES and centred == {"sigmoid": "B_3", "softplus": "C"}
    return Claim(
        "prop2-classes",
        "activations fall into classes A, B_q, C, D; centring puts sigmoid "
        "in B_3 and softplus in C",
        ", ".join(f"{k}:{v}" for k, v in PAPER_CLASSES.items())
        + "; centred sigmoid:B_3, softplus:C",
        ", ".join(f"{k}:{v}" for k, v in measured.items())
        + f"; centred sigmoid:{centred['sigmoid']}, softplus:{centred['softplus']}",
        "exact",
        verdict_for(ok),
        {"classes": measured, "centred": centred},
    )


@claim("thm4-reduction")
def check_reduction(quick: bool) -> Claim:
    from symescape.experiments.gd_vs_ode import gd_vs_ode
    from symescape.numeric.training import Engine

    # quick's 7500 steps of one width-8 network: the NumPy engine (2.3 s CPU for the claim,
    # 3.1 s compiled, most of it compiling); the full run's 15 000: compiled (3.3 s, 4.5 NumPy)
    run = gd_vs_ode(
        "tanh",
        (0.5, 0.3, 0.4, 0.6),
        width=8,
        lr=0.004 if quick else 0.002,
        time=30.0,
        nodes=48,
        engine=Engine.NUMPY if quick else Engine.COMPILED,
    )
    ok = run["euler_step_error"] <= 1e-14 and run["max_rel_deviation"] <= 1e-3
    return Claim(
        "thm4-reduction",
        "on the symmetric ansatz the matrix flow descends exactly to dX_l/dt = E[(aσ − f)∂_l f]",
        "GD step = Euler step of the reduced field; GD → ODE as η → 0",
        f"Euler-step error {run['euler_step_error']:.1e}; max relative deviation of X_l "
        f"(η = {run['lr']}) {run['max_rel_deviation']:.1e}",
        "≤ 1e-14; ≤ 1e-3",
        verdict_for(ok),
        {k: run[k] for k in ("euler_step_error", "max_rel_deviation", "lr")},
    )


@claim("prop13-drift")
def check_drift(quick: bool) -> Claim:
    from symescape.numeric.reduced import reduced_model

    rows, ok = [], True
    for act in ("tanh", "gelu") if quick else ("tanh", "erf", "gelu", "swish"):
        depth = 5
        model = reduced_model(act, depth)
        q = model.classification.q
        rho = np.geomspace(1e-3, 1e-2, 5)
        fields = np.array([model.field(np.full(depth, r)) for r in rho])
        s12 = log_log_slope(rho, np.abs(2 * rho * (fields[:, 0] - fields[:, 1])))
        s23 = log_log_slope(rho, np.abs(2 * rho * (fields[:, 1] - fields[:, 2])))
        ok &= abs(s12 - (depth + q - 1)) <= 0.1 and abs(s23 - (depth + 2 * (q - 1))) <= 0.1
        rows.append(f"{act}: {s12:.3f} ({depth + q - 1}), {s23:.3f} ({depth + 2 * (q - 1)})")
    return Claim(
        "prop13-drift",
        "imbalance drift of pair (1,2) is O(|X|^{L+q−1}); deeper pairs "
        "are smaller (pair (2,3): L+2(q−1))",
        "exponents L+q−1, L+2(q−1) at L = 5",
        "; ".join(rows),
        "±0.1",
        verdict_for(ok),
    )


@claim("thm5-quadrature")
def check_quadrature(quick: bool) -> Claim:
    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.quadrature import leading_time, leading_time_mpmath
    from symescape.numeric.reduced import reduced_model

    depth = 5
    model = reduced_model("tanh", depth)
    K = float(model.constants.K)
    pattern = np.array([1.0, 1.5, 2.0, 1.2, 3.0])
    eps = np.array([1e-2, 1e-3]) if quick else np.array([1e-2, 1e-3, 1e-4])
    gaps = [
        abs(leading_time(e * pattern, K) / escape_time_ode(model, e * pattern).time - 1)
        for e in eps
    ]
    mp_err = abs(
        leading_time(1e-3 * pattern, K) / float(leading_time_mpmath(1e-3 * pattern, K)) - 1
    )
    ok = all(np.diff(gaps) < 0) and gaps[-1] < 1e-3 and mp_err <= 1e-12
    return Claim(
        "thm5-quadrature",
        "with conserved gaps, T_lead = ∫ du / (2K Π_l √(u + Δ_l)) gives "
        "the escape time at leading order, for unbalanced starts",
        "relative gap to the exact ODE → 0 as ε → 0; quadrature = mpmath",
        "gaps " + ", ".join(f"{g:.1e}" for g in gaps) + f" at ε = {eps.tolist()}; "
        f"vs mpmath {mp_err:.1e}",
        "decreasing, last < 1e-3; ≤ 1e-12",
        verdict_for(ok),
        {"gaps": gaps, "mpmath_error": mp_err},
    )


@claim("eq11-balanced")
def check_balanced(quick: bool) -> Claim:
    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.quadrature import balanced_time, leading_time_grid
    from symescape.numeric.reduced import reduced_model

    depth = 6
    model = reduced_model("tanh", depth)
    K = float(model.constants.K)
    eps = np.geomspace(1e-4, 0.3, 40)
    closed = balanced_time(eps, K, depth)
    quad_err = float(
        np.abs(leading_time_grid(np.repeat(eps[:, None], depth, 1), K) / closed - 1).max()
    )
    ode_gap = abs(escape_time_ode(model, np.full(depth, 1e-4)).time / closed[0] - 1)
    ok = quad_err <= 1e-12 and ode_gap <= 1e-3
    return Claim(
        "eq11-balanced",
        "balanced start: T = (ε^{−(L−2)} − ρ*^{−(L−2)})/(K(L−2))",
        "closed form = quadrature; = exact ODE at leading order",
        f"quadrature {quad_err:.1e}; ODE at ε = 1e-4, L = 6: {ode_gap:.1e}",
        "≤ 1e-12; ≤ 1e-3",
        verdict_for(ok),
        {"quadrature_error": quad_err, "ode_gap": ode_gap},
    )


@claim("thm6-critical-depth")
def check_critical_depth(quick: bool) -> Claim:
    from symescape.experiments.critical_depth import critical_depth_sweep

    data = critical_depth_sweep(quick=quick)
    ok = all(abs(row["fitted"] - row["predicted"]) <= 0.1 for row in data["rows"] if row["r"] != 2)
    log_row = next(row for row in data["rows"] if row["r"] == 2)
    ratio = log_row["log_coefficient"] / log_row["log_prefactor"]
    ok &= abs(ratio - 1) <= 0.01
    measured = "; ".join(f"r={row['r']}: {row['fitted']:.3f}" for row in data["rows"])
    return Claim(
        "thm6-critical-depth",
        "T = Θ(ε^{−(r−2)}) (r ≥ 3), Θ(ln 1/ε) (r = 2), Θ(1) (r = 1), "
        "independent of L (L = 6, others at 0.5)",
        "slopes 0, log, −1, −2, −3, −4; r = 2: dT/dln(1/ε) = 1/(KΠs_i)",
        measured + f"; r=2 coefficient/prefactor {ratio:.4f}",
        "±0.1; 1%",
        verdict_for(ok),
        data,
    )


@claim("cor17-correction")
def check_correction(quick: bool) -> Claim:
    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.quadrature import balanced_time, corrected_time
    from symescape.numeric.reduced import reduced_model

    cases = [
        ("tanh", 6, "above"),
        ("tanh", 4, "resonance"),
        ("gelu", 4, "above"),
        ("gelu", 3, "resonance"),
    ]
    if not quick:
        cases += [("tanh", 3, "below"), ("erf", 5, "above"), ("swish", 3, "resonance")]
    rows, ok = [], True
    eps = np.geomspace(0.005, 0.02, 4)
    for act, depth, regime in cases:
        m = reduced_model(act, depth)
        q, K, kappa = m.classification.q, float(m.constants.K), float(m.constants.kappa)
        T = np.array([escape_time_ode(m, np.full(depth, e), rtol=1e-12).time for e in eps])
        lead = np.abs(balanced_time(eps, K, depth) / T - 1)
        corr = np.abs(corrected_time(eps, K, kappa, q, depth) / T - 1)
        if regime == "resonance":
            fitted, predicted = log_log_slope(eps, lead / np.log(1 / eps)), depth - 2
        elif regime == "above":
            fitted, predicted = log_log_slope(eps, lead), q - 1
        else:
            fitted, predicted = log_log_slope(eps, lead), depth - 2
        better = bool(np.all(corr < lead))
        ok &= abs(fitted - predicted) <= 0.1 and better
        rows.append(
            f"{act} L={depth} ({regime}): {fitted:.3f} vs {predicted}, "
            f"T_1 error/T_lead error ≤ {float(np.max(corr / lead)):.2g}"
        )
    return Claim(
        "cor17-correction",
        "relative error of T_lead is O(ε^{q−1}) above resonance, "
        "O(ε^{L−2} ln 1/ε) at L = q+1, O(ε^{L−2}) below; T_1 removes the first correction",
        "fitted exponents; T_1 strictly better",
        "; ".join(rows),
        "±0.1",
        verdict_for(ok),
    )


@claim("c4-class-c-ratio")
def check_class_c_ratio(quick: bool) -> Claim:
    from symescape.numeric.reduced import reduced_model

    rows, uniform_fails, formula_ok = [], True, True
    for act in ("gelu", "swish"):
        depth = 4
        m = reduced_model(act, depth)
        q, K = m.classification.q, float(m.constants.K)
        rho = 1e-3
        measured = (m.field(np.full(depth, rho)) / (K * rho ** (depth - 1)) - 1) / rho ** (q - 1)
        predicted = np.array([float(g) for g in m.constants.gamma])
        formula_ok &= bool(np.abs(measured / predicted - 1).max() <= 0.01)
        ratio = measured[0] / measured[1]
        uniform_fails &= abs(ratio - 1) > 0.1
        rows.append(
            f"{act}: γ_1 = {measured[0]:.4f}, γ_2..γ_L = {measured[1]:.4f} "
            f"(predicted {predicted[1]:.4f}), γ_1/γ_2 = {ratio:.3f}"
        )
    verdict = (
        Verdict.DISCREPANCY
        if (formula_ok and uniform_fails)
        else (Verdict.PASS if formula_ok else Verdict.FAIL)
    )
    return Claim(
        "c4-class-c-ratio",
        "Class C: per-layer correction ratio γ_C = c_2 E[σ s²]/(c_1 μ₁), "
        "L-independent, 'the same ratio in every l'",
        "γ_l = γ_C for l ≥ 2 (our derivation: γ_1 = q γ_C)",
        "; ".join(rows),
        "1% on γ_l; uniformity fails if γ_1/γ_2 differs from 1 by > 10%",
        verdict,
        {
            "note": "the l ≥ 2 value matches γ_C; the l = 1 coordinate is q times it, "
            "contradicting 'the same ratio in every l'"
        },
    )


@claim("prop24-schur-perron")
def check_schur_perron(quick: bool) -> Claim:
    from symescape.numeric.stability import schur_perron

    rng = np.random.default_rng(24)
    trials, agree, positive = (200 if quick else 2000), 0, 0
    for _ in range(trials):
        n, m = rng.integers(1, 5, size=2)
        A, D = rng.uniform(0.1, 2, n), rng.uniform(0.1, 2, m)
        B = rng.uniform(0, 2, (n, m)) * (rng.random((n, m)) < 0.7)
        C = rng.uniform(0, 2, (m, n)) * (rng.random((m, n)) < 0.7)
        result = schur_perron(A, B, C, D)
        values = np.linalg.eigvals(np.block([[-np.diag(A), B], [C, -np.diag(D)]]))
        has_positive = any(abs(v.imag) < 1e-9 and v.real > 1e-9 for v in values)
        ok = has_positive == (result.loop_gain > 1)
        if result.unstable:
            positive += 1
            ok &= bool(np.all(result.eigenvector >= -1e-12))
        agree += ok
    measured = f"{agree}/{trials} agree ({positive} unstable)"
    passed = agree == trials
    verdict = verdict_for(passed)
    # At the stage-1 saddle of the block-mean flow (L = 4 tanh, a = (4, 2, 1)); quick too
    # (issue 15). Its eigenvalue at t = 3000 moves with the Gauss–Hermite nodes (tanh's poles):
    # 0.0562, 0.0605, 0.0575 at 15, 16, 17 nodes (odd/even alternate), 0.0591 at 20, 0.05874 at
    # 24, 0.05864 at 32. Quick: 16 nodes; full: 20, with the 16-node value as the change. The
    # point is on a slow drift, not a fixed point (StageSaddle): the text reports the drift.
    from symescape.experiments.multimode import CascadeConfig, JacobianRoute, stage_saddle

    grids = (16,) if quick else (16, 20)
    # quick linearises by complex steps (0.13 s) instead of deriving the block-mean Hessian in
    # SymPy (2.8 s); the two agree to 1.9e-15 there, and the tests hold them together
    route = JacobianRoute.COMPLEX_STEP if quick else JacobianRoute.SYMBOLIC
    saddles = [stage_saddle(CascadeConfig(eps=0.05, nodes=n), jacobian=route) for n in grids]
    saddle = saddles[-1]
    perron = saddle.perron
    predicted = perron.eigenvalue if perron is not None and perron.unstable else float("nan")
    match = abs(predicted / saddle.unstable - 1) <= 1e-8
    measured += (
        f"; stage-1 saddle of the block-mean flow ({grids[-1]} Gauss–Hermite nodes per mode): "
        f"closure (free blocks' row rotations, off-block amplitudes into block 1) invariant "
        f"(leak {saddle.closure_leak:.1e}), rates A = D = 0 (strict hypothesis fails; marginal "
        f"form, loop gain {perron.loop_gain if perron else float('nan')}), Perron eigenvalue "
        f"{predicted:.6g} vs Jacobian's top eigenvalue {saddle.unstable:.6g}; the point is "
        f"quasi-stationary, not a fixed point: block 1's flow drifts (|F| = "
        f"{saddle.residual:.1e}; top eigenvalue {saddle.drift_eigenvalue:.6g} at t = "
        f"{saddle.time / 2:g}, {saddle.unstable:.6g} at t = {saddle.time:g}; Jacobian: "
        f"{route.value})"
    )
    if len(saddles) > 1:
        change = abs(saddles[0].unstable / saddle.unstable - 1)
        measured += f" ({grids[0]} nodes: {saddles[0].unstable:.6g}, change {change:.1%})"
    if passed and not match:
        verdict = Verdict.FAIL
    elif passed and not saddle.perron_applicable:
        verdict = Verdict.DISCREPANCY
    return Claim(
        "prop24-schur-perron",
        "[[-A, B], [C, -D]] (A, D > 0 diagonal, B, C ≥ 0) has a "
        "real positive eigenvalue iff ρ(D⁻¹CA⁻¹B) > 1, with a non-negative eigenvector; at a stage "
        "saddle the linearisation has that block form",
        f"agreement in all {trials} random cases; at the saddle the Perron eigenvalue is the "
        "top eigenvalue",
        measured,
        "exact",
        verdict,
    )


INTEGRAL_TOLERANCE = 1e-4
"""T(1) − T(0) against ∫ dT/dν by 4-point Gauss–Legendre: measured gap 1.3e-5 (smooth T(ν))."""


@claim("prop23-homotopy")
def check_homotopy(quick: bool) -> Claim:
    from symescape.numeric.homotopy import homotopy_derivative

    rows, worst = [], 0.0
    for nu in (0.3, 1.0, 2.5):
        result = homotopy_derivative(
            lambda x, nu=nu: x**2 + nu,
            lambda x: np.array([[2 * x[0]]]),
            [lambda x: np.array([1.0])],
            np.array([0.0]),
            lambda x: x[0] - 1,
            lambda x: np.array([1.0]),
            100.0,
        )

        def exact(n: float) -> float:
            return float(np.arctan(1 / np.sqrt(n)) / np.sqrt(n))

        h = 1e-4 * nu
        central = (exact(nu + h) - exact(nu - h)) / (2 * h)
        worst = largest_or_nan((worst, abs(result.derivative / central - 1)))
        rows.append(f"ν={nu}: {result.derivative:.8f} vs {central:.8f}")
    if not quick:
        from symescape.experiments.multimode import (
            CascadeConfig,
            homotopy_integral_check,
            multimode_homotopy_check,
        )

        config = CascadeConfig(eps=0.05, nodes=10)
        result, central = multimode_homotopy_check(config)
        worst = largest_or_nan((worst, abs(result.derivative / central - 1)))
        rows.append(
            f"multi-mode decoupled→block-mean (ν=0.5, stage 1): {result.derivative:.6f} "
            f"vs {central:.6f}; channels (layer-1 rotations, internal off-block …) "
            + ", ".join(f"{c:.3f}" for c in result.channels)
        )
        integral = homotopy_integral_check(config)
        integral_ok = integral["relative_gap"] <= INTEGRAL_TOLERANCE
        rows.append(
            f"∫_0^1 dT/dν dν (Gauss–Legendre, 4 nodes) = {integral['integral']:.6f} vs "
            f"T(1) − T(0) = {integral['difference']:.6f} (gap {integral['relative_gap']:.1e}, "
            f"tolerance {INTEGRAL_TOLERANCE:.0e})"
        )
    else:
        integral_ok = True
    return Claim(
        "prop23-homotopy",
        "dT/dν = −∫_0^T p(t)ᵀ ∂_ν f_ν(x(t)) dt with the adjoint "
        "p(T) along the conormal, p(T)ᵀf = 1 (the seed's sign was lost: minus, by test)",
        "adjoint = central differences (toy dx/dt = x² + ν with known T(ν); full run also the "
        "decoupled → block-mean multi-mode family)",
        "; ".join(rows) + f"; worst relative gap {worst:.1e}",
        "≤ 1e-6 (derivatives); the integral to the quadrature's error",
        verdict_for(worst <= 1e-6 and integral_ok),
    )


@claim("fig5-cascade")
def check_cascade(quick: bool) -> Claim:
    """Figure 5's cascade: the decoupled model must reproduce the single-mode stage times (else
    FAIL); the verdict follows finite networks (block widths 8 and 32, SGD, a perturbed modewise
    start): PASS when they show three plateaus in the ranking order, DISCREPANCY otherwise."""
    from symescape.experiments.multimode import (
        CASCADE_FLOWS,
        CascadeConfig,
        cascade_flows,
        count_plateaus,
        real_cascades,
    )

    # the same runs as figure 5's, shared through the results cache (one computation when
    # `verify` and `reproduce` run in the same environment)
    config = CascadeConfig(eps=0.05, nodes=10 if quick else 16, time=500.0)
    store = results_cache()
    # The verdict reads the decoupled model and the finite networks; the block-mean flow is
    # context, which quick leaves out (3 of quick's 12 s here, two cores)
    flows = cascade_flows(config, store, names=("decoupled",) if quick else tuple(CASCADE_FLOWS))
    decoupled = flows["decoupled"]
    real = real_cascades(config, quick, store)
    plateaus = {name: count_plateaus(run["times"], run["loss"]) for name, run in flows.items()}
    decoupled_ok = (
        plateaus["decoupled"] == 3
        and decoupled["order_measured"] == decoupled["order_ranking_rule"]
        and largest_or_nan(abs(r - 1) for r in decoupled["ratio"]) <= 0.02
    )
    real_three = all(
        p == 3 and order == run["order_ranking_rule"]
        for run in real.values()
        for p, order in zip(run["plateaus"], run["order_measured"], strict=True)
    )
    real_text = "; ".join(
        f"n_b = {nb}: plateaus {run['plateaus']}, stages at "
        f"{[[round(t, 1) for t in st] for st in run['stage_times']]}"
        for nb, run in real.items()
    )
    coupled = flows.get("block-mean")
    block_mean_text = (
        "block-mean flow: in the full run"
        if coupled is None
        else f"block-mean flow (the exact reduced flow from modewise blocks): "
        f"{plateaus['block-mean']} plateau(s), stages at "
        f"{[round(t, 1) for t in coupled['stage_times']]}, largest off-block entry "
        f"{max(coupled['off_diagonal']):.2f}"
    )
    measured = (
        f"finite networks (SGD, D = 16, perturbed modewise start): {real_text}; "
        f"{block_mean_text}; decoupled model: {plateaus['decoupled']} "
        f"plateaus at {[round(t, 1) for t in decoupled['stage_times']]} vs single-mode "
        f"{[round(t, 1) for t in decoupled['predicted_decoupled']]}"
    )
    if not decoupled_ok:
        verdict = Verdict.FAIL
    elif real_three:
        verdict = Verdict.PASS
    else:
        verdict = Verdict.DISCREPANCY
    return Claim(
        "fig5-cascade",
        "L = 4 tanh, three modes, modewise-block init: the loss shows three "
        "plateaus, stages in the order of the ranking rule at the single-mode times",
        "3 plateaus; order by decreasing a_k; T_k from the single-mode law",
        measured,
        "decoupled stage times within 2%; the verdict follows the finite networks",
        verdict,
        {
            "plateaus": plateaus,
            "real_networks": {
                str(nb): {
                    "plateaus": run["plateaus"],
                    "stage_times": run["stage_times"],
                    "order": run["order_measured"],
                }
                for nb, run in real.items()
            },
        },
    )
