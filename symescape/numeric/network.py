"""Fully connected networks, forward and backward passes written out, vectorised over an
ensemble axis and the batch (MATH.md §0).

    z_1 = W_1 x,  h_l = σ(z_l),  z_{l+1} = W_{l+1} h_l,  f = z_L (no activation),
    δ_l = ∂ℓ/∂z_l,  b_l = W_{l+1}ᵀ δ_{l+1},  δ_l = σ'(z_l) ⊙ b_l,  G_l = E[δ_l h_{l-1}ᵀ].

Weights are a tuple ``(W_1, …, W_L)`` with ``W_l`` of shape ``(E, n_l, n_{l-1})``: E independent
networks (an ensemble) stepped in one computation. Inputs are ``(E, B, D)`` (or ``(B, D)``, shared).
Only ``@``, elementwise kernels and sums are used, so the same code runs on mpmath object arrays.

The output is scalar (W_L has one row) unless ``vector=True``: then W_L has k ≥ 1 rows, f ∈ R^k,
y has a trailing axis of length k and ℓ(f, y) is summed over the k outputs (the scalar path is
unchanged, operation for operation).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from symescape.errors import ConfigurationError
from symescape.numeric.losses import Loss
from symescape.symbolic.resolved import ActivationKernels

Weights = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class ForwardPass:
    """Pre-activations ``z_1..z_L`` (each ``(E, B, n_l)``), post-activations
    ``h_0 = x, h_1..h_{L-1}`` and the output ``f`` of shape ``(E, B)``."""

    pre: tuple[np.ndarray, ...]
    post: tuple[np.ndarray, ...]

    @property
    def output(self) -> np.ndarray:
        return self.pre[-1][..., 0]

    @property
    def outputs(self) -> np.ndarray:
        """The vector output f ∈ R^k per example, shape (E, B, k)."""
        return self.pre[-1]


@dataclass(frozen=True)
class BackwardPass:
    """``deltas[l-1] = δ_l`` (E, B, n_l); ``upstream[l-1] = b_l`` for l = 1..L-1; ``gradients[l-1]
    = G_l = ∂𝓛/∂W_l`` (E, n_l, n_{l-1}) with 𝓛 the (weighted) batch mean of ℓ."""

    deltas: tuple[np.ndarray, ...]
    upstream: tuple[np.ndarray, ...]
    gradients: tuple[np.ndarray, ...]


def validate_weights(weights: Sequence[np.ndarray], vector: bool = False) -> Weights:
    """Check shapes (an ensemble axis, chained widths, a scalar output unless ``vector``) and
    finiteness."""
    if len(weights) < 1:
        raise ConfigurationError("a network needs depth ≥ 1 (at least one weight matrix)")
    weights = tuple(np.asarray(w) for w in weights)
    ensemble = weights[0].shape[0] if weights[0].ndim == 3 else None
    for index, w in enumerate(weights, start=1):
        if w.ndim != 3:
            raise ConfigurationError(
                f"W_{index} must have shape (E, n_{index}, n_{index - 1}); got shape {w.shape}"
            )
        if w.shape[0] != ensemble:
            raise ConfigurationError(
                f"W_{index} has ensemble size {w.shape[0]}, W_1 has {ensemble}"
            )
        if min(w.shape) < 1:
            raise ConfigurationError(f"W_{index} has an empty dimension: shape {w.shape}")
        if index > 1 and w.shape[2] != weights[index - 2].shape[1]:
            raise ConfigurationError(
                f"W_{index} takes {w.shape[2]} inputs but W_{index - 1} has "
                f"{weights[index - 2].shape[1]} outputs"
            )
        if w.dtype != object and not np.all(np.isfinite(w)):
            raise ConfigurationError(f"W_{index} has non-finite entries")
    if not vector and weights[-1].shape[1] != 1:
        raise ConfigurationError(
            f"the output layer W_L must have one row; got {weights[-1].shape[1]}"
        )
    return weights


def flatten_weights(weights: Sequence[np.ndarray]) -> np.ndarray:
    """One ensemble member's weights (or any arrays) as one flat vector, layer by layer."""
    return np.concatenate([np.ravel(w) for w in weights])


def unflatten_weights(vector: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> Weights:
    """Inverse of :func:`flatten_weights` for one network: arrays of shape (1, *shape)."""
    out, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(vector[start : start + size].reshape((1, *shape)))
        start += size
    return tuple(out)


def _inputs(x: np.ndarray, weights: Weights) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 2:
        x = np.broadcast_to(x, (weights[0].shape[0], *x.shape))
    if x.ndim != 3 or x.shape[0] != weights[0].shape[0] or x.shape[2] != weights[0].shape[2]:
        raise ConfigurationError(
            f"inputs must have shape (E, B, D) or (B, D) with E = {weights[0].shape[0]}, "
            f"D = {weights[0].shape[2]}; got {x.shape}"
        )
    if x.dtype != object and not np.all(np.isfinite(x)):
        raise ConfigurationError("inputs contain non-finite values")
    return x


def forward(
    weights: Weights,
    x: np.ndarray,
    kernels: ActivationKernels,
    vector: bool = False,
    validate: bool = True,
) -> ForwardPass:
    """z_l and h_l for every layer (no activation after the last layer); ``vector`` allows k ≥ 1
    output rows. ``validate=False`` skips the shape and finiteness checks, for inner loops whose
    caller checked its data once (weights a tuple of (E, n_l, n_{l−1}) arrays, x (E, B, D)): in
    the ReLU solver's ascent they were 30 % of the forward pass.

    Raises:
        ConfigurationError: mismatched shapes, non-finite weights or inputs (when validating).
    """
    if validate:
        weights = validate_weights(weights, vector)
        h = _inputs(x, weights)
    else:
        h = x
    pre, post = [], [h]
    for index, w in enumerate(weights):
        z = h @ np.swapaxes(w, 1, 2)
        pre.append(z)
        if index < len(weights) - 1:
            h = kernels.sigma(z)
            post.append(h)
    return ForwardPass(tuple(pre), tuple(post))


def batch_mean(values: np.ndarray, batch_weights: np.ndarray | None) -> np.ndarray:
    """Weighted mean over the batch axis (axis 1); ``batch_weights`` of shape (B,) or (E, B)."""
    if batch_weights is None:
        return values.sum(axis=1) / values.shape[1]
    w = np.asarray(batch_weights)
    w = w.reshape((1, -1) if w.ndim == 1 else w.shape)
    return (values * w.reshape(w.shape + (1,) * (values.ndim - 2))).sum(axis=1)


def backward(
    weights: Weights,
    passed: ForwardPass,
    dloss: np.ndarray,
    kernels: ActivationKernels,
    batch_weights: np.ndarray | None = None,
) -> BackwardPass:
    """Backpropagate ∂ℓ/∂f (shape (E, B), or (E, B, k) for a vector output) to δ_l, b_l and the
    weight gradients G_l."""
    depth = len(weights)
    batch = dloss.shape[1]
    if batch_weights is None:
        # 1/B in the data's own number type (an mpf for mpmath arrays, not a double).
        scale = np.full((1, batch, 1), (dloss.flat[0] * 0 + 1) / batch, dtype=dloss.dtype)
    else:
        w = np.asarray(batch_weights)
        scale = w.reshape((1, batch, 1)) if w.ndim == 1 else w[..., None]
    delta = dloss[..., None] if dloss.ndim == 2 else dloss
    deltas, upstream, gradients = [None] * depth, [None] * (depth - 1), [None] * depth
    for l in range(depth, 0, -1):  # noqa: E741 - l is the layer index of MATH.md
        deltas[l - 1] = delta
        gradients[l - 1] = np.swapaxes(delta * scale, 1, 2) @ passed.post[l - 1]
        if l > 1:
            b = delta @ weights[l - 1]
            upstream[l - 2] = b
            delta = kernels.derivative(passed.pre[l - 2]) * b
    return BackwardPass(tuple(deltas), tuple(upstream), tuple(gradients))


def loss_and_gradients(
    weights: Weights,
    x: np.ndarray,
    y: np.ndarray,
    loss: Loss,
    kernels: ActivationKernels,
    batch_weights: np.ndarray | None = None,
    vector: bool = False,
) -> tuple[np.ndarray, ForwardPass, BackwardPass]:
    """Batch loss per ensemble member (E,), with the forward and backward passes. With
    ``vector``, y is (…, B, k) and ℓ is summed over the k outputs: 𝓛 = E[Σ_k ℓ(f_k, y_k)]."""
    passed = forward(weights, x, kernels, vector)
    f = passed.outputs if vector else passed.output
    y = np.broadcast_to(np.asarray(y), f.shape)
    values, dloss = loss(f, y)
    if vector:
        values = values.sum(axis=-1)
    return (
        batch_mean(values[..., None], batch_weights)[..., 0],
        passed,
        backward(weights, passed, dloss, kernels, batch_weights),
    )


def flat_squared_loss(
    shapes: Sequence[tuple[int, int]],
    x: np.ndarray,
    y: np.ndarray,
    kernels: ActivationKernels,
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """θ ↦ (𝓛(θ), ∇_θ 𝓛) for one network on a fixed batch, θ flat in :func:`flatten_weights`'
    order and W_l of shape ``shapes[l-1]`` = (n_l, n_{l-1}):

        𝓛(θ) = (1/2B) Σ_i Σ_k (f_k(x_i) − y_ik)²,  G_l = (1/B) Σ_i δ_l(x_i) h_{l-1}(x_i)ᵀ,

    the forward and backward passes of :func:`loss_and_gradients` (squared loss, k ≥ 1 outputs)
    on 2-D arrays, with the shapes and the batch checked once here rather than at every call:
    for integrators that evaluate the gradient field of one small network thousands of times
    (the ReLU saddle-to-saddle flow, width 10, 300 samples: 190–216 → 81–103 µs per
    evaluation, two runs each, 2026-12-07). ``y``: (B,) for one output or (B, k). In float64
    only (the ensemble passes also run on mpmath object arrays).

    Raises:
        ConfigurationError: shapes that are not pairs of positive integers or do not chain, a
            batch that does not fit them, is empty or is not finite; at a call, θ of the wrong
            size.
    """
    if any(
        len(shape) != 2 or not all(isinstance(n, int | np.integer) and n >= 1 for n in shape)
        for shape in shapes
    ):
        raise ConfigurationError(f"shapes must be pairs (n_l, n_(l-1)) of integers ≥ 1: {shapes}")
    shapes = tuple((int(r), int(c)) for r, c in shapes)
    validate_weights([np.zeros((1, *shape)) for shape in shapes], vector=True)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    outputs = shapes[-1][0]
    batch = x.shape[0] if x.ndim == 2 else 0
    expected = ((batch, outputs), (batch,)) if outputs == 1 else ((batch, outputs),)
    if batch < 1 or x.shape[1] != shapes[0][1] or y.shape not in expected:
        raise ConfigurationError(
            f"the batch must be x (B, {shapes[0][1]}) with B ≥ 1 and y (B, {outputs})"
            f"{' or (B,)' if outputs == 1 else ''}; got x {x.shape}, y {y.shape}"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ConfigurationError("the batch contains NaN or inf")
    y = y.reshape(batch, outputs)
    bounds = np.cumsum([0] + [r * c for r, c in shapes]).tolist()
    layers = list(zip(bounds[:-1], bounds[1:], shapes, strict=True))
    depth, size = len(shapes), bounds[-1]

    def loss_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        if theta.shape != (size,):
            raise ConfigurationError(f"θ must have {size} entries, got shape {theta.shape}")
        weights = [theta[start:end].reshape(shape) for start, end, shape in layers]
        pre, post, h = [], [x], x
        for index, W in enumerate(weights):
            h = h @ W.T  # z_l
            pre.append(h)
            if index < depth - 1:
                h = kernels.sigma(h)
                post.append(h)
        residual = h - y
        delta = residual / batch
        gradients = [np.empty(0)] * depth
        for l in range(depth, 0, -1):  # noqa: E741 - l is the layer index of MATH.md
            gradients[l - 1] = delta.T @ post[l - 1]
            if l > 1:
                delta = kernels.derivative(pre[l - 2]) * (delta @ weights[l - 1])
        loss = float((residual * residual).sum()) / (2 * batch)
        return loss, np.concatenate([G.ravel() for G in gradients])

    return loss_and_gradient
