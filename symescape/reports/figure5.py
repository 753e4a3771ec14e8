"""Figure 5 (MATH.md §9): the multi-mode cascade of finite networks, the block-mean flow and the
decoupled model."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from symescape.experiments.multimode import (
    CascadeConfig,
    cascade_flows,
    count_plateaus,
    real_cascades,
)
from symescape.experiments.results_cache import results_cache
from symescape.experiments.sweeps import SweepStore
from symescape.options import RHO_STAR
from symescape.reports.plotting import pyplot, save_figure


def figure5(out: str, quick: bool = False) -> dict:
    """Figure 5: L = 4 tanh, three modes, modewise start: (a) the loss of finite networks (block
    widths 8 and 32, SGD, perturbed start), of the block-mean flow (exact for any block width on
    the block-mean manifold) and of the decoupled model, with the decoupled stage predictions;
    (b) the stage scalars of the two flows; (c) those of the finite networks; (d) the finite
    networks' alignment with each mode and their distance from the block-mean manifold."""

    out = Path(out)
    config = CascadeConfig(eps=0.05, nodes=10 if quick else 16, time=500.0)
    # points in the output folder (a rerun resumes) and in the results cache (the fig5-cascade
    # claim of `verify` trains the same networks)
    store = SweepStore(out / "points" / "fig5", shared=results_cache())
    runs = cascade_flows(config, store, progress=True)
    plateaus = {name: count_plateaus(run["times"], run["loss"]) for name, run in runs.items()}
    real = real_cascades(config, quick, store, progress=True)
    plt = pyplot()
    fig, ((a, b), (c, d)) = plt.subplots(2, 2, figsize=(12, 8.4), layout="constrained")
    for i, (nb, run) in enumerate(real.items()):
        loss = np.array(run["loss"])
        a.semilogy(
            run["times"],
            loss[:, 0],
            "-",
            color=f"C{5 + i}",
            lw=1.0,
            label=f"finite network, n_b = {nb} ({run['plateaus'][0]} plateau(s), held-out)",
        )
    for name, run in runs.items():
        a.semilogy(
            run["times"],
            run["loss"],
            "-" if name == "decoupled" else "--",
            lw=1.5,
            label=f"{name} flow ({plateaus[name]} plateaus)",
        )
    for k, t_pred in enumerate(runs["decoupled"]["predicted_decoupled"]):
        a.axvline(
            t_pred,
            color=f"C{k + 2}",
            lw=0.8,
            ls=":",
            label=f"single-mode prediction, a = {config.amplitudes[k]:g}",
        )
    a.set_xlabel("time t (units of 1/η)")
    a.set_ylabel("population loss")
    a.set_title("(a) loss")
    a.legend(fontsize=8)
    for name, run in runs.items():
        rho = np.array(run["rho"])
        for k in range(rho.shape[1]):
            b.plot(
                run["times"],
                rho[:, k],
                "-" if name == "decoupled" else "--",
                color=f"C{k + 2}",
                label=f"mode {k + 1} ({name})",
            )
    b.plot(
        runs["block-mean"]["times"],
        runs["block-mean"]["off_diagonal"],
        "k-",
        lw=0.8,
        label="largest off-block entry (block-mean)",
    )
    b.axhline(RHO_STAR, color="grey", lw=0.5)
    b.set_xlabel("time t (units of 1/η)")
    b.set_ylabel("geometric mean of block k's diagonal scalars")
    b.set_title("(b) stages of the two flows")
    b.legend(fontsize=7, ncol=2)
    styles = ("-", "-.")
    for i, (nb, run) in enumerate(real.items()):
        rho = np.array(run["rho"])[:, 0]  # seed 0: (T, M)
        for k in range(rho.shape[1]):
            c.plot(
                run["times"],
                rho[:, k],
                styles[i % 2],
                color=f"C{k + 2}",
                label=f"mode {k + 1}, n_b = {nb}",
            )
    bm = np.array(runs["block-mean"]["rho"])
    t_bm = np.array(runs["block-mean"]["times"])
    keep = t_bm <= max(real[next(iter(real))]["times"])
    for k in range(bm.shape[1]):
        c.plot(t_bm[keep], bm[keep, k], ":", color=f"C{k + 2}", lw=1.0)
    c.axhline(RHO_STAR, color="grey", lw=0.5)
    c.set_xlabel("time t (units of 1/η)")
    c.set_ylabel("geometric mean of block k's diagonal scalars")
    c.set_title("(c) finite networks' stages (dotted: block-mean flow)")
    c.legend(fontsize=7, ncol=2)
    for i, (nb, run) in enumerate(real.items()):
        align = np.array(run["alignment"])[:, 0]  # (T, M)
        for k in range(align.shape[1]):
            d.plot(
                run["times"],
                align[:, k],
                styles[i % 2],
                color=f"C{k + 2}",
                label=f"|w_eff·v_{k + 1}|/|w_eff|, n_b = {nb}",
            )
        d.plot(
            run["times"],
            np.array(run["manifold_distance"])[:, 0],
            styles[i % 2],
            color="k",
            lw=0.8,
            label=f"distance from the block-mean manifold, n_b = {nb}",
        )
    d.set_xlabel("time t (units of 1/η)")
    d.set_ylabel("alignment / relative distance")
    d.set_ylim(0, 1.4)  # headroom for the legend
    d.set_title("(d) alignment of W_L⋯W_1 with v_k; distance from block means")
    d.legend(fontsize=6.5, ncol=2, loc="upper center")
    fig.suptitle(
        f"Figure 5: tanh, L = {config.depth}, amplitudes {config.amplitudes}, modewise "
        f"start at ε = {config.eps}",
        fontsize=10,
    )
    summary = [
        f"fig5 {name}: stage times {np.round(run['stage_times'], 1).tolist()}, plateaus "
        f"{plateaus[name]}, stage order {run['order_measured']} (ranking rule "
        f"{run['order_ranking_rule']})"
        for name, run in runs.items()
    ]
    summary.append(
        "fig5: single-mode predictions "
        f"{np.round(runs['decoupled']['predicted_decoupled'], 1).tolist()}; largest "
        f"off-block entry in the block-mean flow {max(runs['block-mean']['off_diagonal']):.3f}"
    )
    for nb, run in real.items():
        summary.append(
            f"fig5 finite network n_b = {nb}: stage times per seed "
            f"{[[round(t, 1) for t in st] for st in run['stage_times']]}, plateaus "
            f"{run['plateaus']}, final mode alignment "
            f"{np.round(np.array(run['alignment'])[-1, 0], 3).tolist()}"
        )
    summary.append(
        f"fig5: runs {store.origins()} (verify's fig5-cascade trains the same networks)"
    )
    data = {
        "settings": asdict(config),
        "runs": runs,
        "plateaus": plateaus,
        "real_networks": {str(nb): run for nb, run in real.items()},
    }
    return save_figure(fig, out, "fig5", data, summary)
