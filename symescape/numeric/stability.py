"""Linearisation at a saddle and the Schur–Perron criterion (MATH.md §9, Proposition 24).

For M = [[-A, B], [C, -D]] with A, D positive diagonal and B, C ≥ 0 (a Metzler matrix), an
eigenvalue λ > 0 with eigenvector (x, y) satisfies x = (A + λ)⁻¹ B y and

    G(λ) y = y,   G(λ) = (D + λ)⁻¹ C (A + λ)⁻¹ B ≥ 0.

ρ(G(λ)) decreases strictly in λ ≥ 0 (when it is positive) and tends to 0, so a real positive
eigenvalue exists iff the loop gain ρ(D⁻¹ C A⁻¹ B) = ρ(G(0)) exceeds 1; it is then the root of
ρ(G(λ)) = 1, the spectral abscissa of M, with a non-negative eigenvector (Perron–Frobenius for
Metzler matrices), strictly positive and simple when M is irreducible.

Marginal rates (``marginal=True``): the Schur-complement argument needs only A + λ, D + λ > 0 for
λ > 0, so it holds for A, D ≥ 0 with the loop gain read as the limit lim_{λ↓0} ρ(G(λ)), which is
+∞ when a loop passes through a zero rate. This is the case met at the stage saddle of a gradient
flow (:func:`symescape.multimode.stage_saddle`), where the rotation and off-block variables have no
restoring force of their own (A = D = 0): there the instability is unconditional and
λ = √ρ(CB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.sparse.csgraph import connected_components

from symescape.errors import ConfigurationError

EIGENVALUE_XTOL, EIGENVALUE_RTOL = 1e-14, 1e-13
"""brentq's tolerances for the Perron eigenvalue λ: |δλ| ≤ xtol + rtol·λ (also the bound on
the eigenvector's round-off, below)."""

EPSILON = float(np.finfo(float).eps)


@dataclass(frozen=True)
class SchurPerronResult:
    """``loop_gain`` ρ(D⁻¹CA⁻¹B); ``eigenvalue`` the real positive eigenvalue (None if none);
    ``eigenvector`` (x, y) stacked, non-negative, unit norm; ``irreducible`` whether M is.

    A real positive eigenvalue of [[−A, B], [C, −D]] exists iff ρ(D⁻¹CA⁻¹B) > 1  (MATH.md §9,
        Proposition 24).
    """

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
    """G(λ) = (D + λ)⁻¹ C (A + λ)⁻¹ B for diagonal A, D given as vectors or matrices (zero
    entries allowed when λ > 0)."""
    a, d = _diagonal(A, "A", shift > 0), _diagonal(D, "D", shift > 0)
    return (C / (d + shift)[:, None]) @ (B / (a + shift)[:, None])


def _diagonal(matrix: np.ndarray, name: str, marginal: bool = False) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=float)
    diagonal = matrix if matrix.ndim == 1 else np.diag(matrix)
    if matrix.ndim == 2 and not np.allclose(matrix, np.diag(diagonal)):
        raise ConfigurationError(f"{name} must be diagonal")
    if not np.all(np.isfinite(diagonal)):
        raise ConfigurationError(f"{name} must have finite diagonal entries")
    if marginal and np.any(diagonal < 0):
        raise ConfigurationError(f"{name} must have non-negative diagonal entries (marginal)")
    if not marginal and np.any(diagonal <= 0):
        raise ConfigurationError(
            f"{name} must have positive finite diagonal entries (marginal=True allows zeros)"
        )
    return diagonal


def _loop_gain(a: np.ndarray, B: np.ndarray, C: np.ndarray, d: np.ndarray) -> float:
    """ρ(G(0)), or for zero rates lim_{λ↓0} ρ(G(λ)) (+∞ when it diverges)."""
    if np.all(a > 0) and np.all(d > 0):
        return _spectral_radius(loop_matrix(a, B, C, d))
    scale = max(float(np.abs(B).max(initial=0.0)), float(np.abs(C).max(initial=0.0)), 1e-300)
    # ρ(G(λ)) grows like λ^{-k} (k ≥ 1) through a zero rate, and tends to a finite limit otherwise.
    near, nearer = (_spectral_radius(loop_matrix(a, B, C, d, s * scale)) for s in (1e-8, 1e-10))
    return math.inf if nearer > 10 * near > 0 else nearer


def _finite_matrix(matrix: object, name: str) -> np.ndarray:
    """``matrix`` as a float array with finite entries (ConfigurationError naming it otherwise)."""
    try:
        array = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{name} must be a real matrix, got {matrix!r}") from None
    if not np.all(np.isfinite(array)):
        raise ConfigurationError(f"{name} has non-finite entries (NaN or inf)")
    return array


def schur_perron(
    A: np.ndarray, B: np.ndarray, C: np.ndarray, D: np.ndarray, marginal: bool = False
) -> SchurPerronResult:
    """Proposition 24: the loop gain and, when it exceeds 1, the real positive eigenvalue of
    [[-A, B], [C, -D]] with its non-negative eigenvector. With ``marginal``, A and D may have
    zero entries (the limit form of the loop gain; see the module docstring).

    λ > 0 is an eigenvalue of [[−A, B], [C, −D]] iff ρ((λ+D)⁻¹C(λ+A)⁻¹B) = 1; one exists iff
        ρ(D⁻¹CA⁻¹B) > 1  (MATH.md §9).

    Raises:
        ConfigurationError: A or D not positive (with ``marginal``: non-negative) diagonal, B or C
            with negative entries or shapes that do not fit; a non-numeric or non-finite entry.
    """
    A, B, C, D = (_finite_matrix(M, name) for M, name in ((A, "A"), (B, "B"), (C, "C"), (D, "D")))
    a, d = _diagonal(A, "A", marginal), _diagonal(D, "D", marginal)
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
    gain = _loop_gain(a, B, C, d)
    if gain <= 1:
        return SchurPerronResult(gain, None, None, bool(irreducible))
    upper = 1.0
    while _spectral_radius(loop_matrix(a, B, C, d, upper)) > 1:
        upper *= 2
    lower = 0.0
    if not (np.all(a > 0) and np.all(d > 0)):  # G(0) undefined: bracket from above 0
        lower = upper
        while _spectral_radius(loop_matrix(a, B, C, d, lower)) <= 1:
            lower /= 2
    lam = brentq(
        lambda s: _spectral_radius(loop_matrix(a, B, C, d, s)) - 1,
        lower,
        upper,
        xtol=EIGENVALUE_XTOL,
        rtol=EIGENVALUE_RTOL,
    )
    M = np.block([[-np.diag(a), B], [C, -np.diag(d)]])
    vector, gap = _null_vector(M - lam * np.eye(n))
    vector = vector * np.sign(vector[np.argmax(np.abs(vector))])
    # Round-off can leave entries of a zero component slightly negative: clip those only, up
    # to the null vector's error bound (ε‖M‖ + |δλ|)/σ_{n−1}(M − λI), the perturbation over the
    # gap to the next singular value (|δλ| ≤ xtol + rtol·λ from brentq). A fixed 1e-12 left
    # −4.3e-12 at λ = 0.0078 (hypothesis; σ_{n−1} small there).
    error = EPSILON * np.linalg.norm(M, 2) + EIGENVALUE_XTOL + EIGENVALUE_RTOL * lam
    bound = 10 * error / gap
    vector[(vector < 0) & (vector > -max(1e-12, bound) * np.abs(vector).max())] = 0.0
    return SchurPerronResult(gain, float(lam), vector / np.linalg.norm(vector), bool(irreducible))


def _null_vector(shifted: np.ndarray) -> tuple[np.ndarray, float]:
    """The right singular vector of M − λI for its smallest singular value, and the next
    singular value (the gap that bounds the vector's error). At a defective λ (a Jordan block)
    LAPACK's eigenvectors are off by ~√ε (entries of a zero component came out −6.5e-9); the
    null vector of M − λI is as accurate as λ itself, over the gap."""
    _, values, vh = np.linalg.svd(shifted)
    return vh[-1], float(values[-2]) if values.size > 1 else np.inf


@dataclass(frozen=True)
class SaddleBlocks:
    """A Jacobian split as [[-A, B], [C, -D]] along index sets ``first`` and ``second``.

    J = [[−A, B], [C, −D]], A, D diagonal, B, C ≥ 0  (MATH.md §9).
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    off_diagonal_residual: float  # largest |off-diagonal| entry inside A or D, set to 0 here


def _checked_groups(jacobian: np.ndarray, first: list[int], second: list[int]) -> np.ndarray:
    """J as a square float matrix, after checking that ``first`` and ``second`` are disjoint,
    non-empty lists of its indices (numpy's IndexError named none of this)."""
    J = np.asarray(jacobian, dtype=float)
    if J.ndim != 2 or J.shape[0] != J.shape[1]:
        raise ConfigurationError(f"the Jacobian must be a square matrix, got shape {J.shape}")
    for name, group in (("first", first), ("second", second)):
        if len(group) == 0 or any(
            isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < len(J)
            for i in group
        ):
            raise ConfigurationError(
                f"{name} must be a non-empty list of indices in 0…{len(J) - 1}, got {group!r}"
            )
    shared = sorted(set(first) & set(second))
    if shared:
        raise ConfigurationError(f"first and second share indices {shared}")
    return J


def saddle_blocks(jacobian: np.ndarray, first: list[int], second: list[int]) -> SaddleBlocks:
    """Extract the blocks of a Jacobian at a stage saddle; A = -J[first, first] (diagonal part),
    D = -J[second, second], B = J[first, second], C = J[second, first].

    J = [[−A, B], [C, −D]] at a stage saddle  (MATH.md §9).

    Raises:
        ConfigurationError: J not square, or the index groups not disjoint indices of J.
    """
    J = _checked_groups(jacobian, first, second)
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


def metzler_gauge(jacobian: np.ndarray, first: list[int], second: list[int]) -> np.ndarray | None:
    """Signs s = ±1 on ``first + second`` such that, after the similarity S J S (S = diag s), every
    coupling between the two groups is ≥ 0; None when no such signs exist.

    S J S with S = diag(±1) making the couplings B, C of [[−A, B], [C, −D]] non-negative
        (MATH.md §9).

    A sign change of a variable leaves the diagonal blocks' diagonals and the spectrum unchanged,
    so Proposition 24's sign hypothesis on B, C holds up to such a gauge or not at all. The
    signs are found by propagating s_j = s_i·sign(J_ij) over the graph of nonzero couplings (a
    two-colouring); a conflict, or J_ij and J_ji of opposite signs, means no gauge exists.

    Raises:
        ConfigurationError: as :func:`saddle_blocks`.
    """
    J = _checked_groups(jacobian, first, second)
    index = list(first) + list(second)
    n, split = len(index), len(first)
    sub = J[np.ix_(index, index)]
    tol = 1e-12 * max(float(np.abs(sub).max(initial=0.0)), 1e-300)
    signs = np.zeros(n)
    for root in range(n):
        if signs[root]:
            continue
        signs[root], stack = 1.0, [root]
        while stack:
            i = stack.pop()
            group = range(split, n) if i < split else range(split)
            for j in group:
                for value in (sub[i, j], sub[j, i]):
                    if abs(value) <= tol:
                        continue
                    wanted = signs[i] * np.sign(value)
                    if not signs[j]:
                        signs[j] = wanted
                        stack.append(j)
                    elif signs[j] != wanted:
                        return None
    return signs
