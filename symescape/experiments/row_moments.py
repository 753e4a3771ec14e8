"""Theorem 25 and Corollary 26 (strict no-closure of the row-moment hierarchy), on a reconstructed
hierarchy (MATH.md §9; the seed lost the paper's definitions of the graded blocks).

Reconstruction (stated, and tested, not taken from the paper): the Jacobian at a stage saddle acts
on the graded space ⊕_n H_n of degree-n row moments, in Schur block form [[−A, B], [C, −D]] with

    A = diag(α (1 + n)),  D = diag(δ (1 + n))           (degree-n modes decay like the OU generator)
    B_{mn} = β h_{m+1} h_{n+1},  C_{mn} = γ h_{m+1} h_{n+1}  (entrywise non-negative couplings)

where h_k = |E[σ(s) He_k(s)]| / √k! are the normalised Hermite coefficients of σ: a degree-n row
moment feeds the mean-channel drift through the Hermite coefficient of the matching order.
The loop gain at λ is the rank-one operator γβ (λ + D)⁻¹ h hᵀ (λ + A)⁻¹ h hᵀ, so the Perron root
λ_n of the truncation to degrees ≤ n solves the secular equation

    γβ S_A(λ) S_D(λ) = 1,   S_A(λ) = Σ_{k≤n} h_{k+1}² / (λ + α(1 + k))   (likewise S_D),

and the full λ_∞ solves it with the infinite sums (convergent: Σ h_k² = E[σ²]). Escape time of the
linearised flow from a fixed start to a threshold R: T_n = first t with ||e^{tL_n} x_0|| = R.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq

from symescape.errors import ConfigurationError
from symescape.symbolic.resolved import activation_kernels


@lru_cache(maxsize=16)
def hermite_coefficients(name: str, count: int, nodes: int = 300) -> np.ndarray:
    """h_k = |E[σ(s) He_k(s)]|/√k!, k = 0..count−1, by Gauss–Hermite with the normalised
    recurrence ψ_{k+1} = (s ψ_k − √k ψ_{k−1})/√(k+1), carried as ψ_k √w (bounded: no overflow)."""
    s, w = np.polynomial.hermite_e.hermegauss(nodes)
    root = np.sqrt(w / np.sqrt(2 * np.pi))
    sigma = np.asarray(activation_kernels(name).sigma(s), dtype=float) * root
    psi_prev, psi = np.zeros_like(s), root.copy()
    out = np.empty(count)
    for k in range(count):
        out[k] = abs(float(sigma @ psi))
        psi_prev, psi = psi, (s * psi - np.sqrt(k) * psi_prev) / np.sqrt(k + 1)
    return out


@dataclass(frozen=True)
class Hierarchy:
    """The reconstructed graded hierarchy: rates α, δ, couplings β, γ and coefficients h."""

    activation: str
    alpha: float
    delta: float
    beta: float
    gamma: float
    h: np.ndarray  # h_1 … h_N (the coupling of degree n is h[n])

    @property
    def degrees(self) -> int:
        return self.h.size

    def blocks(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(A, B, C, D) truncated to degrees 0..n."""
        if not 0 <= n < self.degrees:
            raise ConfigurationError(f"degree must be in 0..{self.degrees - 1}, got {n}")
        h = self.h[: n + 1]
        k = np.arange(n + 1)
        return (
            self.alpha * (1 + k),
            self.beta * np.outer(h, h),
            self.gamma * np.outer(h, h),
            self.delta * (1 + k),
        )

    def matrix(self, n: int) -> np.ndarray:
        A, B, C, D = self.blocks(n)
        return np.block([[-np.diag(A), B], [C, -np.diag(D)]])

    def secular(self, lam: float, n: int) -> float:
        """γβ S_A(λ) S_D(λ) − 1 on degrees 0..n."""
        A, _, _, D = self.blocks(n)
        h2 = self.h[: n + 1] ** 2
        return self.beta * self.gamma * float(np.sum(h2 / (lam + A)) * np.sum(h2 / (lam + D))) - 1

    def perron_root(self, n: int) -> float:
        """The positive root of the secular equation (NaN when the loop gain at 0 is ≤ 1)."""
        if self.secular(0.0, n) <= 0:
            return float("nan")
        hi = 1.0
        while self.secular(hi, n) > 0:
            hi *= 2
        return brentq(lambda x: self.secular(x, n), 0.0, hi, xtol=1e-15, rtol=1e-15)

    def escape_time(self, n: int, threshold: float = 1e6) -> float:
        """First t with ||e^{t L_n} x_0|| = threshold, x_0 the degree-0 mean-channel unit vector."""
        L = self.matrix(n)
        x0 = np.zeros(L.shape[0])
        x0[0] = 1.0
        values, vectors = np.linalg.eig(L)
        coefficients = np.linalg.solve(vectors, x0)

        def excess(t: float) -> float:
            state = (vectors @ (np.exp(values * t) * coefficients)).real
            norm = float(np.linalg.norm(state))
            # A state that underflowed to 0 is far below the threshold, not an error.
            return float(np.log(norm / threshold)) if norm > 0 else -np.inf

        hi = 1.0
        while excess(hi) < 0:
            hi *= 2
            if hi > 1e8:
                return float("inf")
        return brentq(excess, hi / 2 if excess(hi / 2) < 0 else 0.0, hi, xtol=1e-12, rtol=1e-14)


def hierarchy(
    activation: str,
    degrees: int = 200,
    alpha: float = 1.0,
    delta: float = 1.0,
    loop: float = 4.0,
) -> Hierarchy:
    """The reconstructed hierarchy, couplings β = ``loop``/Σ_k h_k² and γ = 1 (loop gain at λ = 0
    of the full hierarchy: ``loop`` · Σ h²/α(1+k) · Σ h²/δ(1+k) / Σ h²)."""
    h = hermite_coefficients(activation, degrees + 1)[1:]
    scale = loop / float(np.sum(h**2))
    return Hierarchy(activation, alpha, delta, scale, 1.0, h)


@dataclass(frozen=True)
class NoClosure:
    """Truncated Perron roots λ_n (n = 0..), the full λ_∞, and escape times T_n, T_∞."""

    activation: str
    roots: list[float]
    full_root: float
    matrix_root: float  # top real eigenvalue of the largest truncation, by eigvals (a check)
    times: list[float]
    full_time: float


def no_closure(activation: str, orders: int = 10, degrees: int = 200) -> NoClosure:
    """λ_n, λ_∞ (secular equation with ``degrees`` terms) and T_n, T_∞ (T_∞ on 120 degrees,
    the escape-time tail beyond that being below round-off: checked by the test)."""
    system = hierarchy(activation, degrees)
    roots = [system.perron_root(n) for n in range(orders)]
    full = system.perron_root(degrees - 1)
    values = np.linalg.eigvals(system.matrix(orders - 1))
    real = values[np.abs(values.imag) < 1e-12].real
    times = [system.escape_time(n) for n in range(orders)]
    full_time = system.escape_time(min(119, degrees - 1))
    return NoClosure(activation, roots, full, float(real.max()), times, full_time)
