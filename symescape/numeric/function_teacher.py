"""Teachers with their own functions, for training full networks (MATH.md §0, issue 17).

    y(x) = Σ_k g_k(v_k·x),   or labels y = sign(Σ_k g_k(v_k·x)) ∈ {±1},

with orthonormal v_k and g_k compiled once from their symbolic form. A :class:`FunctionTeacher`
is a :class:`~symescape.numeric.teachers.Teacher` (so :func:`~symescape.numeric.training.train`
takes it), but it ignores the student's kernels: teacher and student activations may differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from symescape.numeric.teachers import Teacher, orthonormal_teacher
from symescape.symbolic.resolved import ActivationKernels, function_kernel
from symescape.symbolic.teacher import LabelMode, TeacherSpec


@dataclass(frozen=True)
class FunctionTeacher(Teacher):
    """A teacher whose mode functions are its own (``functions[k]`` = g_k on arrays)."""

    functions: tuple[Callable[[np.ndarray], np.ndarray], ...] = ()
    sign_labels: bool = False

    def __call__(self, x: np.ndarray, kernels: ActivationKernels | None = None) -> np.ndarray:
        """y for inputs of shape (..., D); ``kernels`` (the student's) are not used."""
        s = x @ self.directions.T
        y = sum(g(s[..., k]) for k, g in enumerate(self.functions))
        return np.sign(y) if self.sign_labels else y


def function_teacher(
    spec: TeacherSpec, input_dim: int, seed: int | None = None, offsets: tuple[float, ...] = ()
) -> FunctionTeacher:
    """The teacher of ``spec`` on orthonormal directions (the first basis vectors, or a random
    frame when ``seed`` is given); ``offsets`` (one per mode) are subtracted from each g_k
    (the centring g − g(0) used with class D students).

    Raises:
        ConfigurationError: input_dim < number of modes.
    """
    frame = orthonormal_teacher(input_dim, [1.0] * len(spec.modes), seed)
    offsets = offsets or (0.0,) * len(spec.modes)
    functions = tuple(
        _shifted(function_kernel(mode), c)
        for mode, c in zip(spec.modes, offsets, strict=True)
    )
    return FunctionTeacher(
        frame.amplitudes, frame.directions, functions, spec.labels is LabelMode.SIGN
    )


def _shifted(g: Callable, c: float) -> Callable:
    if c == 0:
        return g
    return lambda s: g(s) - c
