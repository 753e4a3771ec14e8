"""Lemma 14 (ansatz invariance) with the input components orthogonal to v present (MATH.md §4).

On the symmetric ansatz f depends on x only through s = v·x, so δ_1 = δ_1(s) and the layer-1
population gradient is E[δ_1 xᵀ] = E[δ_1(s) s] vᵀ + E[δ_1(s)] E[x_⊥]ᵀ: the orthogonal part drops out
because x_⊥ is independent of s with mean zero. Two measures in D dimensions:

- ``exact``: Gauss–Hermite nodes s_i along v times the symmetric rule x_⊥ = ±√(D−1) u_j in the
  orthogonal complement (u_j an orthonormal basis of v^⊥; 2(D−1) points): the product measure has
  s ⟂ x_⊥ independent, E[x_⊥] = 0 and E[x_⊥ x_⊥ᵀ] = I exactly, which is all the proof uses;
- ``monte-carlo``: a fixed Gaussian sample of n inputs; the orthogonal part is then sampling noise,
  compared with its own standard error.

The gradient is computed by the network's back-propagation on full matrices; its distance from
the ansatz (rows of G_1 not along v, unequal entries elsewhere) is measured relative to its norm,
and its ansatz coordinates are compared with the reduced field F (G_1 = −(F_1/N) 1 vᵀ,
G_l = −(F_l/N) 1 1ᵀ, G_L = −F_L 1ᵀ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symescape.errors import ConfigurationError
from symescape.numeric.inits import ansatz_weights
from symescape.numeric.losses import SQUARED
from symescape.numeric.network import Weights, loss_and_gradients
from symescape.numeric.reduced import reduced_model
from symescape.precision.gauss import gauss_hermite_rule
from symescape.symbolic.resolved import activation_kernels


@dataclass(frozen=True)
class InvarianceCheck:
    """``leak``: largest norm of the gradient's component off the ansatz, relative to the gradient
    norm (per layer, max); ``field_error``: ansatz coordinates of the gradient against the reduced
    field, relative; ``standard_error``: for Monte Carlo, the standard error of the leak."""

    activation: str
    input_dim: int
    measure: str
    leak: float
    field_error: float
    standard_error: float


def orthonormal_complement(v: np.ndarray) -> np.ndarray:
    """(D−1, D): an orthonormal basis of v^⊥ (rows)."""
    q, _ = np.linalg.qr(np.column_stack([v, np.eye(v.size)]))
    return (q[:, 1 : v.size]).T


def exact_measure(v: np.ndarray, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs s_i v ± √(D−1) u_j with weights w_i / (2(D−1))."""
    s, w = gauss_hermite_rule(nodes)
    basis = orthonormal_complement(v)
    m = basis.shape[0]
    if m < 1:
        raise ConfigurationError("need D ≥ 2 for orthogonal input components")
    offsets = np.sqrt(m) * np.concatenate([basis, -basis])
    x = (s[:, None, None] * v[None, None, :] + offsets[None, :, :]).reshape(-1, v.size)
    return x, np.repeat(w / (2 * m), 2 * m)


def ansatz_leak(gradients: Weights, v: np.ndarray) -> float:
    """Largest relative norm of the part of each G_l off the ansatz pattern."""
    worst = 0.0
    for index, g in enumerate(gradients):
        g = g[0]
        if index == 0:
            rows = g @ v
            off = g - np.outer(np.full(g.shape[0], rows.mean()), v)
        else:
            off = g - g.mean()
        worst = max(worst, float(np.linalg.norm(off) / np.linalg.norm(g)))
    return worst


def invariance_check(
    activation: str,
    X: np.ndarray,
    input_dim: int,
    *,
    width: int = 5,
    measure: str = "exact",
    samples: int = 20000,
    seed: int = 14,
    perturbation: float = 0.0,
) -> InvarianceCheck:
    """Population gradient at the ansatz point X (random unit v in R^D) and its leak off the ansatz.

    ``perturbation`` > 0 moves W_1's rows off the ansatz (random orthogonal components), a control
    showing the measured leak is not zero by construction.
    """
    if input_dim < 2:
        raise ConfigurationError(f"input_dim must be ≥ 2, got {input_dim}")
    X = np.asarray(X, dtype=float)
    depth = X.size
    model = reduced_model(activation, depth)
    kernels = activation_kernels(model.activation)
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(input_dim)
    v /= np.linalg.norm(v)
    weights = ansatz_weights(X, v, width)
    if perturbation:
        noise = rng.standard_normal(weights[0].shape)
        noise -= (noise @ v)[..., None] * v
        weights = (weights[0] + perturbation * noise, *weights[1:])
    if measure == "exact":
        x, bw = exact_measure(v, model.nodes)
    elif measure == "monte-carlo":
        x, bw = rng.standard_normal((samples, input_dim)), None
    else:
        raise ConfigurationError(f"measure must be 'exact' or 'monte-carlo', got {measure!r}")
    x3 = x[None]
    y = kernels.sigma(x @ v)
    _, passed, back = loss_and_gradients(weights, x3, y, SQUARED, kernels, bw)
    grads = back.gradients
    leak = ansatz_leak(grads, v)
    standard_error = 0.0
    if measure == "monte-carlo":
        # Per-example layer-1 gradients δ_1 xᵀ: standard error of their orthogonal mean.
        delta = back.deltas[0][0]  # (n, N)
        per_example = (delta[:, :, None] * x[:, None, :]).reshape(x.shape[0], -1)
        se = per_example.std(axis=0) / np.sqrt(x.shape[0])
        standard_error = float(np.linalg.norm(se) / np.linalg.norm(grads[0][0]))
    n = width
    coords = [float(grads[0][0].sum(axis=0) @ v) / n]
    coords += [float(g[0].mean()) for g in grads[1:-1]]
    coords.append(float(grads[-1][0].mean()) if depth > 1 else coords[0])
    coords = np.array(coords[:depth])
    scale = np.array([1.0 / n] * (depth - 1) + [1.0]) if depth > 1 else np.array([1.0 / n])
    F = model.field(X)
    field_error = float(np.max(np.abs(coords + scale * F)) / np.max(np.abs(scale * F)))
    return InvarianceCheck(activation, input_dim, measure, leak, field_error, standard_error)
