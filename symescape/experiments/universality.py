"""Universality across classes (Corollary 7, §C.4; MATH.md §3, §6): K·T collapse, and class D run
uncentred.

For class D (σ(0) ≠ 0) the reduced model of :mod:`symescape.numeric.reduced` is that of the
centred σ̃ = σ − σ(0). Run uncentred (student and teacher with σ itself) the origin is no longer a
saddle: at X = 0, f = 0 and every ∂_l f with l < L carries a factor X_L, so

    F(0) = (0, …, 0, a σ(0) E[σ(s)])

— the readout moves at once to fit the teacher's mean and the saddle moves away from the origin.
:func:`uncentred_escape` integrates that flow (LSODA) to a loss threshold measured from the
mean-fitted level ½ Var(aσ(s)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from symescape.errors import ConfigurationError
from symescape.precision.gauss import gauss_hermite_rule
from symescape.symbolic.activations import activation
from symescape.symbolic.chain import chain_kernel
from symescape.symbolic.resolved import activation_kernels


@dataclass(frozen=True)
class UncentredFlow:
    """The reduced flow of the uncentred chain: ``field(X)``, ``loss(X)``, the mean-fitted loss
    ``baseline`` = ½ Var(aσ(s)) and the predicted F(0)_L = a σ(0) E[σ(s)]."""

    name: str
    depth: int
    amplitude: float
    nodes: int

    def _values(self, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        s, w = gauss_hermite_rule(self.nodes)
        act = activation(self.name)
        values = chain_kernel(act, self.depth)(s, *np.asarray(X, dtype=float))
        values = [np.broadcast_to(v, s.shape) for v in values]
        teacher = self.amplitude * np.asarray(activation_kernels(act).sigma(s), dtype=float)
        return values[0], values[1:], (teacher, w)

    def field(self, X: np.ndarray) -> np.ndarray:
        f, grad, (y, w) = self._values(X)
        residual = (y - f) * w
        return np.array([residual @ g for g in grad])

    def loss(self, X: np.ndarray) -> float:
        f, _, (y, w) = self._values(X)
        return float(0.5 * ((f - y) ** 2) @ w)

    @property
    def baseline(self) -> float:
        _, _, (y, w) = self._values(np.zeros(self.depth))
        return float(0.5 * ((y**2) @ w - (y @ w) ** 2))

    @property
    def predicted_origin_drive(self) -> float:
        kernels = activation_kernels(self.name)
        s, w = gauss_hermite_rule(self.nodes)
        sigma0 = float(np.asarray(kernels.sigma(np.zeros(1)), dtype=float)[0])
        return self.amplitude * sigma0 * float(np.asarray(kernels.sigma(s), dtype=float) @ w)


def uncentred_flow(name: str, depth: int, amplitude: float = 1.0, nodes: int = 96) -> UncentredFlow:
    """The uncentred reduced flow (raises ConfigurationError for depth < 2)."""
    if depth < 2:
        raise ConfigurationError(f"the uncentred chain needs depth ≥ 2, got {depth}")
    return UncentredFlow(name, depth, float(amplitude), nodes)


def uncentred_escape(
    flow: UncentredFlow, eps: float, fraction: float = 0.5, max_time: float = 1e9
) -> float | None:
    """First time the uncentred flow from X = ε𝟏 has loss < ``fraction`` · baseline; None if
    not reached (the time budget ran out, or the weights ran off past |X| = 10³)."""
    threshold = fraction * flow.baseline

    def event(t: float, X: np.ndarray) -> float:
        return flow.loss(X) - threshold

    def blow_up(t: float, X: np.ndarray) -> float:
        return 1e3 - float(np.max(np.abs(X))) if np.all(np.isfinite(X)) else -1.0

    event.terminal = blow_up.terminal = True
    with np.errstate(all="ignore"):
        try:
            sol = solve_ivp(
                lambda t, X: flow.field(X),
                (0.0, max_time),
                np.full(flow.depth, float(eps)),
                method="LSODA",
                rtol=1e-9,
                atol=1e-13,
                events=[event, blow_up],
            )
        except ValueError:  # an event straddling non-finite states: the weights ran off
            return None
    if sol.t_events[0].size and np.all(np.isfinite(sol.y[:, -1])):
        return float(sol.t_events[0][0])
    return None
