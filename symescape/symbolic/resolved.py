"""An activation resolved once: its symbolic σ with σ, σ' and φ_σ compiled into array kernels.

    φ_σ(z) = z σ'(z) − σ(z)                                   (MATH.md §2)

:func:`activation_kernels` turns a name, an expression or an :class:`Activation` into
:class:`ActivationKernels` through the code-generation boundary, once (cached); everything
numeric receives that object and never touches SymPy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symescape.codegen import jax_kernel, mpmath_kernel, numpy_elementwise
from symescape.errors import ActivationError
from symescape.options import Backend, hashable_cache
from symescape.symbolic.activations import Activation, ActivationSpec, Z, activation


@dataclass(frozen=True)
class ActivationKernels:
    """σ, σ' and φ_σ = zσ' - σ as elementwise array functions, built once from the symbolic σ."""

    activation: Activation
    sigma: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    phi: Callable[[np.ndarray], np.ndarray]


@hashable_cache(maxsize=128)
def activation_kernels(
    spec: ActivationSpec, backend: Backend | str = Backend.NUMPY
) -> ActivationKernels:
    """NumPy (``backend="numpy"``), mpmath (``"mpmath"``, elementwise on object arrays) or JAX
    (``"jax"``, traceable into jit-compiled code; needs JAX) kernels.

    Raises:
        ActivationError: the expression cannot be turned into a kernel, or gives non-finite
            values on [-3, 3].
    """
    act = activation(spec)
    backend = Backend(backend)
    expressions = [act.expr, sp.diff(act.expr, Z), Z * sp.diff(act.expr, Z) - act.expr]
    try:
        if backend is Backend.NUMPY:
            functions = [numpy_elementwise(e, Z) for e in expressions]
            _require_finite(act, functions)
        elif backend is Backend.JAX:
            functions = [_scalar(jax_kernel([e], [Z])) for e in expressions]
        else:
            functions = [
                np.vectorize(_scalar(mpmath_kernel([e], [Z])), otypes=[object]) for e in expressions
            ]
    except (NameError, TypeError, AttributeError, NotImplementedError) as exc:
        # NotImplementedError: the printer has no form for a term (σ' of floor is a DiracDelta)
        raise ActivationError(f"cannot build a numeric kernel for {act.name}: {exc}") from None
    return ActivationKernels(act, *functions)


@hashable_cache(maxsize=128)
def function_kernel(spec: ActivationSpec) -> Callable[[np.ndarray], np.ndarray]:
    """σ alone as an elementwise NumPy kernel: for a teacher's g, which needs values only (a
    g such as sign(s) or Heaviside(s) has no σ' kernel: its derivative is a DiracDelta).

    Raises:
        ActivationError: the expression cannot be turned into a kernel, or gives non-finite
            values on [-3, 3].
    """
    act = activation(spec)
    try:
        function = numpy_elementwise(act.expr, Z)
    except (NameError, TypeError, AttributeError, NotImplementedError) as exc:
        raise ActivationError(f"cannot build a numeric kernel for {act.name}: {exc}") from None
    _require_finite(act, [function])
    return function


def _require_finite(act: Activation, functions: list[Callable]) -> None:
    """Refuse kernels that are not finite on a probe grid of [-3, 3]."""
    probe = np.linspace(-3, 3, 13)
    with np.errstate(all="ignore"):
        finite = all(np.all(np.isfinite(np.asarray(fn(probe), dtype=float))) for fn in functions)
    if not finite:
        raise ActivationError(f"the kernel of {act.name} is not finite on [-3, 3]")


def _scalar(kernel: Callable) -> Callable:
    return lambda z: kernel(z)[0]
