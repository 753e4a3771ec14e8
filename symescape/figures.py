"""The paper's figures 1–3 (MATH.md §11): data, PNG and PDF, and a summary of the numbers shown.

Each ``figureN`` function computes its data through the public API (sweeps through a
:class:`~symescape.sweeps.SweepStore`, so reruns reuse finished points), checks its own claim,
draws the figure and writes ``figN.png``, ``figN.pdf``, ``figN.json`` (data and summary) and
``figN.txt`` (the summary). Free choices the paper's text lost (widths, steps, ε ranges) are
recorded in the JSON under ``settings``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .sweeps import SweepStore, write_atomic

RHO_STAR = 0.5


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


# --- computations shared with `verify` ---------------------------------------------------------


def gd_vs_ode(
    activation_spec: str,
    X0: tuple[float, ...],
    width: int,
    lr: float,
    time: float,
    nodes: int = 48,
    record_points: int = 60,
) -> dict[str, Any]:
    """Full-matrix GD on the ansatz (Gauss–Hermite inputs, normalised rates) against the reduced
    ODE from the same start; also the error of one GD step against an Euler step of the field."""
    from scipy.integrate import solve_ivp

    from .inits import ansatz_scalars, ansatz_weights
    from .losses import SQUARED
    from .network import activation_kernels, loss_and_gradients
    from .reduced import reduced_model
    from .teachers import single_mode_teacher
    from .training import (
        DataMode,
        RateMode,
        TrainingConfig,
        gauss_hermite_inputs,
        layer_rates,
        train,
    )

    X0 = np.asarray(X0, dtype=float)
    kernels = activation_kernels(activation_spec)
    teacher = single_mode_teacher(3, seed=1)
    v = teacher.directions[0]
    model = reduced_model(activation_spec, len(X0), nodes=nodes)
    weights = ansatz_weights(X0, v, width)
    x, w = gauss_hermite_inputs(teacher, nodes)
    _, _, grads = loss_and_gradients(weights, x, teacher(x, kernels), SQUARED, kernels, w)
    rates = layer_rates(weights, lr, RateMode.NORMALISED)
    stepped = tuple(W - eta * g for W, eta, g in zip(weights, rates, grads.gradients, strict=True))
    euler_error = float(
        np.abs(ansatz_scalars(stepped, v)[0][0] - (X0 + lr * model.field(X0))).max()
    )
    steps = int(round(time / lr))
    config = TrainingConfig(
        steps=steps,
        learning_rate=lr,
        rates=RateMode.NORMALISED,
        data=DataMode.GAUSS_HERMITE,
        nodes=nodes,
        record_every=max(1, steps // record_points),
    )
    record = train(weights, teacher, kernels, config)
    times = record.steps * lr
    sol = solve_ivp(
        lambda t, X: model.field(X),
        (0, times[-1]),
        X0,
        method="DOP853",
        rtol=1e-12,
        atol=1e-14,
        dense_output=True,
    )
    X_ode = sol.sol(times).T
    X_gd = record.ansatz[:, 0, :]
    return {
        "times": times.tolist(),
        "X_gd": X_gd.tolist(),
        "X_ode": X_ode.tolist(),
        "loss_gd": record.loss[:, 0].tolist(),
        "loss_ode": [float(model.loss(X)) for X in X_ode],
        "euler_step_error": euler_error,
        "max_rel_deviation": float(np.abs(X_gd / X_ode - 1).max()),
        "max_ansatz_deviation": float(record.ansatz_deviation.max()),
        "lr": lr,
    }


def critical_depth_sweep(
    depth: int = 6, other: float = 0.5, quick: bool = False, store: SweepStore | None = None
) -> dict[str, Any]:
    """T(ε) from the exact ODE with r layers at ε and the rest at ``other``, r = 1..L; fitted
    slopes on ε ∈ [1e-4, 1e-3] (and the ln coefficient for r = 2) against the theory."""
    from .escape import escape_time_ode
    from .quadrature import critical_depth_law, leading_time
    from .reduced import reduced_model

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
            "fitted": _slope(eps[mask], T[mask]),
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


# --- drawing -----------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain_log_ticks(axis: Any) -> None:
    """Major ticks only on a log x-axis spanning less than two decades (minor labels collide)."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.xaxis.set_major_formatter(ScalarFormatter())
    axis.xaxis.set_minor_formatter(NullFormatter())


def _save(fig: Any, out: Path, name: str, data: dict[str, Any], summary: list[str]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        temporary = out / f".{name}.tmp.{ext}"
        fig.savefig(temporary, dpi=150 if ext == "png" else None, bbox_inches="tight")
        temporary.replace(out / f"{name}.{ext}")
    _pyplot().close(fig)
    data = {**data, "summary": summary}
    write_atomic(out / f"{name}.json", json.dumps(data, indent=1, default=float))
    write_atomic(out / f"{name}.txt", "\n".join(summary) + "\n")
    return data


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
    plt = _pyplot()
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
    return _save(fig, out, "fig1", {"settings": settings, **run}, summary)


def figure2(out: Path | str, quick: bool = False) -> dict[str, Any]:
    """Fig 2: (a) balanced starts for several L; (b) L = 6 with r layers at ε."""
    from .escape import escape_time_ode
    from .quadrature import balanced_time
    from .reduced import reduced_model

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
                "fitted": _slope(eps[small], T[small]),
                "predicted": -(depth - 2),
            }
        )
    panel_b = critical_depth_sweep(quick=quick, store=store)
    plt = _pyplot()
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
    return _save(fig, out, "fig2", data, summary)


FIG3_ACTIVATIONS = ("tanh", "erf", "sin", "gelu", "swish")


def network_escape_times(
    activation_spec: str,
    depth: int,
    eps: np.ndarray,
    seeds: int,
    width: int,
    batch: int,
    lr: float,
    max_time: float,
    seed: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """Escape times of full networks (SGD, fresh Gaussian batches, normalised rates) from the
    symmetric-aligned balanced start at each ε, ``seeds`` runs each, stepped as one ensemble.
    Escape: the geometric mean of the projected ansatz scalars reaches ρ*. NaN where not reached."""
    from .inits import ansatz_weights
    from .network import activation_kernels
    from .teachers import single_mode_teacher
    from .training import DataMode, RateMode, TrainingConfig, train

    kernels = activation_kernels(activation_spec)
    teacher = single_mode_teacher(width, seed=seed)
    scalars = np.repeat(np.repeat(eps[:, None], depth, axis=1), seeds, axis=0)
    weights = ansatz_weights(scalars, teacher.directions[0], width)
    steps = int(np.ceil(max_time / lr))
    config = TrainingConfig(
        steps=steps,
        learning_rate=lr,
        rates=RateMode.NORMALISED,
        data=DataMode.FRESH,
        batch=batch,
        record_every=max(1, steps // 400),
        seed=seed,
    )
    record = train(weights, teacher, kernels, config, progress=progress)
    rho = np.exp(np.mean(np.log(np.abs(record.ansatz) + 1e-300), axis=2))  # (T, E)
    times = np.full(rho.shape[1], np.nan)
    for member in range(rho.shape[1]):
        crossed = np.flatnonzero(rho[:, member] >= RHO_STAR)
        if crossed.size:
            times[member] = record.steps[crossed[0]] * lr
    return times.reshape(len(eps), seeds)


def figure3(out: Path | str, quick: bool = False) -> dict[str, Any]:
    """Fig 3: escape times for B (tanh, erf, sin) and C (gelu, swish); K·T collapse."""
    from .escape import escape_time_ode
    from .quadrature import balanced_time
    from .reduced import reduced_model

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
    plt = _pyplot()
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
        _plain_log_ticks(axis)
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
    return _save(fig, out, "fig3", data, summary)


def figure4(out: Path | str, quick: bool = False) -> dict[str, Any]:
    """Fig 4: off the manifold (see :mod:`symescape.off_manifold`)."""
    from .off_manifold import figure4 as draw

    return draw(str(out), quick)


def figure5(out: Path | str, quick: bool = False) -> dict[str, Any]:
    """Fig 5: the multi-mode cascade (see :mod:`symescape.multimode`)."""
    from .multimode import figure5 as draw

    return draw(str(out), quick)


def figure_relu(out: Path | str, quick: bool = False) -> dict[str, Any]:
    from .escape_directions import figure_relu as draw

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
    from .latex_text import latex_text

    rows = [r"\begin{tabular}{lp{13cm}}", r"\hline", r"figure & summary \\", r"\hline"]
    for name, data in results.items():
        for line in data["summary"]:
            rows.append(f"{latex_text(name)} & {latex_text(line)} \\\\")
    rows += [r"\hline", r"\end{tabular}"]
    return "\n".join(rows)


def reproduce(names: list[str], out: Path | str, quick: bool = False) -> dict[str, dict]:
    """Run the named figures (``all`` for every one) into ``out``."""
    selected = list(FIGURES) if not names or "all" in names else names
    unknown = [n for n in selected if n not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figures {unknown}; known: {', '.join(FIGURES)} or all")
    return {name: FIGURES[name](out, quick) for name in selected}
