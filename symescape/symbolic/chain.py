"""The scalar chain of the symmetric ansatz (MATH.md §4), symbolic, and its NumPy kernels.

    z_1 = X_1 s,  z_l = X_l σ(z_{l-1}) (2 ≤ l ≤ L-1),  f(s) = X_L σ(z_{L-1})
    (L ≥ 2; f = X_1 s at L = 1)
    ∂_l f = h_{l-1} · Π_{k=l}^{L-1} X_{k+1} σ'(z_k),   h_0 = s, h_k = σ(z_k).

SymPy builds f and the closed form of ∂_l f; :func:`chain_kernel` lambdifies them once (with
common-subexpression elimination) into one NumPy function of (s, X_1, …, X_L), cached per
(activation, depth).
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


@hashable_cache(maxsize=128)
def chain_kernel(spec: str | sp.Expr | Activation, depth: int) -> ChainKernel:
    """NumPy kernel ``(s, X_1, …, X_L) -> [f, ∂_1 f, …, ∂_L f]`` (broadcasting), built once.

    f(s; X) = X_L σ(X_{L−1} σ(⋯ σ(X_1 s))), ∂_l f its closed-form partials  (MATH.md §4).
    """
    chain = scalar_chain(spec, depth)
    return numpy_kernel([chain.f, *chain.gradient], [S, *chain.X])


@hashable_cache(maxsize=64)
def chain_hessian_kernel(spec: str | sp.Expr | Activation, depth: int) -> ChainKernel:
    """NumPy kernel ``(s, X) -> [∂_l ∂_m f for l ≤ m]`` (row-major upper triangle), built once.

    ∂_l ∂_m f of the scalar chain f(s; X) = X_L σ(⋯ σ(X_1 s))  (MATH.md §4).
    """
    chain = scalar_chain(spec, depth)
    entries = [
        sp.diff(chain.gradient[l], chain.X[m]) for l in range(depth) for m in range(l, depth)
    ]
    return numpy_kernel(entries, [S, *chain.X])
