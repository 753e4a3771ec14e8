"""The paper's figures 1–3 (MATH.md §11): data, PNG and PDF, and a summary of the numbers shown.

Each ``figureN`` function computes its data through the public API (sweeps through a
:class:`~symescape.sweeps.SweepStore`, so reruns reuse finished points), checks its own claim,
draws the figure and writes ``figN.png``, ``figN.pdf``, ``figN.json`` (data and summary) and
``figN.txt`` (the summary). Free choices the paper's text lost (widths, steps, ε ranges) are
recorded in the JSON under ``settings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from symescape.errors import UnknownNameError
from symescape.experiments.critical_depth import critical_depth_sweep
from symescape.experiments.gd_vs_ode import gd_vs_ode
from symescape.experiments.network_escape import FIG3_ACTIVATIONS, network_escape_times
from symescape.experiments.sweeps import SweepStore, check_writable_folder
from symescape.numeric.fits import log_log_slope
from symescape.reports.plotting import plain_log_ticks, pyplot, save_figure

# --- computations shared with `verify` ---------------------------------------------------------


# --- drawing -----------------------------------------------------------------------------------


def figure1(out: Path | str, quick: bool = False) -> dict[str, Any]:
    """Fig 1: tanh, symmetric-aligned unbalanced start, full GD vs reduced ODE (loss and X_l)."""
    out = Path(out)
    X0 = (0.08, 0.12, 0.1, 0.15)
    settings = {
        "activation": "tanh",
        "depth": 4,
        "width": 16,
        "X0": X0,
        "nodes": 48,
        "lr": 0.05 if quick else 0.02,
        "time": 150.0,
        "rates": "normalised",
        "data": "Gauss–Hermite inputs x = s_i v (exact population gradient)",
    }
    run = gd_vs_ode(
        "tanh",
        X0,
        settings["width"],
        settings["lr"],
        settings["time"],
        settings["nodes"],
        record_points=150,
    )
    t = np.array(run["times"])
    X_gd, X_ode = np.array(run["X_gd"]), np.array(run["X_ode"])
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    a.plot(t, run["loss_ode"], "-", color="k", lw=1.5, label="reduced ODE (Theorem 4)")
    a.plot(
        t[::3],
        np.array(run["loss_gd"])[::3],
        "o",
        mfc="none",
        color="C3",
        ms=5,
        label=f"full-matrix GD, N = {settings['width']}",
    )
    a.set_xlabel("time t (units of 1/η)")
    a.set_ylabel("population loss")
    a.set_yscale("log")
    a.set_title("(a) loss")
    a.legend()
    for l in range(4):
        b.plot(t, X_ode[:, l], "-", color=f"C{l}", lw=1.5, label=f"ODE $X_{l + 1}$")
        b.plot(t[::3], X_gd[::3, l], "o", mfc="none", color=f"C{l}", ms=4, label=f"GD $X_{l + 1}$")
    b.set_xlabel("time t (units of 1/η)")
    b.set_ylabel("ansatz scalar $X_l$")
    b.set_title("(b) layer scales")
    b.legend(ncol=2, fontsize=8)
    fig.suptitle("Figure 1: tanh, L = 4, unbalanced symmetric-aligned start")
    summary = [
        f"fig1: max relative deviation of X_l, GD (η = {run['lr']}) vs ODE: "
        f"{run['max_rel_deviation']:.2e}",
        f"fig1: one GD step vs Euler step of the reduced field: {run['euler_step_error']:.1e}",
        f"fig1: loss falls from {run['loss_ode'][0]:.4f} to {run['loss_ode'][-1]:.2e} "
        f"by t = {t[-1]:.0f}",
    ]
    return save_figure(fig, out, "fig1", {"settings": settings, **run}, summary)


def figure2(out: Path | str, quick: bool = False) -> dict[str, Any]:
    """Fig 2: (a) balanced starts for several L; (b) L = 6 with r layers at ε."""
    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.quadrature import balanced_time
    from symescape.numeric.reduced import reduced_model

    out = Path(out)
    store = SweepStore(out / "points" / "fig2")
    depths = (3, 4, 5, 6)
    eps = np.geomspace(1e-3, 1e-1, 6 if quick else 15)
    panel_a = []
    for depth in depths:
        model = reduced_model("tanh", depth)
        K = float(model.constants.K)
        points = [{"figure": "fig2a", "depth": depth, "eps": float(e)} for e in eps]
        results = store.map(
            points,
            lambda p, m=model: {"ode": escape_time_ode(m, np.full(m.depth, p["eps"])).time},
            progress=f"fig2a L={depth}",
        )
        T = np.array([r["ode"] for r in results])
        small = eps <= 1e-2
        panel_a.append(
            {
                "depth": depth,
                "K": K,
                "eps": eps.tolist(),
                "T_ode": T.tolist(),
                "T_closed": balanced_time(eps, K, depth).tolist(),
                "fitted": log_log_slope(eps[small], T[small]),
                "predicted": -(depth - 2),
            }
        )
    panel_b = critical_depth_sweep(quick=quick, store=store)
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.4))
    fine = np.geomspace(eps[0], eps[-1], 200)
    for i, row in enumerate(panel_a):
        a.loglog(fine, balanced_time(fine, row["K"], row["depth"]), "-", color=f"C{i}", lw=1.2)
        a.loglog(
            row["eps"],
            row["T_ode"],
            "D",
            color=f"C{i}",
            ms=5,
            label=f"L = {row['depth']}: slope {row['fitted']:.2f} (theory {row['predicted']})",
        )
    a.set_xlabel("initial scale ε (balanced)")
    a.set_ylabel("escape time T")
    a.set_title("(a) balanced start: lines closed form, ◆ exact ODE")
    a.legend(fontsize=8)
    for row in panel_b["rows"]:
        r = row["r"]
        order = np.argsort(row["eps"])
        e, T = np.array(row["eps"])[order], np.array(row["T_ode"])[order]
        label = (
            f"r = {r}: slope {row['fitted']:.2f}"
            if r != 2
            else f"r = 2: dT/dln(1/ε) {row['log_coefficient']:.2f} "
            f"(theory {row['log_prefactor']:.2f})"
        )
        b.loglog(e, np.array(row["T_leading"])[order], "-", color=f"C{r - 1}", lw=1.2)
        b.loglog(e, T, "o", color=f"C{r - 1}", ms=4, label=label)
    b.set_xlabel("bottleneck scale ε")
    b.set_ylabel("escape time T")
    b.set_title("(b) L = 6, r layers at ε, others 0.5: lines T_lead, ● ODE")
    b.legend(fontsize=7)
    fig.suptitle(r"Figure 2: tanh; critical-depth law $T = \Theta(\varepsilon^{-(r-2)})$")
    summary = [
        f"fig2a L={row['depth']}: fitted slope {row['fitted']:.3f}, theory {row['predicted']}"
        for row in panel_a
    ]
    summary += [
        f"fig2b r={row['r']}: fitted slope {row['fitted']:.3f}, theory {row['predicted']:.0f}"
        + (
            f"; dT/dln(1/ε) {row['log_coefficient']:.4f} vs 1/(KΠs) {row['log_prefactor']:.4f}"
            if row["r"] == 2
            else ""
        )
        for row in panel_b["rows"]
    ]
    summary.append(f"fig2: sweep points computed {store.computed}, reused {store.reused}")
    data = {
        "settings": {
            "activation": "tanh",
            "criterion": "product:0.5",
            "eps_a": eps.tolist(),
            "fit_window_a": [1e-3, 1e-2],
            "others_b": 0.5,
            "fit_window_b": panel_b["fit_window"],
        },
        "panel_a": panel_a,
        "panel_b": panel_b,
    }
    return save_figure(fig, out, "fig2", data, summary)


def figure3(out: Path | str, quick: bool = False) -> dict[str, Any]:
    """Fig 3: escape times for B (tanh, erf, sin) and C (gelu, swish); K·T collapse."""
    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.quadrature import balanced_time
    from symescape.numeric.reduced import reduced_model

    out = Path(out)
    store = SweepStore(out / "points" / "fig3")
    depth, width, batch = 4, 8, 256
    seeds = 2 if quick else 4
    eps_theory = np.geomspace(0.02, 0.3, 60)
    eps_ode = np.geomspace(0.02, 0.3, 5 if quick else 9)
    eps_net = np.array([0.15, 0.25]) if quick else np.array([0.08, 0.12, 0.18, 0.25])
    rows = []
    for name in FIG3_ACTIVATIONS:
        model = reduced_model(name, depth)
        K = float(model.constants.K)
        ode = store.map(
            [{"figure": "fig3-ode", "act": name, "depth": depth, "eps": float(e)} for e in eps_ode],
            lambda p, m=model: {"T": escape_time_ode(m, np.full(depth, p["eps"])).time},
            progress=f"fig3 ODE {name}",
        )
        lr = min(0.25, 0.02 / K)  # K·η ≈ 0.02: comparable step counts across classes
        max_time = 2.0 * float(balanced_time(eps_net.min(), K, depth)[0])
        params = {
            "figure": "fig3-net",
            "act": name,
            "depth": depth,
            "eps": eps_net.tolist(),
            "seeds": seeds,
            "width": width,
            "batch": batch,
            "lr": lr,
            "max_time": max_time,
        }
        net = store.get(
            params,
            lambda n=name, lr=lr, mt=max_time: {
                "T": network_escape_times(
                    n, depth, eps_net, seeds, width, batch, lr, mt, progress=True
                ).tolist()
            },
        )
        T_net = np.array(net["T"], dtype=float)
        T_ode = np.array([r["T"] for r in ode])
        rows.append(
            {
                "activation": name,
                "class": model.classification.label,
                "K": K,
                "lr": lr,
                "eps_ode": eps_ode.tolist(),
                "T_ode": T_ode.tolist(),
                "eps_net": eps_net.tolist(),
                "T_net": T_net.tolist(),
                "T_theory": balanced_time(eps_theory, K, depth).tolist(),
            }
        )
    KT_ode = np.array([np.array(r["T_ode"]) * r["K"] for r in rows])
    spread = (KT_ode.max(axis=0) - KT_ode.min(axis=0)) / KT_ode.mean(axis=0)
    net_vs_theory = []
    for r in rows:
        ratio = np.nanmean(np.array(r["T_net"]), axis=1) / balanced_time(eps_net, r["K"], depth)
        net_vs_theory.append(ratio.tolist())
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.4))
    markers = {"tanh": "o", "erf": "s", "sin": "^", "gelu": "v", "swish": "P"}
    for i, r in enumerate(rows):
        c = f"C{i}"
        label = f"{r['activation']} ({r['class']})"
        style = ("-", "--", ":", "-.", (0, (5, 1)))[i]  # tanh and sin coincide (K equal to 0.1%)
        for axis, scale in ((a, 1.0), (b, r["K"])):
            axis.loglog(
                eps_theory,
                np.array(r["T_theory"]) * scale,
                linestyle=style,
                color=c,
                lw=1.2,
                label=label if axis is a else None,
            )
            axis.loglog(r["eps_ode"], np.array(r["T_ode"]) * scale, "D", color=c, ms=4, mfc="none")
            T_net = np.array(r["T_net"])
            axis.errorbar(
                eps_net,
                np.nanmean(T_net, axis=1) * scale,
                yerr=np.nanstd(T_net, axis=1) * scale,
                fmt=markers[r["activation"]],
                color=c,
                ms=6,
                capsize=2,
            )
    a.set_xlabel("initial scale ε (balanced)")
    a.set_ylabel("escape time T")
    a.set_title("(a) escape times")
    a.legend(fontsize=8)
    b.set_xlabel("initial scale ε (balanced)")
    b.set_ylabel("K · T")
    b.set_title(r"(b) rescaled by $K = a\mu_1 c_1^{L-1}$: collapse")
    for axis in (a, b):
        plain_log_ticks(axis)
    fig.suptitle(
        "Figure 3: universality of K·T across classes B and C (L = 4). Lines: T_lead; "
        "◇ exact ODE; filled: full-network SGD, mean ± sd over seeds",
        fontsize=10,
    )
    summary = [
        "fig3: relative spread of K·T_ode across activations: "
        + ", ".join(f"ε={e:.3g}: {s:.2e}" for e, s in zip(eps_ode, spread, strict=True))
    ]
    summary += [
        f"fig3 {r['activation']}: full-network SGD T / T_lead at ε={eps_net.tolist()}: "
        + ", ".join(f"{x:.3f}" for x in ratio)
        for r, ratio in zip(rows, net_vs_theory, strict=True)
    ]
    summary.append(f"fig3: sweep points computed {store.computed}, reused {store.reused}")
    data = {
        "settings": {
            "depth": depth,
            "width": width,
            "batch": batch,
            "seeds": seeds,
            "criterion": "product:0.5 (projected ansatz scalars for networks)",
            "lr_rule": "η = min(0.25, 0.02/K)",
            "init": "symmetric-aligned",
        },
        "rows": rows,
        "KT_spread": spread.tolist(),
        "net_over_theory": net_vs_theory,
    }
    return save_figure(fig, out, "fig3", data, summary)


def figure4(out: Path | str, quick: bool = False) -> dict[str, Any]:
    """Fig 4: off the manifold (see :mod:`symescape.off_manifold`)."""
    from symescape.reports.figure4 import figure4 as draw

    return draw(str(out), quick)


def figure5(out: Path | str, quick: bool = False) -> dict[str, Any]:
    """Fig 5: the multi-mode cascade (see :mod:`symescape.multimode`)."""
    from symescape.reports.figure5 import figure5 as draw

    return draw(str(out), quick)


def figure_relu(out: Path | str, quick: bool = False) -> dict[str, Any]:
    from symescape.reports.figure_relu import figure_relu as draw

    return draw(out, quick)


FIGURES = {
    "fig1": figure1,
    "fig2": figure2,
    "fig3": figure3,
    "fig4": figure4,
    "fig5": figure5,
    "relu": figure_relu,
}


def summaries_latex(results: dict[str, dict]) -> str:
    """The ``reproduce`` summaries as a LaTeX ``tabular`` (figure, finding), escaped so that
    plain pdflatex compiles it."""
    from symescape.reports.latex_text import latex_text

    rows = [r"\begin{tabular}{lp{13cm}}", r"\hline", r"figure & summary \\", r"\hline"]
    for name, data in results.items():
        for line in data["summary"]:
            rows.append(f"{latex_text(name)} & {latex_text(line)} \\\\")
    rows += [r"\hline", r"\end{tabular}"]
    return "\n".join(rows)


SLOWEST_FIGURES = ("fig4", "fig5", "fig3", "relu")
"""Started first when figures run in parallel (measured, two idle cores: the longest first)."""


def _run_figure(job: tuple[str, str, bool]) -> dict:
    name, out, quick = job
    return FIGURES[name](out, quick)


def reproduce(
    names: list[str],
    out: Path | str,
    quick: bool = False,
    workers: int = 1,
    progress: bool = False,
) -> dict[str, dict]:
    """Run the named figures (``all`` for every one) into ``out``, on ``workers`` processes
    (0: one per core; each figure writes its own files)."""
    from symescape.processes import check_workers, map_in_processes

    # each figure once, in the order asked (two jobs of one figure would write the same files)
    selected = list(FIGURES) if not names or "all" in names else list(dict.fromkeys(names))
    unknown = [n for n in selected if n not in FIGURES]
    if unknown:
        raise UnknownNameError(f"unknown figures {unknown}; known: {', '.join(FIGURES)} or all")
    workers = check_workers(workers)
    check_writable_folder(Path(out))  # at once: '--out FILE' failed after computing the figures
    jobs = [(name, str(out), quick) for name in selected]
    first = [selected.index(n) for n in SLOWEST_FIGURES if n in selected]
    label = "reproduce" if progress and workers > 1 else None
    results = map_in_processes(_run_figure, jobs, workers, first=first, progress=label)
    return dict(zip(selected, results, strict=True))
