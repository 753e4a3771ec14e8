"""The deep-ReLU figure (MATH.md §10): σ₁/σ₂ per layer at the optimal escape direction against
l^{1/4} with vector outputs at depths up to 10, and saddle-to-saddle runs with the plateaus
shaded and their ranks written on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from symescape.experiments.escape_directions import depth_sweep, depth_sweep_settings
from symescape.experiments.results_cache import results_cache
from symescape.experiments.saddle_to_saddle import SaddleConfig, saddle_to_saddle
from symescape.experiments.sweeps import SweepStore
from symescape.reports.plotting import pyplot, save_figure

TEACHER, OUTPUTS = "relu2:m=6", 3
SADDLE_TEACHERS = ("units:3,1", "linear:3,1")


def _saddle_panel(axis: object, run: dict, teacher: str) -> None:
    times, loss = np.array(run["times"]), np.array(run["loss"])
    stopped = run.get("stopped")
    shown = times <= stopped if stopped is not None else np.ones(times.shape, dtype=bool)
    axis.semilogy(times[shown], loss[shown], "k-", lw=1.2)  # not the state held past the stop
    for k, p in enumerate(run["plateaus"]):
        if p.get("final"):  # the stop point: a line, not a span
            axis.axvline(p["end"], color=f"C{k}", lw=1.0, ls="--")
        else:
            axis.axvspan(p["start"], p["end"], color=f"C{k}", alpha=0.15)
        axis.text(
            (p["start"] + p["end"]) / 2,
            p["loss"] * 1.6,
            f"ranks {p['layer_ranks']}\nbottleneck {p['bottleneck_rank']}"
            + ("\n(flow stopped)" if p.get("final") else ""),
            ha="right" if p.get("final") else "center",
            va="bottom",
            fontsize=7,
        )
    axis.set_xlabel("flow time t")
    axis.set_ylabel("loss")
    axis.set_ylim(loss.min() / 3, loss.max() * 8)
    axis.set_title(f"saddle to saddle: {teacher}, k = 2, L = 3", fontsize=9)


def figure_relu(out: str, quick: bool = False) -> dict:
    """Figure: (a) σ_1/σ_2 of every layer at the best escape direction (a random two-layer ReLU
    teacher with k = 3 outputs) against l^{1/4}, depths 3–10 (3, 4, 10 quick), with the worst
    ratio over all local optima; (b, c) the loss along gradient flow from a small start for a
    rank-2 and a linear teacher, plateaus shaded, layer and bottleneck ranks written on them."""
    out = Path(out)
    # points in the output folder (a rerun resumes) and in the results cache (verify's
    # relu-low-rank claim runs the same searches at five of these depths)
    store = SweepStore(out / "points" / "relu", shared=results_cache())
    depths = (3, 4, 10) if quick else (3, 4, 5, 6, 8, 10)
    rows = depth_sweep(depths, quick, store, TEACHER, OUTPUTS)
    samples = 300 if quick else 600
    runs = {
        teacher: store.get(
            {"figure": "relu-saddle", "teacher": teacher, "samples": samples},
            lambda t=teacher: saddle_to_saddle(
                SaddleConfig(teacher=t, samples=samples, depth=3, outputs=2)
            ).record(trajectory=True),
        )
        for teacher in SADDLE_TEACHERS
    }
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3), layout="constrained")
    a = axes[0]
    for k, row in enumerate(rows):
        layers = [s for s in row["layers"] if s["ratio"] is not None]
        a.semilogy(
            [s["layer"] for s in layers],
            [s["ratio"] for s in layers],
            "o-",
            color=f"C{k}",
            ms=3,
            label=f"L = {depths[k]} ({len(row['optima'])} optima)",
        )
    ls = np.linspace(1, max(depths), 50)
    a.semilogy(ls, ls**0.25, "k--", label="bound $l^{1/4}$")
    a.set_xlabel("layer l")
    a.set_ylabel(r"$\sigma_1(W_l)/\sigma_2(W_l)$ at the best optimum")
    a.set_title(f"(a) escape directions, teacher {TEACHER}, k = {OUTPUTS}", fontsize=9)
    a.legend(fontsize=7, loc="center right")
    for axis, teacher, tag in zip(axes[1:], SADDLE_TEACHERS, "bc", strict=True):
        _saddle_panel(axis, runs[teacher], teacher)
        axis.set_title(f"({tag}) " + axis.get_title(), fontsize=9)
    fig.suptitle("Deep ReLU: low-rank escape directions and saddle to saddle (arXiv 2505.21722)")
    summary = []
    for depth, row in zip(depths, rows, strict=True):
        worst = row["worst_ratio"]
        worst_text = "—" if worst is None else f"{worst:.3g} (bound {row['worst_bound']:.3f})"
        summary.append(
            f"relu L={depth} ({TEACHER}, k={OUTPUTS}): g* = {row['value']:.6g} ± "
            f"{row['standard_error']:.2g}, {len(row['optima'])} distinct optima, worst σ₁/σ₂ "
            f"over all optima {worst_text}, violations {row['violations'] or 'none'}, "
            f"balance error {row['balance_error']:.1e}"
        )
    for teacher, run in runs.items():
        summary.append(
            f"relu saddle-to-saddle {teacher}: plateaus at losses "
            f"{[round(p['loss'], 4) for p in run['plateaus']]}, bottleneck ranks "
            f"{run['bottleneck_ranks']}"
        )
    summary.append(
        f"relu: searches and runs {store.origins()} (verify's relu-low-rank)"
    )
    data = {
        "settings": {
            "directions": depth_sweep_settings(quick, TEACHER, OUTPUTS),
            "depths": list(depths),
            "saddle_teachers": list(SADDLE_TEACHERS),
            "saddle_samples": samples,
            "saddle_depth": 3,
            "saddle_outputs": 2,
            "quick": quick,
        },
        "depths": list(depths),
        "rows": rows,
        "saddle": {t: {k: v for k, v in r.items() if k != "ranks"} for t, r in runs.items()},
    }
    return save_figure(fig, out, "relu", data, summary)
