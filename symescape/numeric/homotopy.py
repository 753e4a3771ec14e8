"""The escape-time homotopy identity (MATH.md §9, Proposition 23).

For a family of fields f_ν with escape time T(ν) (first time a threshold g(x) = 0 is crossed from
a ν-independent start), the adjoint p solves dp/dt = -(∂_x f_ν)ᵀ p backward from
p(T) = ∇g / (∇g · f_ν(x(T))) (along the conormal, normalised so p(T)ᵀ f_ν(x(T)) = 1), and

    dT/dν = -∫_0^T p(t)ᵀ ∂_ν f_ν(x(t)) dt.

The sign is minus (checked against central finite differences in the tests): with
s = ∂x/∂ν solving ds/dt = ∂_x f s + ∂_ν f, s(0) = 0, differentiating g(x(T(ν); ν)) = 0 gives
dT/dν = -∇g·s(T) / ∇g·f = -∫ pᵀ ∂_ν f dt. When ∂_ν f is a sum of channels, the integral splits
into one contribution per channel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from symescape.errors import NotReachedError

Field = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class HomotopyDerivative:
    """T(ν), dT/dν by the adjoint, and its per-channel contributions (summing to it).

    dT/dν = −∫_0^T p(t)ᵀ ∂_ν f_ν(x(t)) dt,  dp/dt = −(∂_x f_ν)ᵀ p,  p(T)ᵀ f_ν(x(T)) = 1
        (MATH.md §9).
    """

    time: float
    derivative: float
    channels: tuple[float, ...]


def escape_time(
    field: Field,
    x0: np.ndarray,
    threshold: Callable[[np.ndarray], float],
    max_time: float,
    rtol: float = 1e-11,
) -> tuple[float, object]:
    """First time ``threshold(x(t))`` crosses 0 upward; returns (T, dense solution).

    T = inf{t : threshold(x(t)) ≥ 0} along dx/dt = f_ν(x)  (MATH.md §9).
    """

    def event(t: float, x: np.ndarray) -> float:
        return threshold(x)

    event.terminal = True
    event.direction = 1
    sol = solve_ivp(
        lambda t, x: field(x),
        (0.0, max_time),
        np.asarray(x0, dtype=float),
        method="DOP853",
        rtol=rtol,
        atol=rtol * 1e-3,
        events=event,
        dense_output=True,
    )
    if not sol.t_events[0].size:
        raise NotReachedError(f"the threshold was not reached by t = {max_time:g}")
    return float(sol.t_events[0][0]), sol.sol


def homotopy_derivative(
    field: Field,
    jacobian: Callable[[np.ndarray], np.ndarray],
    channels: Sequence[Field],
    x0: np.ndarray,
    threshold: Callable[[np.ndarray], float],
    threshold_gradient: Callable[[np.ndarray], np.ndarray],
    max_time: float,
    rtol: float = 1e-11,
) -> HomotopyDerivative:
    """dT/dν by the adjoint, with ``channels`` the summands of ∂_ν f_ν (their sum is ∂_ν f).

    dT/dν = −∫_0^T p(t)ᵀ ∂_ν f_ν(x(t)) dt,  dp/dt = −(∂_x f_ν)ᵀ p,  p(T)ᵀ f_ν(x(T)) = 1
        (MATH.md §9, Proposition 23).
    """
    T, trajectory = escape_time(field, x0, threshold, max_time, rtol)
    xT = trajectory(T)
    grad = np.asarray(threshold_gradient(xT), dtype=float)
    pT = grad / float(grad @ field(xT))
    n, k = len(pT), len(channels)

    def backward(t: float, state: np.ndarray) -> np.ndarray:
        x, p = trajectory(t), state[:n]
        dp = -jacobian(x).T @ p
        # d/dt of the accumulated -∫_t^T pᵀ c_j dt' is +pᵀ c_j (integrating backward in t).
        dq = np.array([p @ c(x) for c in channels])
        return np.concatenate([dp, dq])

    sol = solve_ivp(
        backward,
        (T, 0.0),
        np.concatenate([pT, np.zeros(k)]),
        method="DOP853",
        rtol=rtol,
        atol=rtol * 1e-3,
    )
    contributions = sol.y[n:, -1]  # = -∫_0^T pᵀ c_j dt (backward integration flips the sign)
    return HomotopyDerivative(T, float(contributions.sum()), tuple(float(c) for c in contributions))
