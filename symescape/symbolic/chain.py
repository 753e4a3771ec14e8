"""The scalar chain of the symmetric ansatz (MATH.md §4), symbolic, and its NumPy kernels.

    z_1 = X_1 s,  z_l = X_l σ(z_{l-1}) (2 ≤ l ≤ L-1),  f(s) = X_L σ(z_{L-1})
    (L ≥ 2; f = X_1 s at L = 1)
    ∂_l f = h_{l-1} · Π_{k=l}^{L-1} X_{k+1} σ'(z_k),   h_0 = s, h_k = σ(z_k).

SymPy builds f and the closed form of ∂_l f written out (:func:`scalar_chain`: the derivations
and the tests' reference), and the same chain as straight-line code in named steps
(:func:`chain_program`), which :func:`chain_kernel` and :func:`chain_hessian_kernel` lambdify
once into NumPy functions of (s, X_1, …, X_L), cached per (activation, depth).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symescape.codegen import numpy_kernel
from symescape.options import hashable_cache, validate_chain_depth
from symescape.symbolic.activations import Activation, Z, activation
from symescape.symbolic.moments import S


def chain_symbols(depth: int) -> tuple[sp.Symbol, ...]:
    """(X_1, …, X_L), real symbols."""
    return tuple(sp.Symbol(f"X_{l}", real=True) for l in range(1, validate_chain_depth(depth) + 1))


@dataclass(frozen=True)
class ScalarChain:
    """f(s; X) and ∂_l f (closed form) for one activation and depth; ``pre[k-1] = z_k``,
    ``post[k] = h_k`` (``post[0] = s``).

    z_1 = X_1 s, z_l = X_l σ(z_{l-1}), f = X_L σ(z_{L-1}); ∂_l f = h_{l-1} Π_{k=l}^{L-1}
        X_{k+1} σ'(z_k)  (MATH.md §4).
    """

    activation: Activation
    depth: int
    X: tuple[sp.Symbol, ...]
    pre: tuple[sp.Expr, ...]
    post: tuple[sp.Expr, ...]
    f: sp.Expr
    gradient: tuple[sp.Expr, ...]


@hashable_cache(maxsize=128)
def scalar_chain(spec: str | sp.Expr | Activation, depth: int) -> ScalarChain:
    """Build the chain and the closed form of ∂_l f (MATH.md §4)."""
    act = activation(spec)
    X = chain_symbols(depth)
    sigma = sp.Lambda(Z, act.expr)
    dsigma = sp.Lambda(Z, sp.diff(act.expr, Z))
    pre, post = [], [S]
    h = S
    for l in range(depth - 1):  # z_1 .. z_{L-1}
        z = X[l] * h
        pre.append(z)
        h = sigma(z)
        post.append(h)
    f = X[-1] * h
    gradient = []
    for l in range(1, depth + 1):
        term = post[l - 1]
        for k in range(l, depth):  # Π_{k=l}^{L-1} X_{k+1} σ'(z_k)
            term = term * X[k] * dsigma(pre[k - 1])
        gradient.append(term)
    return ScalarChain(act, depth, X, tuple(pre), tuple(post), f, tuple(gradient))


ChainKernel = Callable[..., list[np.ndarray]]


@dataclass(frozen=True)
class ChainProgram:
    """The chain as straight-line code in named intermediates, for the kernels: written out,
    f and ∂_l f nest σ L − 1 deep, and a σ with z in two places (gelu, z·Φ(z)) doubles in size
    per layer (gelu at L = 20: lambdify ran for minutes); here each step is one assignment.

        z_1 = X_1 s, h_k = σ(z_k), d_k = σ'(z_k), e_k = σ''(z_k), z_{k+1} = X_{k+1} h_k;
        B_L = 1, B_l = X_{l+1} d_l B_{l+1};  ∂_l f = h_{l-1} B_l  (MATH.md §4);
        s_{k,m} = ∂z_k/∂X_m: s_{m,m} = h_{m-1}, s_{k,m} = X_k d_{k-1} s_{k-1,m} (k > m);
        ∂_m B_l = [m = l+1] d_l B_{l+1} + X_{l+1} (e_l s_{l,m} B_{l+1} + d_l ∂_m B_{l+1})
            (s_{l,m} = 0 for l < m, ∂_m B_L = 0);  ∂_m ∂_l f = h_{l-1} ∂_m B_l  (l ≤ m).
    """

    intermediates: tuple[tuple[sp.Symbol, sp.Expr], ...]
    f: sp.Expr
    gradient: tuple[sp.Expr, ...]
    hessian: tuple[sp.Expr, ...]  # ∂_l ∂_m f for l ≤ m, row-major upper triangle


@hashable_cache(maxsize=128)
def chain_program(
    spec: str | sp.Expr | Activation, depth: int, second: bool = False
) -> ChainProgram:
    """The straight-line form of the chain (see :class:`ChainProgram`); ``second`` adds σ'' and
    the sensitivities the Hessian needs (``hessian`` is empty without it)."""
    act = activation(spec)
    X = chain_symbols(depth)
    derivative = sp.diff(act.expr, Z)
    steps: list[tuple[sp.Symbol, sp.Expr]] = []

    def name(label: str, expr: sp.Expr) -> sp.Expr:
        if expr.is_Atom:  # s, a constant: nothing to assign
            return expr
        symbol = sp.Symbol(f"chain_{label}", real=True)
        steps.append((symbol, expr))
        return symbol

    h, d, e, z = {0: S}, {}, {}, {}
    for k in range(1, depth):  # z_1 … z_{L-1}
        z[k] = name(f"z{k}", X[k - 1] * h[k - 1])
        h[k] = name(f"h{k}", act.expr.xreplace({Z: z[k]}))
        d[k] = name(f"d{k}", derivative.xreplace({Z: z[k]}))
        if second:
            e[k] = name(f"e{k}", sp.diff(derivative, Z).xreplace({Z: z[k]}))
    f = X[-1] * h[depth - 1]
    B = {depth: sp.Integer(1)}
    for l in range(depth - 1, 0, -1):
        B[l] = name(f"B{l}", X[l] * d[l] * B[l + 1])
    gradient = tuple(h[l - 1] * B[l] for l in range(1, depth + 1))
    hessian: list[sp.Expr] = []
    if second:
        sensitivity: dict[tuple[int, int], sp.Expr] = {}
        for m in range(1, depth):
            sensitivity[m, m] = h[m - 1]
            for k in range(m + 1, depth):
                sensitivity[k, m] = name(f"s{k}_{m}", X[k - 1] * d[k - 1] * sensitivity[k - 1, m])
        dB: dict[tuple[int, int], sp.Expr] = {}
        for m in range(1, depth + 1):
            dB[depth, m] = sp.Integer(0)
            for l in range(depth - 1, 0, -1):
                explicit = d[l] * B[l + 1] if m == l + 1 else sp.Integer(0)
                through_z = e[l] * sensitivity[l, m] * B[l + 1] if l >= m else sp.Integer(0)
                dB[l, m] = name(f"dB{l}_{m}", explicit + X[l] * (through_z + d[l] * dB[l + 1, m]))
        hessian = [h[l - 1] * dB[l, m] for l in range(1, depth + 1) for m in range(l, depth + 1)]
    return ChainProgram(tuple(steps), f, gradient, tuple(hessian))


@hashable_cache(maxsize=128)
def chain_kernel(spec: str | sp.Expr | Activation, depth: int) -> ChainKernel:
    """NumPy kernel ``(s, X_1, …, X_L) -> [f, ∂_1 f, …, ∂_L f]`` (broadcasting), built once from
    the straight-line :func:`chain_program`.

    f(s; X) = X_L σ(X_{L−1} σ(⋯ σ(X_1 s))), ∂_l f its closed-form partials  (MATH.md §4).
    """
    program = chain_program(spec, depth)
    return numpy_kernel(
        [program.f, *program.gradient],
        [S, *chain_symbols(depth)],
        intermediates=program.intermediates,
    )


@hashable_cache(maxsize=64)
def chain_hessian_kernel(spec: str | sp.Expr | Activation, depth: int) -> ChainKernel:
    """NumPy kernel ``(s, X) -> [∂_l ∂_m f for l ≤ m]`` (row-major upper triangle), built once
    from the straight-line :func:`chain_program`.

    ∂_l ∂_m f of the scalar chain f(s; X) = X_L σ(⋯ σ(X_1 s))  (MATH.md §4).
    """
    program = chain_program(spec, depth, second=True)
    return numpy_kernel(
        list(program.hessian), [S, *chain_symbols(depth)], intermediates=program.intermediates
    )
