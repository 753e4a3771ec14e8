"""Initialisations (MATH.md §4, §8, §9): the symmetric-aligned ansatz, He-normal with ε-scaled
layers, and modewise blocks. Every function returns weights with an ensemble axis."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from symescape.errors import ConfigurationError
from symescape.numeric.network import Weights
from symescape.options import validate_depth


def _check_width(width: int, depth: int) -> None:
    validate_depth(depth)
    if width < 1:
        raise ConfigurationError(f"width must be ≥ 1, got {width}")


def ansatz_weights(
    scalars: Sequence[float] | np.ndarray, direction: np.ndarray, width: int
) -> Weights:
    """W_1 = X_1 1_N vᵀ, W_l = (X_l/N) 1_N 1_Nᵀ (2 ≤ l ≤ L-1), W_L = (X_L/N) 1_Nᵀ.

    ``scalars`` is (L,) for one network or (E, L) for an ensemble. For L = 1, W_1 = X_1 vᵀ.
    """
    X = np.atleast_2d(np.asarray(scalars, dtype=float))
    v = np.asarray(direction, dtype=float)
    ensemble, depth = X.shape
    _check_width(width, depth)
    if not np.all(np.isfinite(X)):
        raise ConfigurationError("ansatz scalars must be finite")
    if depth == 1:
        return (X[:, 0, None, None] * v[None, None, :],)
    n = width
    weights = [X[:, 0, None, None] * np.ones((1, n, 1)) * v[None, None, :]]
    for l in range(1, depth - 1):  # noqa: E741
        weights.append(np.broadcast_to(X[:, l, None, None] / n, (ensemble, n, n)).copy())
    weights.append(np.broadcast_to(X[:, -1, None, None] / n, (ensemble, 1, n)).copy())
    return tuple(weights)


def ansatz_scalars(weights: Weights, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(X, deviation): the ansatz scalars (E, L) of the nearest ansatz point, and for each member
    the largest entrywise distance of the weights from that point (0 on the ansatz)."""
    v = np.asarray(direction, dtype=float)
    depth = len(weights)
    X = np.empty((weights[0].shape[0], depth))
    X[:, 0] = (weights[0] @ v).mean(axis=1)
    for l in range(1, depth):  # noqa: E741
        X[:, l] = weights[l].mean(axis=(1, 2)) * weights[l].shape[2]
    width = weights[0].shape[1]
    rebuilt = ansatz_weights(X, v, width) if depth > 1 or width == 1 else None
    if rebuilt is None:
        return X, np.zeros(X.shape[0])
    deviation = np.max(
        [
            np.abs(w - r).reshape(w.shape[0], -1).max(axis=1)
            for w, r in zip(weights, rebuilt, strict=True)
        ],
        axis=0,
    )
    return X, deviation


def he_normal_weights(
    widths: Sequence[int],
    ensemble: int = 1,
    *,
    seed: int = 0,
    epsilon: float = 1.0,
    scaled_layers: Iterable[int] | None = None,
    bottleneck: int | None = None,
) -> Weights:
    """Entries N(0, 2/fan_in), then the layers in ``scaled_layers`` (1-based; default the first
    ``bottleneck`` = r layers) multiplied by ε (MATH.md §8).

    ``widths`` = (D, n_1, …, n_{L-1}, 1).
    """
    widths = list(widths)
    depth = len(widths) - 1
    if depth < 1:
        raise ConfigurationError("widths must list the input dimension and at least one layer")
    if widths[-1] != 1:
        raise ConfigurationError(f"the output width must be 1, got {widths[-1]}")
    if min(widths) < 1:
        raise ConfigurationError(f"widths must be ≥ 1, got {widths}")
    if not np.isfinite(epsilon) or epsilon <= 0:
        raise ConfigurationError(f"ε must be a finite positive number, got {epsilon}")
    if scaled_layers is None:
        r = 0 if bottleneck is None else bottleneck
        if not 0 <= r <= depth:
            raise ConfigurationError(f"r = {r} bottleneck layers: need 0 ≤ r ≤ L = {depth}")
        scaled_layers = range(1, r + 1)
    scaled = set(scaled_layers)
    if not scaled <= set(range(1, depth + 1)):
        raise ConfigurationError(f"scaled layers {sorted(scaled)} are not all in 1..{depth}")
    rng = np.random.default_rng(seed)
    weights = []
    for l in range(1, depth + 1):  # noqa: E741
        fan_in, fan_out = widths[l - 1], widths[l]
        w = rng.standard_normal((ensemble, fan_out, fan_in)) * np.sqrt(2.0 / fan_in)
        weights.append(w * epsilon if l in scaled else w)
    return tuple(weights)


def modewise_block_weights(
    block_scalars: np.ndarray, directions: np.ndarray, block_width: int
) -> Weights:
    """M blocks of ``block_width`` hidden units, block k on the ansatz along v_k (MATH.md §9):
    first-layer rows X_1^{(k)} v_kᵀ; internal matrices block-diagonal with (X_l^{(k)}/n_b) 1 1ᵀ;
    readout X_L^{(k)}/n_b on block k. ``block_scalars`` is (M, L) or (E, M, L)."""
    S = np.asarray(block_scalars, dtype=float)
    if S.ndim == 2:
        S = S[None]
    ensemble, modes, depth = S.shape
    V = np.atleast_2d(np.asarray(directions, dtype=float))
    if V.shape[0] != modes:
        raise ConfigurationError(f"{modes} blocks for {V.shape[0]} directions")
    _check_width(block_width, depth)
    if depth < 2:
        raise ConfigurationError("modewise blocks need depth ≥ 2 (at least one hidden layer)")
    n, nb = modes * block_width, block_width
    first = np.zeros((ensemble, n, V.shape[1]))
    internal = [np.zeros((ensemble, n, n)) for _ in range(depth - 2)]
    readout = np.zeros((ensemble, 1, n))
    for k in range(modes):
        rows = slice(k * nb, (k + 1) * nb)
        first[:, rows, :] = S[:, k, 0, None, None] * V[k][None, None, :]
        for index, w in enumerate(internal, start=1):
            w[:, rows, rows] = S[:, k, index, None, None] / nb
        readout[:, 0, rows] = S[:, k, -1, None] / nb
    return (first, *internal, readout)
