"""The imbalance identity (MATH.md §2, Theorem 1), all three forms, both sides computed.

For layer pairs (l, l+1), l = 1..L-1, with G_l = ∇_{W_l}𝓛:

    scalar:          d/dt(||W_{l+1}||² - ||W_l||²) = 2 E[b_lᵀ φ_σ(z_l)]
    preconditioned:  d/dt(||W_{l+1}||²/η_{l+1} - ||W_l||²/η_l) = 2 E[b_lᵀ φ_σ(z_l)]
    matrix:          d/dt(W_{l+1}ᵀW_{l+1} - W_l W_lᵀ)
                         = -E[b_l σ(z_l)ᵀ + σ(z_l) b_lᵀ - g_l z_lᵀ - z_l g_lᵀ]

The left sides are computed from the flow's velocity dW_l/dt = -η_l G_l (backpropagation); the
right sides from forward quantities (b_l, z_l, φ_σ), so agreement checks the identity, not a
rewriting of one side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from symescape.errors import ConfigurationError, NumericalError
from symescape.numeric.losses import Loss
from symescape.numeric.network import batch_mean, loss_and_gradients, validate_weights
from symescape.options import validate_depth
from symescape.symbolic.resolved import ActivationKernels


@dataclass(frozen=True)
class LayerIdentity:
    """Both sides of one layer pair's scalar identity; ``scale`` is the size of the terms
    (Σ|contributions|), the natural yardstick for round-off."""

    layer: int
    lhs: float
    rhs: float
    scale: float

    @property
    def abs_error(self) -> float:
        return abs(self.lhs - self.rhs)

    @property
    def rel_error(self) -> float:
        return self.abs_error / self.scale if self.scale > 0 else self.abs_error


@dataclass(frozen=True)
class ImbalanceCheck:
    """The three forms for every layer pair of one network."""

    scalar: tuple[LayerIdentity, ...]
    preconditioned: tuple[LayerIdentity, ...]
    matrix_max_abs_error: float
    matrix_scale: float

    @property
    def max_rel_error(self) -> float:
        rel = [c.rel_error for c in self.scalar + self.preconditioned]
        if self.matrix_scale > 0:
            rel.append(self.matrix_max_abs_error / self.matrix_scale)
        return max(rel, default=0.0)


def _inner(a: np.ndarray, b: np.ndarray) -> object:
    return (a * b).sum()


def imbalance_identity(
    weights: Sequence[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    kernels: ActivationKernels,
    batch_weights: np.ndarray | None = None,
    rates: Sequence[float] | None = None,
) -> ImbalanceCheck:
    """Both sides of the three forms, for one network (ensemble size 1).

    ``rates`` are the η_l of the preconditioned form (default: 1, 2, 3, … to make the check
    non-trivial). Works on float arrays and on mpmath object arrays alike.

    Raises:
        ArithmeticError: the passes overflowed (double precision).
    """
    weights = validate_weights(weights)
    if weights[0].shape[0] != 1:
        raise ConfigurationError("imbalance_identity checks one network: ensemble size must be 1")
    depth = len(weights)
    eta = list(rates) if rates is not None else [float(l) for l in range(1, depth + 1)]
    with np.errstate(over="ignore", invalid="ignore"):
        _, passed, grads = loss_and_gradients(weights, x, y, loss, kernels, batch_weights)
    if weights[0].dtype != object and not all(
        np.all(np.isfinite(a)) for a in (*passed.pre, *grads.gradients)
    ):
        raise NumericalError(
            "the forward or backward pass overflowed to a non-finite value; "
            "use smaller weights or inputs"
        )
    velocity = [-eta[l] * grads.gradients[l] for l in range(depth)]
    scalar, preconditioned = [], []
    matrix_error, matrix_scale = 0.0, 0.0
    for l in range(1, depth):  # pair (l, l+1), 1-based; Python index of W_l is l-1
        w_l, w_next = weights[l - 1][0], weights[l][0]
        v_l, v_next = velocity[l - 1][0], velocity[l][0]
        b, z = grads.upstream[l - 1], passed.pre[l - 1]
        terms = batch_mean(b * kernels.phi(z), batch_weights)[0]
        rhs = 2 * terms.sum()
        scale = (
            2 * np.abs(terms).sum()
            + 2 * abs(_inner(w_l, grads.gradients[l - 1][0]))
            + 2 * abs(_inner(w_next, grads.gradients[l][0]))
        )
        uniform_lhs = -2 * _inner(w_next, grads.gradients[l][0]) + 2 * _inner(
            w_l, grads.gradients[l - 1][0]
        )
        scalar.append(LayerIdentity(l, uniform_lhs, rhs, scale))
        pre_lhs = 2 * _inner(w_next, v_next) / eta[l] - 2 * _inner(w_l, v_l) / eta[l - 1]
        preconditioned.append(LayerIdentity(l, pre_lhs, rhs, scale))
        # Matrix form (uniform flow: velocity -G).
        g_next, g_l = grads.gradients[l][0], grads.gradients[l - 1][0]
        lhs_m = -(g_next.T @ w_next + w_next.T @ g_next) + (g_l @ w_l.T + w_l @ g_l.T)
        sig, g = kernels.sigma(z)[0], grads.deltas[l - 1][0]
        column = _weights_column(batch_weights, z[0])
        rhs_m = -(
            _outer(b[0], sig, column)
            + _outer(sig, b[0], column)
            - _outer(g, z[0], column)
            - _outer(z[0], g, column)
        )
        matrix_error = max(matrix_error, np.abs(lhs_m - rhs_m).max())
        # Yardstick: the size of the individual terms (the sides themselves may cancel to 0).
        matrix_scale = max(
            matrix_scale, 2 * np.abs(g_next.T @ w_next).max() + 2 * np.abs(g_l @ w_l.T).max()
        )
    return ImbalanceCheck(tuple(scalar), tuple(preconditioned), matrix_error, matrix_scale)


def _outer(p: np.ndarray, q: np.ndarray, column: np.ndarray) -> np.ndarray:
    """E[p qᵀ] over the batch (rows of p and q), with batch weights ``column`` (B, 1)."""
    return (p * column).T @ q


def _weights_column(batch_weights: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    batch = like.shape[0]
    if batch_weights is None:
        return np.full((batch, 1), (like.flat[0] * 0 + 1) / batch, dtype=like.dtype)
    return np.asarray(batch_weights).reshape(batch, 1)


def random_identity_check(
    activation_spec: str,
    depth: int,
    width: int,
    input_dim: int,
    loss_name: str = "squared",
    batch: int = 32,
    seed: int = 0,
) -> ImbalanceCheck:
    """The identity on a He-normal network with Gaussian inputs and a single-mode teacher's
    targets (±1 labels of its sign for the logistic loss)."""
    from symescape.errors import ConfigurationError
    from symescape.numeric.inits import he_normal_weights
    from symescape.numeric.losses import loss_from
    from symescape.numeric.teachers import single_mode_teacher
    from symescape.symbolic.resolved import activation_kernels

    depth = validate_depth(depth)
    if depth < 2:
        raise ConfigurationError(
            f"the imbalance identity relates layers l and l+1: it needs depth ≥ 2, got {depth}"
        )
    if width < 1 or input_dim < 1 or batch < 1:
        raise ConfigurationError(
            f"width, input dimension and batch must be ≥ 1; got L={depth}, N={width}, "
            f"D={input_dim}, B={batch}"
        )
    kernels = activation_kernels(activation_spec)
    if kernels.activation.expr == 0:  # was reported as 7 identities lost to underflow
        raise ConfigurationError(
            f"σ = {activation_spec} is identically 0: every identity reads 0 = 0 exactly, "
            "with nothing to measure"
        )
    weights = he_normal_weights([input_dim] + [width] * (depth - 1) + [1], seed=seed)
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((batch, input_dim))
    y = single_mode_teacher(input_dim)(x, kernels)
    if loss_name == "logistic":
        y = np.where(y >= 0, 1.0, -1.0)
    return imbalance_identity(weights, x, y, loss_from(loss_name), kernels)
