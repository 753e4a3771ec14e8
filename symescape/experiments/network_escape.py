"""Escape times of full networks trained by SGD from the symmetric-aligned balanced start
(MATH.md §4, §6).

Escape: the geometric mean of the projected ansatz scalars, ρ = (Π_l |X_l|)^{1/L}, reaches ρ*."""

from __future__ import annotations

import numpy as np

from symescape.options import RHO_STAR

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
    from symescape.numeric.inits import ansatz_weights
    from symescape.numeric.teachers import single_mode_teacher
    from symescape.numeric.training import DataMode, RateMode, TrainingConfig, train
    from symescape.symbolic.resolved import activation_kernels

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
        stop_ansatz_level=RHO_STAR,  # every member escaped: the rest of the run records nothing
    )
    record = train(weights, teacher, kernels, config, progress=progress)
    rho = np.exp(np.mean(np.log(np.abs(record.ansatz) + 1e-300), axis=2))  # (T, E)
    times = np.full(rho.shape[1], np.nan)
    for member in range(rho.shape[1]):
        crossed = np.flatnonzero(rho[:, member] >= RHO_STAR)
        if crossed.size:
            times[member] = record.steps[crossed[0]] * lr
    return times.reshape(len(eps), seeds)
