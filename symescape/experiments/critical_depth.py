"""The critical-depth law (MATH.md §6): escape times, r layers at ε and the rest at fixed scales.

T = Θ(ε^{-(r-2)}) for r ≥ 3,  Θ(ln 1/ε) for r = 2,  Θ(1) for r = 1, independent of L."""

from __future__ import annotations

from typing import Any

import numpy as np

from symescape.experiments.sweeps import SweepStore
from symescape.numeric.fits import log_log_slope
from symescape.options import RHO_STAR


def critical_depth_sweep(
    depth: int = 6, other: float = 0.5, quick: bool = False, store: SweepStore | None = None
) -> dict[str, Any]:
    """T(ε) from the exact ODE with r layers at ε and the rest at ``other``, r = 1..L; fitted
    slopes on ε ∈ [1e-4, 1e-3] (and the ln coefficient for r = 2) against the theory."""
    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.quadrature import critical_depth_law, leading_time
    from symescape.numeric.reduced import reduced_model

    model = reduced_model("tanh", depth)
    K = float(model.constants.K)
    fit_eps = np.geomspace(1e-4, 1e-3, 3 if quick else 4)
    plot_eps = np.geomspace(1e-4, 1e-1, 6 if quick else 13)
    rows = []
    for r in range(1, depth + 1):

        def compute(p: dict) -> dict:
            scales = np.array([p["eps"]] * p["r"] + [other] * (depth - p["r"]))
            return {
                "ode": escape_time_ode(model, scales).time,
                "leading": leading_time(scales, K, RHO_STAR),
            }

        points = [
            {"figure": "critical", "depth": depth, "r": r, "eps": float(e), "other": other}
            for e in np.union1d(fit_eps, plot_eps)
        ]
        results = (
            store.map(points, compute, progress=f"r={r}") if store else [compute(p) for p in points]
        )
        eps = np.array([p["eps"] for p in points])
        T = np.array([res["ode"] for res in results])
        mask = np.isin(eps, fit_eps)
        law = critical_depth_law(K, r, np.full(depth - r, other))
        row = {
            "r": r,
            "eps": eps.tolist(),
            "T_ode": T.tolist(),
            "T_leading": [res["leading"] for res in results],
            "fitted": log_log_slope(eps[mask], T[mask]),
            "predicted": float(law.exponent),
        }
        if r == 2:
            row["log_coefficient"] = float(np.polyfit(np.log(1 / eps[mask]), T[mask], 1)[0])
            row["log_prefactor"] = float(law.prefactor)
        rows.append(row)
    return {
        "depth": depth,
        "other": other,
        "K": K,
        "rows": rows,
        "fit_window": [float(fit_eps[0]), float(fit_eps[-1])],
    }
