"""The one SymPy → NumPy/mpmath boundary (STYLE.md §7).

A kernel is built from a symbolic object once: symbols are packed in a fixed order, the
expressions are lambdified with common-subexpression elimination, and the result is cached by
(expressions, arguments, backend). The argument order is written into the kernel's docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp


def _numpy_modules() -> list[Any]:
    # numpy has no erf; scipy.special's is vectorised and exact to round-off.
    from scipy import special

    return [{"erf": special.erf, "erfc": special.erfc}, "numpy"]


@lru_cache(maxsize=1024)
def _lambdify(exprs: tuple[sp.Expr, ...], args: tuple[sp.Symbol, ...], backend: str) -> Callable:
    modules = _numpy_modules() if backend == "numpy" else "mpmath"
    function = sp.lambdify(args, list(exprs), modules=modules, cse=backend == "numpy")
    function.__doc__ = (
        f"Generated {backend} kernel. Arguments, in order: {', '.join(map(str, args))}. "
        f"Returns a list of {len(exprs)} values."
    )
    return function


def numpy_kernel(
    exprs: Sequence[sp.Expr], args: Sequence[sp.Symbol]
) -> Callable[..., list[np.ndarray]]:
    """Lambdify ``exprs`` of ``args`` into a NumPy function returning a list (cached).

    Constant expressions are broadcast to the shape of the first argument by the caller
    (see :func:`broadcast_outputs`).
    """
    return _lambdify(tuple(sp.sympify(e) for e in exprs), tuple(args), "numpy")


def mpmath_kernel(exprs: Sequence[sp.Expr], args: Sequence[sp.Symbol]) -> Callable[..., list]:
    """Lambdify ``exprs`` of ``args`` into an mpmath function returning a list (cached)."""
    return _lambdify(tuple(sp.sympify(e) for e in exprs), tuple(args), "mpmath")


def broadcast_outputs(values: Sequence[Any], like: np.ndarray) -> list[np.ndarray]:
    """Broadcast each output to ``like``'s shape (lambdify returns bare scalars for constants)."""
    return [np.broadcast_to(np.asarray(v, dtype=float), np.shape(like)) for v in values]
