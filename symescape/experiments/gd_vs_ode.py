"""Full-matrix gradient descent on the symmetric ansatz against the exact reduced ODE (MATH.md §4).

The GD run uses the weighted Gauss–Hermite inputs, which give the population gradient on the ansatz
exactly, so GD and the reduced flow can be compared without Monte Carlo noise."""

from __future__ import annotations

from typing import Any

import numpy as np

from symescape.numeric.training import Engine


def gd_vs_ode(
    activation_spec: str,
    X0: tuple[float, ...],
    width: int,
    lr: float,
    time: float,
    nodes: int = 48,
    record_points: int = 60,
    engine: Engine = Engine.COMPILED,
) -> dict[str, Any]:
    """Full-matrix GD on the ansatz (Gauss–Hermite inputs, normalised rates) against the reduced
    ODE from the same start; also the error of one GD step against an Euler step of the field.
    ``engine`` runs the GD steps (the compiled engine pays ~1 s of compilation first)."""
    from scipy.integrate import solve_ivp

    from symescape.numeric.inits import ansatz_scalars, ansatz_weights
    from symescape.numeric.losses import SQUARED
    from symescape.numeric.network import loss_and_gradients
    from symescape.numeric.reduced import reduced_model
    from symescape.numeric.teachers import single_mode_teacher
    from symescape.numeric.training import (
        DataMode,
        RateMode,
        TrainingConfig,
        gauss_hermite_inputs,
        layer_rates,
        train,
    )
    from symescape.symbolic.resolved import activation_kernels

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
        engine=engine,
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
