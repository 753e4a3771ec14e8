"""The block-mean reduced network, symbolic (MATH.md §9), and its analytic field and Jacobian.

On the block-mean manifold the network is a width-M network on the mode coordinates
s = (v_1·x, …, v_M·x) (:func:`symescape.multimode.block_mean_reduce`):

    z_1 = U s,  z_l = Y_l σ(z_{l-1}) (2 ≤ l ≤ L-1),  f(s; θ) = Z σ(z_{L-1}),

θ = (U, Y_2, …, Y_{L-1}, Z) flattened row-major layer by layer. SymPy builds f, its gradient
∇_θ f and its Hessian ∇²_θ f (upper triangle) once per (depth, M) with σ unevaluated (σ, σ', σ''
of the pre-activations), and lambdifies them once per (activation, depth, M).
With the teacher y(s) = Σ_k a_k σ(s_k) and E over s ~ N(0, I_M),

    F(θ) = E[(y − f) ∇_θ f],     ∂F/∂θ = E[−∇_θ f ∇_θ fᵀ + (y − f) ∇²_θ f],

the block-mean reduced flow dθ/dt = F(θ) and its Jacobian, analytic in θ. Expectations by a
weighted node set (tensor Gauss–Hermite in :mod:`symescape.multimode`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from symescape.codegen import broadcast_outputs, numpy_elementwise, numpy_kernel
from symescape.errors import ConfigurationError
from symescape.options import hashable_cache, require_int, require_real_array
from symescape.symbolic.activations import Activation, Z, activation
from symescape.symbolic.classification import ActivationClass, classify


def block_mean_shapes(depth: int, modes: int) -> tuple[tuple[int, int], ...]:
    """Shapes of (U, Y_2, …, Y_{L-1}, Z)."""
    depth = require_int(depth, "the block-mean network's depth L", minimum=2)
    modes = require_int(modes, "the block-mean network's number of modes M", minimum=1)
    return ((modes, modes),) * (depth - 1) + ((1, modes),)


@dataclass(frozen=True)
class BlockMeanNetwork:
    """f(s; θ) of the width-M network, its gradient and Hessian (upper triangle, row-major).

    Block-mean manifold (MATH.md §9): f(s; θ) with s = (v_1·x, …, v_M·x), F = E[(y − f)∇f].
    ``activation`` None: the generic network, σ, σ', σ'' unevaluated
    (:data:`OPAQUE_DERIVATIVES`), the structure shared by every activation at (L, M); its
    expressions are in the pre-activation symbols u_{l,i}, defined in order by
    ``preactivations`` (empty for a written-out network, whose expressions are in s and θ).
    """

    activation: Activation | None
    depth: int
    modes: int
    s: tuple[sp.Symbol, ...]
    theta: tuple[sp.Symbol, ...]
    f: sp.Expr
    gradient: tuple[sp.Expr, ...]
    hessian_upper: tuple[sp.Expr, ...]
    preactivations: tuple[tuple[sp.Symbol, sp.Expr], ...] = ()


class OpaqueSigma(sp.Function):
    """σ(u) left unevaluated: differentiating gives :class:`OpaqueSigmaPrime` (σ'(u)) instead of
    the activation's derivative, so ∇f and ∇²f of the nested network stay products of σ, σ',
    σ'' at the pre-activations (their size then grows with |θ|², not with the activation's
    expression swell under the chain rule)."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return OpaqueSigmaPrime(self.args[0])


class OpaqueSigmaPrime(sp.Function):
    """σ'(u), unevaluated; its derivative is :class:`OpaqueSigmaSecond`."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return OpaqueSigmaSecond(self.args[0])


class OpaqueSigmaSecond(sp.Function):
    """σ''(u), unevaluated (the Hessian needs no higher derivative)."""


OPAQUE_DERIVATIVES = (OpaqueSigma, OpaqueSigmaPrime, OpaqueSigmaSecond)
"""σ, σ', σ'' as unevaluated functions, in order of the derivative."""


def generic_block_mean_network(depth: int, modes: int) -> BlockMeanNetwork:
    """Build f, ∇_θ f and ∇²_θ f symbolically with σ unevaluated (MATH.md §9), by the chain rule
    through named pre-activations u_l = z_l:

        u_1 = U s,  u_l = Y_l σ(u_{l-1}),  f = Z σ(u_{L-1}),

        d/dθ_b = ∂/∂θ_b + Σ_{l,i} (∂/∂u_{l,i}) du_{l,i}/dθ_b,

    with du_{l,i}/dθ_b built layer by layer (forward mode). f, ∇f and ∇²f are then expressions
    in s, θ and σ, σ', σ'' of the u's; ``preactivations`` gives each u_{l,i} in terms of s, θ
    and the u's of the layer below. Differentiating the nested composition itself instead took
    3.5 s at L = 4, M = 3 (|θ| = 30)."""
    shapes = block_mean_shapes(depth, modes)
    return _generic_block_mean_network(len(shapes), shapes[0][0])


@lru_cache(maxsize=16)
def _generic_block_mean_network(depth: int, modes: int) -> BlockMeanNetwork:
    """:func:`generic_block_mean_network` for checked integers (L, M), cached."""
    shapes = block_mean_shapes(depth, modes)
    s = sp.symbols(f"s_1:{modes + 1}", real=True)
    layers = [
        sp.Matrix(rows, cols, lambda i, j, n=n: sp.Symbol(f"W{n + 1}_{i}{j}", real=True))
        for n, (rows, cols) in enumerate(shapes)
    ]
    theta = tuple(x for W in layers for x in W)
    definitions: list[tuple[sp.Symbol, sp.Expr]] = []
    sensitivities: dict[sp.Symbol, tuple[sp.Expr, ...]] = {}  # u ↦ (du/dθ_b)_b

    def totals(expr: sp.Expr, indices: range) -> tuple[sp.Expr, ...]:
        """d expr / dθ_b for b in ``indices``, through the pre-activations expr depends on; the
        partials ∂expr/∂u are taken once for all b (the Hessian's rows: 1.7 → 1.3 s at L = 4,
        M = 3, the same expressions)."""
        partials = [
            (sp.diff(expr, u), sensitivities[u]) for u in expr.free_symbols if u in sensitivities
        ]
        return tuple(
            sp.diff(expr, theta[b]) + sp.Add(*(d * sens[b] for d, sens in partials))
            for b in indices
        )

    h = sp.Matrix(s)
    for n, W in enumerate(layers[:-1]):
        z = W * h
        u = [sp.Symbol(f"u{n + 1}_{i}", real=True) for i in range(modes)]
        for symbol, form in zip(u, z, strict=True):
            sensitivities[symbol] = totals(form, range(len(theta)))
            definitions.append((symbol, form))
        h = sp.Matrix(u).applyfunc(OpaqueSigma)
    f = (layers[-1] * h)[0]
    gradient = totals(f, range(len(theta)))
    hessian = tuple(
        entry for i in range(len(theta)) for entry in totals(gradient[i], range(i, len(theta)))
    )
    return BlockMeanNetwork(None, depth, modes, s, theta, f, gradient, hessian, tuple(definitions))


def sigma_derivatives(act: Activation) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """σ, σ', σ'' of the activation as expressions in z (exact, SymPy)."""
    first = sp.diff(act.expr, Z)
    return act.expr, first, sp.diff(first, Z)


def smooth_activation(spec: str | sp.Expr | Activation) -> Activation:
    """The activation, if the block-mean flow and its Jacobian exist for it: what
    :func:`~symescape.symbolic.classification.classify` accepts (analytic at 0, real, finite on
    ℝ, Gaussian moments: ``log(x)``, ``1/(1-x)``, ``exp(x**2)``, ``floor(x)``, ``acot(x)`` are
    refused there) and twice differentiable (a piecewise-linear σ is not: its σ'' is a Dirac
    comb).

    Raises:
        ActivationError (NotAnalyticError, GaussianDomainError, ...): as ``classify``.
        ConfigurationError: a piecewise-linear σ (relu, abs).
    """
    act = activation(spec)
    if classify(act).activation_class is ActivationClass.PIECEWISE_LINEAR:
        raise ConfigurationError(
            f"the block-mean Jacobian needs σ twice differentiable; σ = {act.expr} is "
            "piecewise-linear (a kink, σ'' a Dirac delta): use a smooth activation"
        )
    return act


@hashable_cache(maxsize=16)
def block_mean_network(
    spec: str | sp.Expr | Activation, depth: int, modes: int
) -> BlockMeanNetwork:
    """f, ∇_θ f and ∇²_θ f with the activation written out (MATH.md §9):

        f(s; θ) = Z σ(Y_{L-1} σ(… σ(U s))),

    the generic network (:func:`generic_block_mean_network`) with σ, σ', σ'' replaced by the
    activation's exact expressions and the pre-activations by their nested forms. The
    activation must pass :func:`smooth_activation`."""
    act = smooth_activation(spec)
    generic = generic_block_mean_network(depth, modes)
    forms = dict(zip(OPAQUE_DERIVATIVES, sigma_derivatives(act), strict=True))
    nested: dict[sp.Symbol, sp.Expr] = {}  # u_{l,i} ↦ its form in s and θ alone
    for symbol, form in generic.preactivations:
        nested[symbol] = form.xreplace(nested)

    def explicit(expr: sp.Expr) -> sp.Expr:
        return expr.xreplace(nested).replace(
            lambda e: type(e) in forms, lambda e: forms[type(e)].subs(Z, e.args[0])
        )

    return BlockMeanNetwork(
        act,
        generic.depth,
        generic.modes,
        generic.s,
        generic.theta,
        explicit(generic.f),
        tuple(map(explicit, generic.gradient)),
        tuple(map(explicit, generic.hessian_upper)),
    )


FieldKernel = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@hashable_cache(maxsize=16)
def block_mean_kernel(spec: str | sp.Expr | Activation, depth: int, modes: int) -> Callable:
    """(s_1, …, s_M, θ) ↦ [f, ∇_θ f, ∇²_θ f (upper triangle)] as NumPy values (MATH.md §9,
    f(s; θ) = Z σ(Y_{L-1} σ(… σ(U s)))): the generic expressions
    (:func:`generic_block_mean_network`, derived once per (L, M)) lambdified once per
    activation, with σ, σ', σ'' bound to NumPy kernels of the activation's exact expressions
    (cached). The activation must pass :func:`smooth_activation`."""
    act = smooth_activation(spec)
    derivatives = sigma_derivatives(act)
    net = generic_block_mean_network(depth, modes)
    functions = tuple(
        (opaque.__name__, numpy_elementwise(expr, Z))
        for opaque, expr in zip(OPAQUE_DERIVATIVES, derivatives, strict=True)
    )
    return numpy_kernel(
        [net.f, *net.gradient, *net.hessian_upper],
        [*net.s, *net.theta],
        functions,
        net.preactivations,
    )


def block_mean_field_and_jacobian(
    spec: str | sp.Expr | Activation,
    depth: int,
    nodes: np.ndarray,
    weights: np.ndarray,
    target: np.ndarray,
) -> FieldKernel:
    """θ ↦ (F(θ), ∂F/∂θ) on the weighted node set ``nodes`` (P, M) with teacher values ``target``.

    F(θ) = E[(y − f)∇_θ f],  ∂F/∂θ = E[−∇f∇fᵀ + (y − f)∇²f]  (MATH.md §9).

    The NumPy kernel is lambdified once per (activation, depth, M) and cached.
    """
    nodes = require_real_array(nodes, "nodes")
    if nodes.ndim != 2 or nodes.shape[0] < 1 or nodes.shape[1] < 1:
        raise ConfigurationError(
            f"nodes must be a (P, M) array of points s = (s_1, …, s_M), got shape {nodes.shape}"
        )
    points, modes = nodes.shape
    weights = require_real_array(weights, "weights")
    target = require_real_array(target, "target")
    for name, array in (("weights", weights), ("target", target)):
        if array.shape != (points,):
            raise ConfigurationError(
                f"{name} must have one value per node, shape ({points},); got {array.shape}"
            )
    kernel = block_mean_kernel(spec, depth, modes)
    size = sum(r * c for r, c in block_mean_shapes(depth, modes))
    upper = np.triu_indices(size)
    columns = [nodes[:, k] for k in range(modes)]

    def evaluate(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = require_real_array(theta, "θ")
        if theta.shape != (size,):
            raise ConfigurationError(f"θ must have {size} entries, got shape {theta.shape}")
        values = kernel(*columns, *theta)
        f, *gradient = broadcast_outputs(values[: 1 + size], columns[0])
        grad = np.array(gradient)  # (|θ|, P)
        residual = weights * (target - f)
        field = grad @ residual
        # E[(y − f) ∇²f] entry by entry from the upper triangle: the (|θ|, |θ|, P) Hessian is
        # never formed (it was 30 MB per call at L = 4, M = 3, 16³ nodes, and allocating it
        # cost more than the kernel); a constant entry c contributes c·Σ residual
        total = residual.sum()
        curvature = np.empty((size, size))
        curvature[upper] = [
            np.dot(v, residual) if np.ndim(v) else float(v) * total for v in values[1 + size :]
        ]
        curvature[upper[1], upper[0]] = curvature[upper]
        jacobian = -(grad * weights) @ grad.T + curvature
        return field, jacobian

    return evaluate

