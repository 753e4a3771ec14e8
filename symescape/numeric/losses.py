"""Per-example losses ℓ(f, y) and their derivatives ∂ℓ/∂f (MATH.md §0)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from symescape.errors import UnknownNameError

LossFunction = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Loss:
    """A differentiable per-example loss: ``value_and_derivative(f, y) -> (ℓ, ∂ℓ/∂f)``."""

    name: str
    value_and_derivative: LossFunction

    def __call__(self, f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.value_and_derivative(f, y)


def _squared(f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = f - y
    return r * r / 2, r


def _logistic(f: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # ℓ = log(1 + e^{-y f}), stable for large |y f|; ∂ℓ/∂f = -y / (1 + e^{y f}).
    from scipy.special import expit

    m = y * f
    return np.logaddexp(0.0, -m), -y * expit(-m)


SQUARED = Loss("squared", _squared)
"""ℓ = (f - y)² / 2 (works on any dtype, including mpmath object arrays)."""

LOGISTIC = Loss("logistic", _logistic)
"""ℓ = log(1 + exp(-y f)), for labels y (any real y is accepted)."""

LOSSES = {"squared": SQUARED, "logistic": LOGISTIC}


def loss_from(spec: str | Loss | LossFunction) -> Loss:
    """A :class:`Loss` from a name (``squared``, ``logistic``), a Loss, or a callable
    ``(f, y) -> (ℓ, ∂ℓ/∂f)``."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str):
        if spec not in LOSSES:
            raise UnknownNameError(f"unknown loss {spec!r}; known: {', '.join(LOSSES)}")
        return LOSSES[spec]
    if callable(spec):
        return Loss(getattr(spec, "__name__", "custom"), spec)
    raise TypeError(f"a loss is a name, a Loss or a callable; got {type(spec).__name__}")
