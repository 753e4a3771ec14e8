"""Claims for the rest of the paper (issue 15): signal energy, depth independence, ansatz
invariance off the v-axis, universality across classes, the row-moment hierarchy, Appendix E.

Each check measures, states the prediction and tolerance, and returns a verdict that can fail;
``quick`` shrinks grids (MATH.md §4, §6, §8, §9).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from symescape.experiments.claim_registry import (
    Claim,
    Verdict,
    claim,
    largest_or_nan,
    smallest_or_nan,
    verdict_for,
)
from symescape.experiments.results_cache import results_cache
from symescape.numeric.fits import log_log_slope
from symescape.numeric.threads import single_threaded_blas


@claim("remark-prefactor-agreement")
def check_prefactor_agreement(quick: bool) -> Claim:
    from symescape.experiments.signal_energy import prefactor_agreement

    rows, worst, saturation, looseness = [], 0.0, 0.0, []
    for act in ("tanh", "gelu"):
        for depth in (5, 6):
            result = prefactor_agreement(act, depth)
            worst = largest_or_nan((worst, result.relative_gap))
            saturation = largest_or_nan((saturation, abs(result.saturation_balanced - 1)))
            looseness.append(result.saturation_unbalanced)
            rows.append(
                f"{act} L={depth}: K_SE = {result.K_signal:.15g}, K = {result.K_exact:.15g}"
            )
    ok = worst <= 1e-10 and saturation <= 1e-10 and smallest_or_nan(looseness) > 1.01
    return Claim(
        "remark-prefactor-agreement",
        "on the manifold the signal-energy (AM-GM) bound dM/dt ≥ aμ₁ L (Π||G_l||²)^{1/L} saturates "
        "and reproduces Theorem 6's prefactor 1/(K(L−2)) exactly",
        "K_SE = aμ₁ C_G/C_M (chain quadrature at X = 10⁻¹³·𝟏) equals K = aμ₁c_1^{L−1} (exact); "
        "AM-GM ratio 1 on the balanced ray, > 1 off it",
        "; ".join(rows)
        + f"; worst relative gap {worst:.1e}; AM-GM ratio − 1 on the ray ≤ {saturation:.1e}, "
        f"at X ∝ (1, …, 2): {min(looseness):.4f}",
        "≤ 1e-10 (10 digits); ratio − 1 ≤ 1e-10 on the ray",
        verdict_for(ok),
        {"relative_gap": worst, "saturation": saturation, "unbalanced_ratio": looseness},
    )


@claim("thm6-depth-independence")
def check_depth_independence(quick: bool) -> Claim:
    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.quadrature import critical_depth_law
    from symescape.numeric.reduced import reduced_model

    r, other = 3, 0.5
    eps = np.geomspace(1e-4, 1e-3, 3 if quick else 5)
    rows, ok, details = [], True, {}
    for depth in (4, 6, 8, 10):
        model = reduced_model("tanh", depth)
        scales = [np.array([e] * r + [other] * (depth - r)) for e in eps]
        T = np.array([escape_time_ode(model, s).time for s in scales])
        slope = log_log_slope(eps, T)
        law = critical_depth_law(float(model.constants.K), r, np.full(depth - r, other))
        ratios = T * eps ** (r - 2) / law.prefactor
        deviations = np.abs(ratios - 1)
        ok &= abs(slope + (r - 2)) <= 0.05
        ok &= bool(deviations[0] <= 1e-3 and np.all(np.diff(deviations) > 0))
        rows.append(f"L={depth}: slope {slope:.4f}, T·ε/prefactor {ratios[0]:.5f}")
        details[depth] = {"slope": slope, "prefactor": law.prefactor, "ratios": ratios.tolist()}
    return Claim(
        "thm6-depth-independence",
        "on the manifold the escape-time law depends on r, not on L: r = 3 layers at ε, the "
        "others at 0.5, L = 4, 6, 8, 10",
        "slope −1; T ≈ ε^{−1}/(K Π_{i>r} s_i) (MATH.md §6 bottleneck shell)",
        "; ".join(rows) + f" (ε = {eps[0]:g}…{eps[-1]:g})",
        "slope ±0.05; prefactor ratio within 1e-3 at the smallest ε, deviation shrinking with ε",
        verdict_for(ok),
        details,
    )


@claim("lemma14-invariance")
def check_invariance(quick: bool) -> Claim:
    from symescape.experiments.ansatz_invariance import invariance_check

    X = np.array([0.7, 0.5, -0.6, 0.8])
    acts = ("tanh",) if quick else ("tanh", "gelu")
    dims = (4,) if quick else (4, 6)
    exact_leak = field = 0.0
    mc_ok, rows, control_leak = True, [], np.inf
    with single_threaded_blas():
        for act in acts:
            for dim in dims:
                check = invariance_check(act, X, dim)
                exact_leak = largest_or_nan((exact_leak, check.leak))
                field = largest_or_nan((field, check.field_error))
            mc = invariance_check(act, X, 4, measure="monte-carlo", samples=20000)
            mc_ok &= mc.leak <= 3 * mc.standard_error
            control = invariance_check(act, X, 4, perturbation=0.1)
            control_leak = smallest_or_nan((control_leak, control.leak))
            rows.append(
                f"{act}: Monte Carlo (n = 20000, D = 4) leak {mc.leak:.3f} vs standard error "
                f"{mc.standard_error:.3f}; off-ansatz control leak {control.leak:.2f}"
            )
    ok = exact_leak <= 1e-12 and field <= 1e-12 and mc_ok and control_leak > 1e-3
    return Claim(
        "lemma14-invariance",
        "the population gradient at a point of the symmetric ansatz lies in the ansatz, with "
        "input components orthogonal to v present (layer-1 step: E[δ_1(s) x_⊥] = 0)",
        "gradient off the ansatz 0; ansatz coordinates = the reduced field",
        f"Gaussian inputs in D = {', '.join(map(str, dims))} (Gauss–Hermite along v × "
        f"symmetric orthogonal rule): leak ≤ {exact_leak:.1e}, vs reduced field ≤ {field:.1e}; "
        + "; ".join(rows),
        "≤ 1e-12 (exact measure); Monte Carlo leak ≤ 3 standard errors",
        verdict_for(ok),
        {"exact_leak": exact_leak, "field_error": field},
    )


@claim("prop8-signal-energy")
def check_signal_energy(quick: bool) -> Claim:
    from symescape.experiments.signal_energy import SignalEnergySplit, escape_split

    cases = ((3, 0.02), (5, 0.16)) if quick else ((3, 0.02), (3, 0.01), (5, 0.16), (5, 0.12))
    rows, worst, dominant = [], 0.0, True
    details = {}
    with single_threaded_blas():
        for r, eps in cases:
            run = escape_split(r, eps, chunk=10)
            errors = [s.identity_error for s in run.splits]
            worst = largest_or_nan((worst, *errors))
            plateau = [s for s in run.splits if s.loss > 0.99 * run.baseline]
            dominant &= bool(plateau) and all(
                abs(s.higher) + abs(s.self_interaction) < 0.1 * s.signal for s in plateau
            )
            first, last_plateau, end = run.splits[0], plateau[-1], run.splits[-1]

            def share(s: SignalEnergySplit) -> str:
                return f"{s.higher / s.signal:+.1e}, {-s.self_interaction / s.signal:+.1e}"

            rows.append(
                f"r={r}, ε={eps}: escape at step {run.escape_step}; higher/signal, "
                f"−self/signal at start {share(first)}, end of plateau {share(last_plateau)}, "
                f"escape {share(end)}"
            )
            details[f"r={r},eps={eps}"] = {
                "escape_step": run.escape_step,
                "max_identity_error": max(errors),
                "higher_over_signal": [end.higher / end.signal, first.higher / first.signal],
                "self_over_signal": [
                    end.self_interaction / end.signal,
                    first.self_interaction / first.signal,
                ],
            }
    ok = worst <= 1e-12 and dominant
    return Claim(
        "prop8-signal-energy",
        "dM/dt = aμ₁ Σ||G_l||² + (teacher's higher-Hermite term) − (self-interaction) on uniform "
        "gradient flow of the squared loss (tanh, L = 8, width 16, D = 16, He-normal, first r "
        "layers × ε, SGD lr 0.1)",
        "split = exact dM/dt along the flow (forward-mode tangent) to round-off; the signal term "
        "dominates on the small-signal plateau",
        "; ".join(rows) + f"; identity error ≤ {worst:.1e} (relative to the largest term)",
        "≤ 1e-12; |higher| + |self| < 0.1 · signal while loss > 0.99 · baseline",
        verdict_for(ok),
        details,
    )


@claim("cor7-universality")
def check_universality(quick: bool) -> Claim:
    from symescape.experiments.universality import uncentred_escape, uncentred_flow
    from symescape.numeric.escape import EscapeCriterion, escape_time_ode
    from symescape.numeric.reduced import reduced_model

    depth = 5
    names = ("linear", "tanh", "erf", "sin", "gelu", "swish", "sigmoid", "softplus")
    if quick:  # one activation per class (A, B, C, D centred): half the models and solves
        names = ("linear", "tanh", "gelu", "sigmoid")
    models = [reduced_model(a, depth) for a in names]
    eps_values = np.array([1e-1, 3e-2, 1e-2] if quick else [1e-1, 3e-2, 1e-2, 3e-3])
    pattern = np.array([1.0, 1.5, 2.0, 1.2, 3.0])

    def spread(scales: np.ndarray) -> float:
        # LSODA: the fast integrator needs ~4·10⁴ field evaluations for centred sigmoid on the
        # balanced ray at ε = 1e-2 (27 s), LSODA ~1.4·10³.
        KT = [
            float(m.constants.K) * escape_time_ode(m, scales, method="lsoda").time
            for m in models
        ]
        return (largest_or_nan(KT) - smallest_or_nan(KT)) / float(np.mean(KT))

    balanced = np.array([spread(np.full(depth, e)) for e in eps_values])
    unbalanced_eps = eps_values[::2] if quick else eps_values
    unbalanced = np.array([spread(e * pattern) for e in unbalanced_eps])
    slopes = (log_log_slope(eps_values, balanced), log_log_slope(unbalanced_eps, unbalanced))
    ok = all(abs(s - 1) <= 0.15 for s in slopes)
    ok &= bool(balanced[-1] < 0.03 and unbalanced[-1] < 0.03)
    rows = []
    drive_error = 0.0
    for name in ("sigmoid", "softplus"):
        flow = uncentred_flow(name, depth)
        drive = flow.field(np.zeros(depth))
        predicted = flow.predicted_origin_drive
        drive_error = largest_or_nan(
            (drive_error, abs(drive[-1] / predicted - 1), *np.abs(drive[:-1]))
        )
        row = f"{name} uncentred: F(0) = (0, …, 0, {drive[-1]:.6f}) vs aσ(0)E[σ] {predicted:.6f}"
        if not quick:
            centred = reduced_model(name, depth)
            ratios = []
            for e in (0.1, 0.05, 0.02):
                T_unc = uncentred_escape(flow, e)
                T_cen = escape_time_ode(
                    centred, np.full(depth, e), EscapeCriterion("loss", 0.5)
                ).time
                ratios.append("runs off" if T_unc is None else f"{T_unc / T_cen:.2g}")
            row += f"; T_uncentred/T_centred at ε = 0.1, 0.05, 0.02: {', '.join(ratios)}"
        rows.append(row)
    ok &= drive_error <= 1e-12
    return Claim(
        "cor7-universality",
        "K·T is activation-independent at leading order across classes A (linear), B (tanh, erf, "
        "sin), C (gelu, swish) and D centred (sigmoid, softplus), balanced and unbalanced starts; "
        "class D uncentred moves the saddle (§C.4)",
        "relative spread of K·T → 0 like ε^{q−1} = ε (class C's correction, the largest); "
        "uncentred F(0) = (0, …, 0, aσ(0)E[σ]) ≠ 0",
        f"over {', '.join(names)}: balanced spreads "
        + ", ".join(f"{s:.1e}" for s in balanced)
        + f" at ε = {eps_values.tolist()} (slope {slopes[0]:.3f}); unbalanced "
        "(ε·(1, 1.5, 2, 1.2, 3)) "
        + ", ".join(f"{s:.1e}" for s in unbalanced)
        + f" (slope {slopes[1]:.3f}); "
        + "; ".join(rows),
        "slope 1 ± 0.15, spread < 3e-2 at ε = 1e-2 (1e-2 at 3e-3); F(0) to 1e-12",
        verdict_for(ok),
        {"balanced": balanced.tolist(), "unbalanced": unbalanced.tolist(), "slopes": slopes},
    )


@claim("thm25-no-closure")
def check_no_closure(quick: bool) -> Claim:
    from symescape.experiments.row_moments import hermite_coefficients, no_closure

    orders = 8 if quick else 12
    rows, ok, details = [], True, {}
    for act in ("tanh", "gelu"):
        result = no_closure(act, orders)
        roots = np.array(result.roots)
        times = np.array(result.times)
        coupled = hermite_coefficients(act, orders + 1)[1:] > 1e-12  # degree n couples via h_{n+1}
        finite = np.isfinite(roots)
        steps = np.diff(np.where(finite, roots, 0.0))
        # Strict increase exactly where the added degree couples; equality where it does not.
        strict_where_coupled = bool(np.all(steps[coupled[1:] & finite[1:]] > 0))
        flat_where_uncoupled = bool(np.all(np.abs(steps[~coupled[1:]]) <= 1e-14))
        below = bool(np.all(roots[finite] < result.full_root))
        gaps = result.full_root - roots[finite]
        time_gaps = times[np.isfinite(times)] - result.full_time
        ok &= strict_where_coupled and flat_where_uncoupled and below
        ok &= gaps[-1] < 0.1 * gaps[0] and bool(np.all(time_gaps > 0))
        ok &= bool(np.all(np.diff(time_gaps) <= 1e-9 * result.full_time))
        ok &= abs(result.matrix_root / roots[-1] - 1) <= 1e-10
        uncoupled = [n for n in range(1, orders) if not coupled[n]]
        rows.append(
            f"{act}: λ_n = {', '.join('—' if not np.isfinite(x) else f'{x:.6f}' for x in roots)}"
            f"; λ_∞ = {result.full_root:.9f} (gap at n = {orders - 1}: {gaps[-1]:.1e}); "
            f"T_n − T_∞ = {time_gaps[0]:.3g} … {time_gaps[-1]:.2e} (T_∞ = {result.full_time:.6g});"
            f" no step at n = {uncoupled} (h_(n+1) = 0 by parity)"
        )
        details[act] = {  # None where a truncation has no positive root (loop gain ≤ 1)
            "roots": [x if np.isfinite(x) else None for x in result.roots],
            "full_root": result.full_root,
            "times": [x if np.isfinite(x) else None for x in result.times],
            "full_time": result.full_time,
        }
    return Claim(
        "thm25-no-closure",
        "Theorem 25 / Corollary 26 on a reconstructed graded hierarchy (A = diag α(1+n), "
        "D = diag δ(1+n), B, C = rank-one in the normalised Hermite coefficients h_(n+1) of σ; "
        "the seed lost the paper's blocks): truncated Perron roots increase to λ_∞ and never "
        "reach it; truncated escape times exceed T_∞, the gap shrinking",
        "λ_n < λ_(n+1) < λ_∞ where degree n+1 couples; λ_n → λ_∞; T_n > T_∞, gap decreasing",
        "; ".join(rows),
        "λ_n < λ_∞ strictly at every finite n; gap at the last n < 0.1 × first; root by the "
        "secular equation = eigvals to 1e-10",
        verdict_for(ok),
        details,
    )


@claim("appE-duhamel")
def check_duhamel(quick: bool) -> Claim:
    from symescape.experiments.duhamel import duhamel_check
    from symescape.experiments.multimode import CascadeConfig

    with single_threaded_blas():
        check = duhamel_check(
            CascadeConfig(eps=0.05, nodes=10), fraction=0.25 if quick else 0.4,
            points=9 if quick else 17,
        )
    size = np.linalg.norm(check.true, axis=1)[1:]
    full = np.linalg.norm(check.duhamel - check.true, axis=1)[1:] / size
    scalar = np.linalg.norm(check.scalar - check.true, axis=1)[1:] / size
    order = log_log_slope(size, full)
    loops = check.loop_products
    full_ok = full[0] <= 1e-3 and order >= 1.5
    sign_ok = bool(np.all(loops > 0))
    scalar_ok = scalar[-1] <= 0.05
    measured = (
        f"off-block part of the block-mean flow along stage 1 (L = 4 tanh, a = (4, 2, 1), "
        f"ε = 0.05, t ≤ {check.times[-1]:.1f}, ||η|| ≤ {size[-1]:.2e}): full Duhamel (linearised, "
        f"all couplings) relative error {full[0]:.1e} … {full[-1]:.1e}, ∝ ||η||^{order:.2f}; "
        f"per-entry scalar Duhamel (own rate only) {scalar[0]:.1e} … {scalar[-1]:.1e}, growing "
        f"with t (the cross-couplings enter at first order); cross-block loop products "
        f"J[rot, amp]·J[amp, rot] for blocks 2, 3 in [{loops.min():.2e}, {loops.max():.2e}]"
    )
    if not (full_ok and sign_ok):
        verdict = Verdict.FAIL
    elif not scalar_ok:
        verdict = Verdict.DISCREPANCY
    else:
        verdict = Verdict.PASS
    return Claim(
        "appE-duhamel",
        "§E.4–E.5 (closed forms lost in the seed; reconstructed): off-block entries and layer-1 "
        "cross-block rotations follow the Duhamel form η_i = ∫ exp(−∫Γ_i) S_i dτ along stage 1, "
        "and the cross-block moment is positive (same-sign feedback)",
        "Duhamel = block-mean flow to first order in η; loop products > 0",
        measured,
        "full Duhamel error ≤ 1e-3 at the first point and of order ≥ 1.5 in ||η||; scalar form "
        "within 5 %; loop products > 0",
        verdict,
        {
            "times": check.times.tolist(),
            "full_error": full.tolist(),
            "scalar_error": scalar.tolist(),
            "loop_products": loops.tolist(),
        },
    )


@claim("prop22-corners")
def check_corners(quick: bool) -> Claim:
    from symescape.experiments.off_manifold import OffManifoldConfig, off_manifold_run

    # Small rates and evaluation at every step resolve the short escapes; times are steps × rate.
    rates = {1: 0.0005, 2: 0.01}
    seeds = 2 if quick else 4
    eps = np.array([1e-4, 1e-3, 1e-2])
    with single_threaded_blas():
        runs = {
            r: off_manifold_run(
                OffManifoldConfig(
                    seeds=seeds, learning_rate=rate, eval_every=1, record_gradient_norms=False
                ),
                r,
                eps.tolist(),
            )
            for r, rate in rates.items()
        }
    rows, ok, details = [], True, {}
    coefficients = {}
    for r, run in runs.items():
        steps = np.array(run.steps, dtype=float).mean(axis=2) * rates[r]  # time, (thresholds, ε)
        for index, threshold in enumerate(run.thresholds):
            T = steps[index]
            slope, intercept = np.polyfit(np.log(1 / eps), T, 1)
            residual = float(np.max(np.abs(np.polyval([slope, intercept], np.log(1 / eps)) - T)))
            coefficients[(r, threshold)] = (slope, residual, T)
            details[f"r={r},threshold={threshold}"] = T.tolist()
    for threshold in runs[2].thresholds:
        s1, _, T1 = coefficients[(1, threshold)]
        s2, res2, T2 = coefficients[(2, threshold)]
        ok &= s2 > 0 and res2 <= 0.05 * float(np.ptp(T2)) and abs(s1) <= 0.05 * s2
        rows.append(
            f"loss<{threshold}·base: r=1 T = {', '.join(f'{t:.3g}' for t in T1)} "
            f"(dT/dln(1/ε) = {s1:.3f}); r=2 T = {', '.join(f'{t:.3g}' for t in T2)} "
            f"(dT/dln(1/ε) = {s2:.3f}, residual {res2:.3f})"
        )
    return Claim(
        "prop22-corners",
        "off the manifold (He-normal, L = 8 tanh, width 16, SGD): the corners r = 1 "
        "(T = Θ(1)) and r = 2 (T = Θ(ln 1/ε)) of Theorem 11",
        "r = 2: T linear in ln(1/ε); r = 1: flat",
        "; ".join(rows) + f" at ε = {eps.tolist()} (time = steps × rate, rates {rates}, mean of "
        f"{seeds} seeds)",
        "r = 2: residual of the ln fit ≤ 5 % of the range; r = 1: |dT/dln(1/ε)| ≤ 5 % of r = 2's",
        verdict_for(ok),
        details,
    )


@claim("thm11-depth-independence")
def check_off_manifold_depth(quick: bool) -> Claim:
    from symescape.experiments.off_manifold import (
        QUICK_WINDOWS,
        OffManifoldConfig,
        fit_slopes,
        off_manifold_run,
    )

    # quick: L = 8 first, whose program (the same spec and shapes) thm11-off-manifold and
    # prop22-corners then find compiled, in this process or in JAX's disk cache (a third of
    # this claim's CPU was compiling two programs of its own), then L = 6: a narrower range
    # than the full run's 6, 8, 10
    depths = (8, 6) if quick else (6, 8, 10)
    rows, ok, details = [], True, {}
    with single_threaded_blas():
        for depth in depths:
            # evaluated every step: at L = 10 the escapes take ~50 steps, and at the default
            # every 10 all three thresholds fell in one evaluation (three identical fits); the
            # fits read only the held-out loss, and ||G_l||² at every step was a third of the run
            config = OffManifoldConfig(
                depth=depth, seeds=2 if quick else 4, eval_every=1, record_gradient_norms=False
            )
            fits = fit_slopes(off_manifold_run(config, 3, QUICK_WINDOWS[3]))
            for fit in fits:
                # a seed that never reached the threshold is out of the fit: that fails too
                ok &= abs(fit.slope - fit.predicted) <= 0.1 and len(fit.per_seed) == config.seeds
            rows.append(
                f"L={depth}: "
                + ", ".join(f"{f.slope:.3f} ± {f.stderr:.3f}{_unreached(f, config)}" for f in fits)
            )
            details[depth] = [f.slope for f in fits]
    return Claim(
        "thm11-depth-independence",
        "off the manifold the exponent depends on r, not on L: r = 3 at L = "
        f"{', '.join(map(str, sorted(depths)))} (tanh, He-normal, width 16, SGD)",
        "slope −1 at every L",
        "; ".join(rows) + f" (loss thresholds 0.3, 0.5, 0.7 of the baseline; ε = "
        f"{QUICK_WINDOWS[3]})",
        "±0.1",
        verdict_for(ok),
        details,
    )


def _unreached(fit: Any, config: Any) -> str:
    """`` (k of n seeds)`` when some seeds never reached the threshold within the budget."""
    used = len(fit.per_seed)
    return "" if used == config.seeds else f" ({used} of {config.seeds} seeds reached it)"


@claim("thm11-off-manifold")
def check_off_manifold(quick: bool) -> Claim:
    from symescape.experiments.off_manifold import (
        FULL_WINDOWS,
        QUICK_WINDOWS,
        OffManifoldConfig,
        fit_slopes,
        stored_off_manifold_run,
    )

    # gelu (class C) escapes ~16× slower than tanh at L = 8 (c_1 = μ₁ = 1/2), so it runs at
    # rate 1.6. Measured (two seeds, thresholds 0.3/0.5/0.7): rate 0.8 evaluated every 5 steps
    # gives r = 3: −1.037, −1.042, −1.042 and r = 5: −3.150, −3.152, −3.153 (23 235 steps,
    # 41 s); rate 1.6 every 10 steps −1.029, −1.032, −1.036 and −3.150, −3.143, −3.148
    # (11 720 steps, 19 s): the rate moves the slopes by < 0.01, inside their standard errors
    # (0.03 and 0.15), so 1.6 is still GD in its flow regime. A coarser evaluation moves them
    # more (every 40 steps at 1.6: r = 3 −1.021): the escape step is read at evaluations. Every
    # run is evaluated every 10 steps.
    # The first run is figure 4's setting (tanh, width 16, 4 seeds, rate 0.1, 20 000 steps):
    # in full mode it runs figure 4's r = 3 and 5 windows, stored in the results cache, where
    # `reproduce fig4` finds them.
    figure = OffManifoldConfig()
    # quick: two seeds, not figure 4's four (per-seed slopes spread by ~0.02 there against a
    # tolerance of 0.1 and 0.3; the training, most of quick's time here, halves), and no
    # ||G_l||² (quick stores nothing for figure 4, and the fits read only the loss)
    runs = [replace(figure, seeds=2, record_gradient_norms=False)] if quick else [figure]
    store = None if quick else results_cache()
    if not quick:
        # the other two settings are read for their fits alone (figure 4 draws the first):
        # no ||G_l||², a held-out backward pass at every evaluation
        runs += [
            replace(figure, width=64, seeds=2, record_gradient_norms=False),
            replace(
                figure,
                activation="gelu",
                seeds=2,
                learning_rate=1.6,
                max_steps=15000,
                record_gradient_norms=False,
            ),
        ]
    rows, eps_rows, ok, details = [], [], True, {}
    with single_threaded_blas():
        for config in runs:
            activation, width, seeds = config.activation, config.width, config.seeds
            windows = FULL_WINDOWS if not quick and config == figure else QUICK_WINDOWS
            for r in (3, 5):
                run = stored_off_manifold_run(config, r, windows[r], store)
                details[f"{activation} N={width}, r={r}, ε"] = windows[r]
                eps_rows.append(f"{activation} N={width}, r={r}, ε {windows[r]}")
                for fit in fit_slopes(run):
                    ok &= abs(fit.slope - fit.predicted) <= 0.1 * abs(fit.predicted)
                    ok &= len(fit.per_seed) == seeds  # every seed reached the threshold
                    label = f"{activation} N={width}, r={r}, loss<{fit.threshold}·base"
                    rows.append(
                        f"{label}: {fit.slope:.3f} ± {fit.stderr:.3f}{_unreached(fit, config)}"
                    )
                    details[label] = fit.slope
    return Claim(
        "thm11-off-manifold",
        "He-normal init with the first r layers × ε, SGD with a uniform rate: log T vs log ε has "
        "slope −(r−2), independent of L, of the width and of the activation (L = 8; tanh at "
        "widths 16 and 64, gelu at 16)",
        "slope −(r−2)",
        "; ".join(rows) + "; ε: " + "; ".join(eps_rows),
        "within 10% of r−2",
        verdict_for(ok),
        details,
    )
