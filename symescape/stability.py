"""Linearisation at a saddle and the Schur–Perron criterion (MATH.md §9, Proposition 24).

For M = [[-A, B], [C, -D]] with A, D positive diagonal and B, C ≥ 0 (a Metzler matrix), an
eigenvalue λ > 0 with eigenvector (x, y) satisfies x = (A + λ)⁻¹ B y and

    G(λ) y = y,   G(λ) = (D + λ)⁻¹ C (A + λ)⁻¹ B ≥ 0.

ρ(G(λ)) decreases strictly in λ ≥ 0 (when it is positive) and tends to 0, so a real positive
eigenvalue exists iff the loop gain ρ(D⁻¹ C A⁻¹ B) = ρ(G(0)) exceeds 1; it is then the root of
ρ(G(λ)) = 1, the spectral abscissa of M, with a non-negative eigenvector (Perron–Frobenius for
Metzler matrices), strictly positive and simple when M is irreducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.sparse.csgraph import connected_components

from .errors import ConfigurationError


@dataclass(frozen=True)
class SchurPerronResult:
    """``loop_gain`` ρ(D⁻¹CA⁻¹B); ``eigenvalue`` the real positive eigenvalue (None if none);
    ``eigenvector`` (x, y) stacked, non-negative, unit norm; ``irreducible`` whether M is."""

    loop_gain: float
    eigenvalue: float | None
    eigenvector: np.ndarray | None
    irreducible: bool

    @property
    def unstable(self) -> bool:
        return self.eigenvalue is not None


def _spectral_radius(matrix: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(matrix)))) if matrix.size else 0.0


def loop_matrix(
    A: np.ndarray, B: np.ndarray, C: np.ndarray, D: np.ndarray, shift: float = 0.0
) -> np.ndarray:
    """G(λ) = (D + λ)⁻¹ C (A + λ)⁻¹ B for diagonal A, D given as vectors or matrices."""
    a, d = _diagonal(A, "A"), _diagonal(D, "D")
    return (C / (d + shift)[:, None]) @ (B / (a + shift)[:, None])


def _diagonal(matrix: np.ndarray, name: str) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=float)
    diagonal = matrix if matrix.ndim == 1 else np.diag(matrix)
    if matrix.ndim == 2 and not np.allclose(matrix, np.diag(diagonal)):
        raise ConfigurationError(f"{name} must be diagonal")
    if np.any(diagonal <= 0) or not np.all(np.isfinite(diagonal)):
        raise ConfigurationError(f"{name} must have positive finite diagonal entries")
    return diagonal


def schur_perron(A: np.ndarray, B: np.ndarray, C: np.ndarray, D: np.ndarray) -> SchurPerronResult:
    """Proposition 24: the loop gain and, when it exceeds 1, the real positive eigenvalue of
    [[-A, B], [C, -D]] with its non-negative eigenvector.

    Raises:
        ConfigurationError: A or D not positive diagonal, B or C with negative entries or shapes
            that do not fit.
    """
    a, d = _diagonal(A, "A"), _diagonal(D, "D")
    B, C = np.asarray(B, dtype=float), np.asarray(C, dtype=float)
    if B.shape != (a.size, d.size) or C.shape != (d.size, a.size):
        raise ConfigurationError(
            f"B must be {a.size}×{d.size} and C {d.size}×{a.size}; got {B.shape} and {C.shape}"
        )
    if np.any(B < 0) or np.any(C < 0):
        raise ConfigurationError("B and C must be entrywise non-negative")
    n = a.size + d.size
    coupling = np.zeros((n, n))
    coupling[: a.size, a.size :] = B
    coupling[a.size :, : a.size] = C
    irreducible = connected_components(coupling > 0, connection="strong")[0] == 1
    gain = _spectral_radius(loop_matrix(a, B, C, d))
    if gain <= 1:
        return SchurPerronResult(gain, None, None, bool(irreducible))
    upper = 1.0
    while _spectral_radius(loop_matrix(a, B, C, d, upper)) > 1:
        upper *= 2
    lam = brentq(
        lambda s: _spectral_radius(loop_matrix(a, B, C, d, s)) - 1,
        0.0,
        upper,
        xtol=1e-14,
        rtol=1e-13,
    )
    M = np.block([[-np.diag(a), B], [C, -np.diag(d)]])
    values, vectors = np.linalg.eig(M)
    index = int(np.argmin(np.abs(values - lam)))
    vector = np.real(vectors[:, index])
    vector = vector * np.sign(vector[np.argmax(np.abs(vector))])
    # Round-off can leave entries of a zero component slightly negative: clip those only.
    vector[(vector < 0) & (vector > -1e-12 * np.abs(vector).max())] = 0.0
    return SchurPerronResult(gain, float(lam), vector / np.linalg.norm(vector), bool(irreducible))


@dataclass(frozen=True)
class SaddleBlocks:
    """A Jacobian split as [[-A, B], [C, -D]] along index sets ``first`` and ``second``."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    off_diagonal_residual: float  # largest |off-diagonal| entry inside A or D, set to 0 here


def saddle_blocks(jacobian: np.ndarray, first: list[int], second: list[int]) -> SaddleBlocks:
    """Extract the blocks of a Jacobian at a stage saddle; A = -J[first, first] (diagonal part),
    D = -J[second, second], B = J[first, second], C = J[second, first]."""
    J = np.asarray(jacobian, dtype=float)
    Jaa, Jdd = J[np.ix_(first, first)], J[np.ix_(second, second)]
    residual = max(
        float(np.abs(Jaa - np.diag(np.diag(Jaa))).max(initial=0.0)),
        float(np.abs(Jdd - np.diag(np.diag(Jdd))).max(initial=0.0)),
    )
    return SaddleBlocks(
        -np.diag(np.diag(Jaa)),
        J[np.ix_(first, second)],
        J[np.ix_(second, first)],
        -np.diag(np.diag(Jdd)),
        residual,
    )
