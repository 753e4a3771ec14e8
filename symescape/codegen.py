"""The one SymPy → NumPy/mpmath/JAX boundary (STYLE.md §7).

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

from symescape.errors import ConfigurationError


def _numpy_modules() -> list[Any]:
    # numpy has no erf; scipy.special's is vectorised and exact to round-off.
    from scipy import special

    return [{"erf": special.erf, "erfc": special.erfc}, "numpy"]


def _jax_modules() -> list[Any]:
    # jax.numpy has no erf either; jax.scipy.special's traces into compiled code.
    from jax.scipy import special

    return [{"erf": special.erf, "erfc": special.erfc}, "jax"]


@lru_cache(maxsize=1024)
def _lambdify(
    exprs: tuple[sp.Expr, ...],
    args: tuple[sp.Symbol, ...],
    backend: str,
    functions: tuple[tuple[str, Callable], ...] = (),
    intermediates: tuple[tuple[sp.Symbol, sp.Expr], ...] = (),
) -> Callable:
    modules = {"numpy": _numpy_modules, "jax": _jax_modules}.get(backend, lambda: "mpmath")()
    if functions:
        modules = [dict(functions), *(modules if isinstance(modules, list) else [modules])]
    cse: bool | Callable = backend != "mpmath"
    if intermediates:

        def cse(exprs: list[sp.Expr]) -> tuple[list, list]:
            # the named intermediates are assigned first, in order; SymPy's own common
            # subexpressions (of expressions in them) follow
            found, reduced = sp.cse(exprs, list=False)
            return [*intermediates, *found], reduced

    function = sp.lambdify(args, list(exprs), modules=modules, cse=cse)
    function.__doc__ = (
        f"Generated {backend} kernel. Arguments, in order: {', '.join(map(str, args))}. "
        f"Returns a list of {len(exprs)} values."
    )
    return function


def numpy_kernel(
    exprs: Sequence[sp.Expr],
    args: Sequence[sp.Symbol],
    functions: Sequence[tuple[str, Callable]] = (),
    intermediates: Sequence[tuple[sp.Symbol, sp.Expr]] = (),
) -> Callable[..., list[np.ndarray]]:
    """Lambdify ``exprs`` of ``args`` into a NumPy function returning a list (cached).

    ``functions``: (name, NumPy function) pairs for undefined SymPy functions in ``exprs`` (e.g.
    an opaque σ whose kernel is built from its own expression). ``intermediates``: (symbol,
    expression) pairs the kernel computes first, in order, each from ``args`` and the symbols
    before it (e.g. a network's pre-activations), so ``exprs`` may be written in those symbols.
    Constant expressions are broadcast to the shape of the first argument by the caller (see
    :func:`broadcast_outputs`).
    """
    exprs = tuple(sp.sympify(e, strict=True) for e in exprs)
    return _lambdify(
        exprs, tuple(args), "numpy", tuple(functions), _checked_intermediates(intermediates, args)
    )


def _checked_intermediates(
    intermediates: Sequence[tuple[sp.Symbol, sp.Expr]], args: Sequence[sp.Symbol]
) -> tuple[tuple[sp.Symbol, sp.Expr], ...]:
    """The (symbol, expression) pairs as SymPy objects, each symbol a plain name and each
    expression in ``args`` and the symbols defined before it (else the generated code would fail
    when called, or, given text, run it)."""
    known = set(args)
    checked = []
    for pair in intermediates:
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise ConfigurationError(
                f"an intermediate is a (symbol, expression) pair, got {pair!r}"
            )
        symbol, expr = pair
        if not isinstance(symbol, sp.Symbol) or not symbol.name.isidentifier():
            raise ConfigurationError(
                f"an intermediate's name must be a Symbol named like a Python "
                f"variable, got {symbol!r}"
            )
        try:
            expr = sp.sympify(expr, strict=True)
        except sp.SympifyError as exc:
            raise ConfigurationError(
                f"the intermediate {symbol} must be a SymPy expression, got {expr!r}"
            ) from exc
        unknown = expr.free_symbols - known
        if unknown:
            raise ConfigurationError(
                f"the intermediate {symbol} uses {sorted(map(str, unknown))}, neither arguments "
                "nor intermediates defined before it"
            )
        known.add(symbol)
        checked.append((symbol, expr))
    return tuple(checked)


def numpy_elementwise(expr: sp.Expr, arg: sp.Symbol) -> Callable[[np.ndarray], np.ndarray]:
    """``expr`` of one symbol as an elementwise NumPy function (cached lambdify): an output
    that lambdify returns as a bare constant is broadcast to the input's shape."""
    kernel = numpy_kernel([expr], [arg])

    def apply(z: np.ndarray) -> np.ndarray:
        value = kernel(z)[0]
        return np.broadcast_to(value, np.shape(z)) if np.ndim(value) < np.ndim(z) else value

    return apply


def mpmath_kernel(exprs: Sequence[sp.Expr], args: Sequence[sp.Symbol]) -> Callable[..., list]:
    """Lambdify ``exprs`` of ``args`` into an mpmath function returning a list (cached)."""
    return _lambdify(tuple(sp.sympify(e, strict=True) for e in exprs), tuple(args), "mpmath")


def jax_kernel(exprs: Sequence[sp.Expr], args: Sequence[sp.Symbol]) -> Callable[..., list[Any]]:
    """Lambdify ``exprs`` of ``args`` into a JAX function (jax.numpy, jax.scipy.special.erf) that
    traces into jit-compiled code; every output is broadcast to the first argument's shape and
    dtype (constants included). Needs JAX installed (cached)."""
    function = _lambdify(tuple(sp.sympify(e, strict=True) for e in exprs), tuple(args), "jax")

    def broadcast(*values: Any) -> list[Any]:
        import jax.numpy as jnp

        like = jnp.asarray(values[0])
        return [
            jnp.broadcast_to(jnp.asarray(v, dtype=like.dtype), like.shape)
            for v in function(*values)
        ]

    broadcast.__doc__ = function.__doc__
    return broadcast


def broadcast_outputs(values: Sequence[Any], like: np.ndarray) -> list[np.ndarray]:
    """Broadcast each output to ``like``'s shape (lambdify returns bare scalars for constants)."""
    return [np.broadcast_to(np.asarray(v, dtype=float), np.shape(like)) for v in values]
