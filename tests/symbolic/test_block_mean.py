"""The block-mean network's derivatives: generic in σ (σ, σ', σ'' unevaluated) and with the
activation written out must be the same functions."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symescape.codegen import numpy_kernel
from symescape.symbolic.activations import Z, activation
from symescape.symbolic.block_mean import (
    OPAQUE_DERIVATIVES,
    block_mean_kernel,
    block_mean_network,
    generic_block_mean_network,
    sigma_derivatives,
)


def _values(kernel: object, s: np.ndarray, theta: np.ndarray) -> np.ndarray:
    return np.array([np.broadcast_to(v, s.shape[1:]) for v in kernel(*s, *theta)])


@pytest.mark.parametrize("name", ["tanh", "gelu", "sin", "x + x**2/3"])
def test_generic_kernel_equals_the_written_out_network(name: str) -> None:
    depth, modes = 3, 2
    explicit = block_mean_network(name, depth, modes)
    reference = numpy_kernel(
        [explicit.f, *explicit.gradient, *explicit.hessian_upper], [*explicit.s, *explicit.theta]
    )
    rng = np.random.default_rng(3)
    s = rng.standard_normal((modes, 40))
    theta = 0.8 * rng.standard_normal(len(explicit.theta))
    fast = _values(block_mean_kernel(name, depth, modes), s, theta)
    slow = _values(reference, s, theta)
    assert np.abs(fast - slow).max() <= 1e-13 * np.abs(slow).max()


def test_written_out_network_has_no_opaque_function_left() -> None:
    net = block_mean_network("tanh", 3, 2)
    for expr in (net.f, *net.gradient, *net.hessian_upper):
        assert not expr.atoms(*OPAQUE_DERIVATIVES)
    # f itself is the nested composition
    s1, s2 = net.s
    values = dict(zip(net.theta, range(1, 11), strict=True))  # U, Y_2 row-major, then Z
    h1 = (sp.tanh(s1 + 2 * s2), sp.tanh(3 * s1 + 4 * s2))
    h2 = (sp.tanh(5 * h1[0] + 6 * h1[1]), sp.tanh(7 * h1[0] + 8 * h1[1]))
    assert sp.simplify(net.f.subs(values) - (9 * h2[0] + 10 * h2[1])) == 0


def test_generic_gradient_is_the_chain_rule() -> None:
    generic = generic_block_mean_network(2, 1)  # f = Z σ(u), u = U s
    (s,) = generic.s
    U, Zw = generic.theta
    ((u, form),) = generic.preactivations
    assert form == U * s
    sigma, prime, second = OPAQUE_DERIVATIVES
    assert generic.f == Zw * sigma(u)
    assert generic.gradient == (Zw * s * prime(u), sigma(u))
    # upper triangle: (U,U), (U,Z), (Z,Z)
    assert generic.hessian_upper == (Zw * s**2 * second(u), s * prime(u), 0)
    exact = (sp.tanh(Z), 1 - sp.tanh(Z) ** 2, -2 * sp.tanh(Z) * (1 - sp.tanh(Z) ** 2))
    for derived, expected in zip(sigma_derivatives(activation("tanh")), exact, strict=True):
        assert sp.simplify(derived - expected) == 0


def test_written_out_derivatives_match_direct_differentiation() -> None:
    # an independent route: SymPy differentiates the written-out f itself (the pre-change
    # method), against the kernel built from the opaque-σ derivation
    depth, modes = 3, 2
    net = block_mean_network("tanh", depth, modes)
    args = [*net.s, *net.theta]
    direct_gradient = [sp.diff(net.f, p) for p in net.theta]
    pairs = [(i, j) for i in range(len(net.theta)) for j in range(i, len(net.theta))]
    direct_hessian = [sp.diff(direct_gradient[i], net.theta[j]) for i, j in pairs]
    reference = numpy_kernel([net.f, *direct_gradient, *direct_hessian], args)
    rng = np.random.default_rng(5)
    s = rng.standard_normal((modes, 25))
    theta = 0.9 * rng.standard_normal(len(net.theta))
    fast = _values(block_mean_kernel("tanh", depth, modes), s, theta)
    slow = _values(reference, s, theta)
    assert np.abs(fast - slow).max() <= 1e-13 * np.abs(slow).max()


@pytest.mark.parametrize("name", ["relu", "abs(x)"])
def test_a_kinked_activation_is_refused_with_the_reason(name: str) -> None:
    from symescape.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="twice differentiable"):
        block_mean_kernel(name, 3, 2)


@pytest.mark.parametrize(
    "name, error",
    [
        ("log(x)", "NotAnalyticError"),
        ("1/(1 - x)", "GaussianDomainError"),
        ("exp(x**2)", "GaussianDomainError"),
        ("floor(x)", "NotAnalyticError"),
        ("acot(x)", "NotAnalyticError"),
        ("relu", "ConfigurationError"),
    ],
)
def test_the_block_mean_functions_refuse_what_classify_refuses(name: str, error: str) -> None:
    # they returned NaN (log), finite numbers for expectations that do not exist (1/(1-x),
    # exp(x²)), a printer error (floor) or, for the written-out network, DiracDelta terms (relu)
    from symescape import errors
    from symescape.symbolic.block_mean import block_mean_field_and_jacobian

    nodes, weights, target = np.full((5, 2), 0.5), np.full(5, 0.2), np.zeros(5)
    for build in (
        lambda: block_mean_network(name, 3, 2),
        lambda: block_mean_field_and_jacobian(name, 3, nodes, weights, target),
    ):
        with pytest.raises(getattr(errors, error)):
            build()


def test_the_block_mean_functions_check_their_arrays_and_sizes() -> None:
    from symescape.errors import ConfigurationError
    from symescape.symbolic.block_mean import block_mean_field_and_jacobian

    nodes, weights, target = np.full((5, 2), 0.5), np.full(5, 0.2), np.zeros(5)
    bad_calls = {
        "must be an integer": lambda: block_mean_network("tanh", 2.5, 2),
        "must be ≥ 2": lambda: block_mean_network("tanh", 1, 2),
        "give a name": lambda: block_mean_network(["tanh"], 3, 2),
        "shape": lambda: block_mean_field_and_jacobian("tanh", 3, np.zeros(3), weights, target),
        "one value per node": lambda: block_mean_field_and_jacobian(
            "tanh", 3, nodes, weights[:4], target
        ),
        "weights must be real numbers": lambda: block_mean_field_and_jacobian(
            "tanh", 3, nodes, None, target
        ),
        "nodes must be finite": lambda: block_mean_field_and_jacobian(
            "tanh", 3, np.full((5, 2), np.nan), weights, target
        ),
    }
    for match, call in bad_calls.items():
        with pytest.raises(ConfigurationError, match=match):
            call()
    evaluate = block_mean_field_and_jacobian("tanh", 3, nodes, weights, target)
    size = 2 * 2 * 2 + 2
    with pytest.raises(ConfigurationError, match="θ must be real"):
        evaluate(np.full(size, 0.1 + 0.1j))
    with pytest.raises(ConfigurationError, match="θ must be finite"):
        evaluate(np.full(size, np.nan))
    assert block_mean_network("tanh", 3.0, 2).depth == 3  # an integral float is that integer
