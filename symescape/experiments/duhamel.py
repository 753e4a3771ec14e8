"""Appendix E.4–E.5: Duhamel forms of the off-block entries and layer-1 cross-block rotations
along stage 1 (MATH.md §9; the seed lost the closed forms (62)–(64): reconstructed and tested).

On the block-mean flow dθ/dt = F(θ) from modewise blocks, write θ = θ_d + η with θ_d the decoupled
trajectory (diagonal entries only: dθ_d/dt = m ⊙ F(θ_d)) and η the off-block part. To first order
in η the off-block entries obey the linear inhomogeneous equation along θ_d,

    dη/dt = J(θ_d(t)) η + S(t),   S = (1 − m) ⊙ F(θ_d)        (the drive, nonzero from η = 0)
    η(t) = ∫_0^t Φ(t, τ) S(τ) dτ                               (Duhamel, Φ the propagator of J),

and the paper's scalar form keeps only each entry's own rate, Γ_i = −J_ii:

    η_i(t) = ∫_0^t exp(−∫_τ^t Γ_i) S_i(τ) dτ.

Jη is a complex-step directional derivative of the field (one backward pass). The cross-block
moment of E.5 is read off the Jacobian: for each block k ≥ 2 the pair (rotation of block k's
first-layer row toward v_1, off-block amplitude from block k into block 1) has couplings
J[rot, amp] and J[amp, rot]; their product is the sign of the mutual feedback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from symescape.experiments.multimode import CascadeConfig, decoupled_mask, multimode_family

COMPLEX_STEP = 1e-30


@dataclass(frozen=True)
class DuhamelCheck:
    """Along stage 1 on ``times``: the off-block part of the block-mean flow (``true``), the full
    Duhamel (linearised, all couplings: ``duhamel``), the scalar per-entry Duhamel (``scalar``),
    and the cross-block loop products J[rot, amp]·J[amp, rot] for blocks k ≥ 2."""

    times: np.ndarray
    true: np.ndarray
    duhamel: np.ndarray
    scalar: np.ndarray
    loop_products: np.ndarray
    drive: np.ndarray

    def relative_error(self, which: np.ndarray) -> float:
        """max_t ||which − true|| / ||true|| over the times where the true part is nonzero."""
        norms = np.linalg.norm(self.true, axis=1)
        keep = norms > 0
        return float(np.max(np.linalg.norm(which - self.true, axis=1)[keep] / norms[keep]))


def _jvp(
    field: Callable[[np.ndarray], np.ndarray], theta: np.ndarray, direction: np.ndarray
) -> np.ndarray:
    return field(theta + 1j * COMPLEX_STEP * direction).imag / COMPLEX_STEP


def duhamel_check(config: CascadeConfig, fraction: float = 0.8, points: int = 24) -> DuhamelCheck:
    """Integrate θ (block-mean), θ_d (decoupled), the linearised η and the scalar η along
    [0, fraction · T_1], T_1 the decoupled stage-1 time of mode 1 (its single-mode escape time)."""
    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.reduced import reduced_model

    family = multimode_family(config, 1.0)
    field = family.problem.field
    modes, depth = len(config.amplitudes), config.depth
    mask = np.concatenate([m.ravel() for m in decoupled_mask(modes, depth)])
    off = 1 - mask
    T1 = escape_time_ode(
        reduced_model(config.activation, depth, amplitude=config.amplitudes[0]),
        np.full(depth, config.eps),
    ).time
    times = np.linspace(0, fraction * T1, points)
    size = family.x0.size
    block = modes * modes
    pairs = [(k * modes, block + k) for k in range(1, modes)]

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        theta, theta_d, eta = y[:size], y[size : 2 * size], y[2 * size :]
        F_d = field(theta_d)
        return np.concatenate([field(theta), mask * F_d, _jvp(field, theta_d, eta) + off * F_d])

    y0 = np.concatenate([family.x0, family.x0, np.zeros(size)])
    sol = solve_ivp(rhs, (0, times[-1]), y0, t_eval=times, rtol=1e-10, atol=1e-14)
    theta, theta_d, eta = sol.y[:size].T, sol.y[size : 2 * size].T, sol.y[2 * size :].T
    true = (theta - theta_d) * off
    duhamel = eta * off
    # Scalar Duhamel: each off-block entry with its own rate only, on the same time grid.
    index = np.flatnonzero(off)
    rates = np.empty((points, index.size))
    drive = np.empty((points, index.size))
    loops = np.empty((points, len(pairs)))
    for i, th in enumerate(theta_d):
        drive[i] = field(th)[index]
        for j, entry in enumerate(index):
            unit = np.zeros(size)
            unit[entry] = 1.0
            rates[i, j] = -_jvp(field, th, unit)[entry]
        for p, (rot, amp) in enumerate(pairs):
            e_rot, e_amp = np.zeros(size), np.zeros(size)
            e_rot[rot], e_amp[amp] = 1.0, 1.0
            loops[i, p] = _jvp(field, th, e_amp)[rot] * _jvp(field, th, e_rot)[amp]
    scalar = np.zeros((points, size))
    # dη_i/dt = −Γ_i η_i + S_i, integrated with piecewise-linear Γ, S (trapezoid on each step).
    values = np.zeros(index.size)
    for i in range(1, points):
        h = times[i] - times[i - 1]
        gamma = 0.5 * (rates[i] + rates[i - 1])
        decay = np.exp(-gamma * h)
        source = 0.5 * (drive[i] * 1.0 + drive[i - 1] * decay)
        values = decay * values + h * source
        scalar[i, index] = values
    return DuhamelCheck(times, true, duhamel, scalar, loops, drive)
