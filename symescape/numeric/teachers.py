"""Teachers y(x) = Σ_k a_k σ(v_k · x) with orthonormal v_k (MATH.md §0)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symescape.errors import ConfigurationError
from symescape.symbolic.resolved import ActivationKernels


@dataclass(frozen=True)
class Teacher:
    """Amplitudes ``a`` (M,) and orthonormal directions ``directions`` (M, D)."""

    amplitudes: np.ndarray
    directions: np.ndarray

    def __post_init__(self) -> None:
        a = np.atleast_1d(np.asarray(self.amplitudes, dtype=float))
        v = np.atleast_2d(np.asarray(self.directions, dtype=float))
        if v.shape[0] != a.shape[0]:
            raise ConfigurationError(f"{a.shape[0]} amplitudes for {v.shape[0]} directions")
        if not np.all(np.isfinite(a)) or not np.all(np.isfinite(v)):
            raise ConfigurationError("teacher amplitudes and directions must be finite")
        if not np.allclose(v @ v.T, np.eye(v.shape[0]), atol=1e-10):
            raise ConfigurationError("teacher directions must be orthonormal")
        object.__setattr__(self, "amplitudes", a)
        object.__setattr__(self, "directions", v)

    @property
    def modes(self) -> int:
        return self.amplitudes.shape[0]

    @property
    def input_dim(self) -> int:
        return self.directions.shape[1]

    def __call__(self, x: np.ndarray, kernels: ActivationKernels) -> np.ndarray:
        """y for inputs of shape (..., D): Σ_k a_k σ(v_k·x)."""
        return kernels.sigma(x @ self.directions.T) @ self.amplitudes


def single_mode_teacher(input_dim: int, amplitude: float = 1.0, seed: int | None = None) -> Teacher:
    """y = a σ(v·x); v = e_1 unless a seed asks for a random unit vector."""
    return orthonormal_teacher(input_dim, [amplitude], seed)


def orthonormal_teacher(
    input_dim: int, amplitudes: list[float], seed: int | None = None
) -> Teacher:
    """M = len(amplitudes) orthonormal directions: the first M basis vectors, or a random
    orthonormal frame (QR of a Gaussian matrix) when ``seed`` is given."""
    modes = len(amplitudes)
    if input_dim < modes:
        raise ConfigurationError(f"input dimension {input_dim} < number of modes {modes}")
    if seed is None:
        directions = np.eye(modes, input_dim)
    else:
        q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((input_dim, modes)))
        directions = (q * np.sign(np.diag(r))).T
    return Teacher(np.asarray(amplitudes, dtype=float), directions)
