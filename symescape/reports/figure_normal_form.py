"""The escape-time expansion of Theorem 16 against the exact ODE: the error after each order
(tanh, L = 4, ρ* = 0.5), log-log against ε, with the predicted slopes (issue 14).

Full: the 30-digit ODE over ε ∈ [1e-3, 1e-2] (:func:`normal_form_sweep`); quick: the
double-precision ODE over ε ∈ [0.005, 0.04], where only the orders above its ~1e-12 resolution
show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mpmath
import numpy as np

from symescape.reports.plotting import pyplot, save_figure


def _quick_errors(spec: str, depth: int) -> tuple[np.ndarray, list[tuple[int, int, list]]]:
    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.precise_escape import expansion_constant
    from symescape.numeric.reduced import reduced_model
    from symescape.symbolic.normal_form import escape_expansion

    expansion = escape_expansion(spec, depth, order=0, exact=False)
    constant = mpmath.mpf(expansion_constant(expansion, spec).value)
    eps = np.geomspace(0.04, 0.005, 5)
    model = reduced_model(spec, depth)
    times = [escape_time_ode(model, np.full(depth, e), rtol=1e-13).time for e in eps]
    rows = []
    powers = sorted({t.power for t in expansion.all_terms})
    with mpmath.workdps(30):
        for cut in powers:
            following = [t for t in expansion.all_terms if t.power > cut]
            predicted = min(t.power for t in following) if following else expansion.nonlocal_power
            errors = [
                float(
                    abs(
                        mpmath.mpf(T)
                        - mpmath.fsum(
                            t.evaluate(mpmath.mpf(e)) for t in expansion.all_terms if t.power <= cut
                        )
                        - constant
                    )
                )
                for e, T in zip(eps, times, strict=True)
            ]
            rows.append((cut, predicted, errors))
    return eps, rows


def figure_normal_form(out: str | Path, quick: bool = False) -> dict[str, Any]:
    """Plot |T − Σ_{p ≤ cut} terms − C| against ε for each cut; write normal_form.{png,pdf,json}."""
    spec, depth = "tanh", 4
    if quick:
        eps, rows = _quick_errors(spec, depth)
        source = "double-precision ODE"
    else:
        from symescape.experiments.claims_normal_form import normal_form_sweep

        sweep = normal_form_sweep(spec, depth)
        eps = np.array(sweep.eps)
        rows = [(o.cut, o.predicted, list(o.errors)) for o in sweep.orders]
        source = "30-digit ODE"
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    summary = [f"tanh, L = {depth}, ρ* = 0.5: error after each order against the {source}"]
    for cut, predicted, errors in rows:
        ax.loglog(eps, errors, "o-", label=f"terms up to ε^{cut} (next: ε^{predicted})")
        summary.append(f"cut ε^{cut}: errors {', '.join(f'{e:.2e}' for e in errors)}")
    ax.set_xlabel("ε")
    ax.set_ylabel("|T − truncated expansion − C|")
    ax.legend(fontsize=7)
    data = {"eps": list(map(float, eps)), "rows": [[c, p, list(e)] for c, p, e in rows]}
    return save_figure(fig, Path(out), "normal_form", data, summary)
