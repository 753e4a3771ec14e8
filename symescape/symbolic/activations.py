"""Activations: the registry of named activations and parsing of user expressions.

An :class:`Activation` is a name and a SymPy expression in the canonical real variable
:data:`Z`. Strings are converted here, at the boundary, and never passed further in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import sympy as sp
from sympy.core.function import AppliedUndef

from symescape.errors import ActivationError, NotRealFunctionError, UnknownActivationError
from symescape.symbolic.branches import resolve_fixed_branches
from symescape.symbolic.parsing import (
    CONSTANTS,
    FUNCTIONS,
    NAMED_FUNCTIONS,
    VARIADIC_FUNCTIONS,
    check_expression_limits,
    parse_expression,
)

Z = sp.Symbol("z", real=True)
"""The canonical variable of every activation expression."""


REGISTRY: Mapping[str, sp.Expr] = MappingProxyType(
    {
        "linear": Z,
        "tanh": sp.tanh(Z),
        "erf": sp.erf(Z),
        "sin": sp.sin(Z),
        "atan": sp.atan(Z),
        "gelu": NAMED_FUNCTIONS["gelu"](Z),
        "swish": NAMED_FUNCTIONS["swish"](Z),
        "silu": NAMED_FUNCTIONS["swish"](Z),
        "sigmoid": NAMED_FUNCTIONS["sigmoid"](Z),
        "softplus": NAMED_FUNCTIONS["softplus"](Z),
        "relu": NAMED_FUNCTIONS["relu"](Z),
        "leaky_relu": NAMED_FUNCTIONS["leaky_relu"](Z),
    }
)
"""Named activations. ``silu`` is an alias of ``swish``; ``leaky_relu`` has slope 1/100."""


@dataclass(frozen=True)
class Activation:
    """A scalar activation σ(z): a display name and a SymPy expression in :data:`Z`.

    σ: ℝ → ℝ, analytic at 0 or piecewise linear, σ(z) = Σ_k c_k z^k near 0 (MATH.md §0, §3).

    Build one with :func:`activation`, which validates its input.

    >>> activation("tanh").expr
    tanh(z)
    """

    name: str
    expr: sp.Expr

    def __str__(self) -> str:
        return self.name

    @property
    def is_registry(self) -> bool:
        return self.name in REGISTRY


ActivationSpec = str | sp.Expr | Activation
"""What the public entry points accept for an activation: a registry name, an expression string
(parsed, never evaluated) or a SymPy expression, or an :class:`Activation` already built."""


def known_activations() -> tuple[str, ...]:
    """The registry's names, sorted.

    Every name is an activation σ of MATH.md §0; its class follows §3.
    """
    return tuple(sorted(REGISTRY))


def activation(spec: str | sp.Expr | Activation) -> Activation:
    """Turn a registry name, an expression string or a SymPy expression into an :class:`Activation`.

    The activation σ of z_{l+1} = W_{l+1} σ(z_l) (MATH.md §0).

    Arguments:
        spec: ``"tanh"``; ``"x*tanh(log(1+exp(x)))"`` (any one variable name; ``sigmoid``,
            ``gelu``, ``swish``, ``softplus``, ``relu`` may be used inside); or a SymPy expression
            in one symbol.

    Raises:
        UnknownActivationError: a bare identifier that is not in the registry.
        ActivationError: unparsable text, more than one free symbol, an undefined function.
        NotRealFunctionError: the expression contains the imaginary unit.
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        text = spec.strip()
        if text in REGISTRY:
            return Activation(text, REGISTRY[text])
        # A bare one-argument function of the grammar ('sinh', 'exp') is that function of x.
        if text in FUNCTIONS and text not in VARIADIC_FUNCTIONS:
            return Activation(text, _canonical(parse_expression(f"{text}(x)"), text))
        # A bare multi-letter word is meant as a registry name; a single letter is a variable,
        # and a constant of the grammar (pi) is an expression.
        if text.isidentifier() and len(text) > 1 and text not in CONSTANTS:
            raise UnknownActivationError(
                f"unknown activation {text!r}; known names: {', '.join(known_activations())}, "
                "any one-argument function of the expression grammar (sinh, exp, ...), or an "
                "expression in one variable such as 'x*tanh(x)'"
            )
        expr = parse_expression(text)
        name = text
    elif isinstance(spec, sp.Basic):
        expr = spec
        name = str(spec)
    else:
        raise ActivationError(
            f"an activation must be a name, an expression string or a SymPy expression; "
            f"got {spec!r} of type {type(spec).__name__}"
        )
    return Activation(name, _canonical(expr, name))


def _canonical(expr: sp.Basic, name: str) -> sp.Expr:
    if not isinstance(expr, sp.Expr) or isinstance(expr, sp.MatrixBase):
        raise ActivationError(
            f"activation {name!r} is not a scalar expression (got {type(expr).__name__})"
        )
    check_expression_limits(expr, name)
    undefined = expr.atoms(AppliedUndef)
    if undefined:
        raise ActivationError(
            f"activation {name!r} uses undefined functions {sorted(map(str, undefined))}; "
            f"use SymPy functions or one of {', '.join(NAMED_FUNCTIONS)}"
        )
    symbols = expr.free_symbols
    if len(symbols) > 1:
        raise ActivationError(
            f"activation {name!r} has {len(symbols)} free symbols {sorted(map(str, symbols))}; "
            "an activation is a function of exactly one variable"
        )
    if expr.has(sp.I):
        raise NotRealFunctionError(
            f"activation {name!r} contains the imaginary unit; it must be real-valued on the reals"
        )
    if symbols:
        (symbol,) = symbols
        expr = expr.xreplace({symbol: Z})
    return resolve_fixed_branches(expr, Z)
