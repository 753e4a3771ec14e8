"""The exact reduced flow on the symmetric ansatz (MATH.md §4, Theorem 4).

    dX_l/dt = F_l(X) = E_s[(a σ(s) - f(s)) ∂_l f(s)],   𝓛̃(X) = ½ E_s[(f(s) - a σ(s))²],

expectations by Gauss–Hermite quadrature on the chain kernel. For class D activations the model
is that of the centred activation σ̃ = σ - σ(0) (teacher and student), whose origin is the saddle.
Numeric layer: after construction nothing here touches SymPy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from symescape.precision.gauss import gauss_hermite_rule, split_gauss_hermite_rule
from symescape.symbolic.activations import Activation, ActivationSpec
from symescape.symbolic.chain import chain_hessian_kernel, chain_kernel
from symescape.symbolic.classification import ActivationClass, Classification, classify
from symescape.symbolic.constants import EscapeConstants, escape_constants
from symescape.symbolic.resolved import activation_kernels
from symescape.symbolic.taylor import is_piecewise_defined

DEFAULT_CHAIN_NODES = 96
"""Gauss–Hermite nodes for the reduced field (tested against 4× more nodes)."""


@dataclass(frozen=True)
class ReducedModel:
    """The reduced flow for one activation, depth and amplitude, ready to evaluate.

    ``activation`` is the one the chain uses (the centred σ̃ for class D).
    """

    classification: Classification
    activation: Activation
    depth: int
    amplitude: float
    nodes: int
    constants: EscapeConstants
    _s: np.ndarray = field(repr=False)
    _w: np.ndarray = field(repr=False)
    _teacher: np.ndarray = field(repr=False)

    @property
    def centred(self) -> bool:
        return self.classification.activation_class is ActivationClass.D

    def _evaluate(self, X: np.ndarray) -> list[np.ndarray]:
        X = np.asarray(X, dtype=float)
        args = [X[..., l, None] for l in range(self.depth)]
        values = chain_kernel(self.activation, self.depth)(self._s, *args)
        shape = np.broadcast_shapes(X.shape[:-1] + (1,), self._s.shape)
        return [np.broadcast_to(v, shape) for v in values]

    def field(self, X: np.ndarray) -> np.ndarray:
        """F(X), for X of shape (..., L)."""
        f, *grad = self._evaluate(X)
        residual = (self._teacher - f) * self._w
        return np.stack([(residual * g).sum(axis=-1) for g in grad], axis=-1)

    def loss(self, X: np.ndarray) -> np.ndarray:
        """𝓛̃(X) = ½ E[(f - aσ)²]."""
        f = self._evaluate(X)[0]
        return 0.5 * (((f - self._teacher) ** 2) * self._w).sum(axis=-1)

    def output(self, X: np.ndarray) -> np.ndarray:
        """f(s_i; X) at the quadrature nodes."""
        return self._evaluate(X)[0]

    def jacobian(self, X: np.ndarray) -> np.ndarray:
        """∂F_l/∂X_m = E[-∂_l f ∂_m f + (aσ - f) ∂_l∂_m f], for one X of shape (L,)."""
        X = np.asarray(X, dtype=float)
        f, *grad = self._evaluate(X)
        args = [X[l] for l in range(self.depth)]
        second = chain_hessian_kernel(self.activation, self.depth)(self._s, *args)
        residual = (self._teacher - f) * self._w
        J = np.empty((self.depth, self.depth))
        index = 0
        for l in range(self.depth):
            for m in range(l, self.depth):
                h = np.broadcast_to(second[index], self._s.shape)
                value = -(grad[l] * grad[m] * self._w).sum() + (residual * h).sum()
                J[l, m] = J[m, l] = value
                index += 1
        return J


@lru_cache(maxsize=128)
def reduced_model(
    spec: ActivationSpec | Classification,
    depth: int,
    amplitude: float = 1.0,
    nodes: int = DEFAULT_CHAIN_NODES,
) -> ReducedModel:
    """The reduced flow of MATH.md §4 (validated: depth ≥ 1, c_1 ≠ 0, analytic σ).

    Raises:
        ConfigurationError, NoLinearPathError, OutsideHypothesisError: see :func:`escape_constants`.
    """
    cls = spec if isinstance(spec, Classification) else classify(spec)
    constants = escape_constants(cls, depth, amplitude)
    act = cls.centred.activation if cls.activation_class is ActivationClass.D else cls.activation
    s, w = (
        split_gauss_hermite_rule(nodes // 2)
        if is_piecewise_defined(act)
        else gauss_hermite_rule(nodes)
    )
    teacher = float(amplitude) * np.asarray(activation_kernels(act).sigma(s), dtype=float)
    return ReducedModel(
        cls, act, constants.depth, float(amplitude), nodes, constants, s, w, teacher
    )
