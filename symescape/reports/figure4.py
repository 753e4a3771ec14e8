"""Figure 4 (MATH.md §8): escape time against the bottleneck scale ε off the manifold."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from symescape.experiments.off_manifold import (
    FULL_WINDOWS,
    QUICK_WINDOWS,
    OffManifoldConfig,
    config_record,
    fit_slopes,
    stored_off_manifold_run,
)
from symescape.experiments.results_cache import results_cache
from symescape.experiments.sweeps import SweepStore
from symescape.reports.plotting import plain_log_ticks, pyplot, save_figure


def figure4(out: str, quick: bool = False) -> dict:
    """Figure 4: log T against log ε for r ∈ {3, 5} (quick) or {3, 5, 8}, three thresholds,
    per-seed points, fitted slopes with standard errors against −(r−2); writes fig4.*."""

    out = Path(out)
    config = OffManifoldConfig()
    windows = QUICK_WINDOWS if quick else FULL_WINDOWS
    # points in the output folder (a rerun resumes) and in the results cache (verify's
    # thm11-off-manifold runs r = 3 and 5 of this setting in these windows)
    store = SweepStore(out / "points" / "fig4", shared=results_cache())
    runs = {
        r: stored_off_manifold_run(config, r, eps, store, progress=True)
        for r, eps in windows.items()
    }
    fits = {r: fit_slopes(run) for r, run in runs.items()}
    plt = pyplot()
    fig, axes = plt.subplots(
        1, len(runs), figsize=(5.4 * len(runs), 4.4), squeeze=False, layout="constrained"
    )
    for axis, (r, run) in zip(axes[0], runs.items(), strict=True):
        eps = np.array(run.eps)
        for index, threshold in enumerate(run.thresholds):
            steps = np.array(run.steps[index], dtype=float)
            times = steps * config.learning_rate
            for j in range(times.shape[1]):
                axis.loglog(eps, times[:, j], "o", color=f"C{index}", ms=3, alpha=0.5)
            fit = fits[r][index]
            mean = np.exp(np.nanmean(np.log(times), axis=1))
            axis.loglog(
                eps,
                mean[-1] * (eps / eps[-1]) ** fit.predicted,
                "-",
                color=f"C{index}",
                lw=1,
                label=f"loss < {threshold}·base: {fit.slope:.2f} ± {fit.stderr:.2f}",
            )
        axis.set_title(f"r = {r}: predicted slope {-(r - 2)}")
        axis.set_xlabel("bottleneck scale ε")
        axis.set_ylabel("escape time (η · steps)")
        axis.legend(fontsize=7)
        plain_log_ticks(axis)
    fig.suptitle(
        f"Figure 4: He-normal {config.activation} network, L = {config.depth}, first r "
        "layers × ε, SGD (points: seeds; lines: slope −(r−2) through the largest ε)",
        fontsize=9,
    )
    summary = [
        f"fig4 r={f.r} threshold {f.threshold}: slope {f.slope:.3f} ± {f.stderr:.3f} "
        f"(predicted {f.predicted:.0f}); held-out relative errors ≤ "
        f"{max(f.held_out_errors, default=float('nan')):.3f}"
        for fs in fits.values()
        for f in fs
    ]
    summary.append(
        f"fig4: runs {store.origins()} (verify's thm11-off-manifold)"
    )
    data = {
        "settings": config_record(config),
        "windows": {str(k): v for k, v in windows.items()},
        "runs": {str(r): asdict(run) for r, run in runs.items()},
        "fits": {str(r): [asdict(f) for f in fs] for r, fs in fits.items()},
    }
    return save_figure(fig, out, "fig4", data, summary)
