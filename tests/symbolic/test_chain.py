"""The scalar chain (issue 4): closed-form ∂_l f vs sympy.diff, kernels, filtered composition."""

import mpmath
import numpy as np
import pytest
import sympy as sp

from symescape.codegen import numpy_kernel
from symescape.symbolic.chain import (
    chain_hessian_kernel,
    chain_kernel,
    chain_program,
    chain_symbols,
    scalar_chain,
)
from symescape.symbolic.filtered import (
    chain_monomials,
    check_degree_bounds,
    field_polynomial,
    lowest_degree,
)
from symescape.symbolic.moments import S


@pytest.mark.parametrize("activation_spec", ["tanh", "gelu", "x + x**2/3 - x**3", "sigmoid"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_closed_form_gradient_equals_sympy_diff(activation_spec, depth):
    chain = scalar_chain(activation_spec, depth)
    rng = np.random.default_rng(depth)
    symbols = [S, *chain.X]
    for l, closed in enumerate(chain.gradient):
        gap = sp.lambdify(symbols, closed - sp.diff(chain.f, chain.X[l]), modules="mpmath")
        scale = sp.lambdify(symbols, closed, modules="mpmath")
        with mpmath.workdps(40):
            for _ in range(3):
                point = [
                    mpmath.mpf(rng.normal()),
                    *(mpmath.mpf(rng.uniform(-1.5, 1.5)) for _ in chain.X),
                ]
                assert abs(gap(*point)) <= mpmath.mpf(10) ** -30 * max(1, abs(scale(*point)))


def test_kernel_matches_symbolic_values():
    chain = scalar_chain("gelu", 4)
    kernel = chain_kernel("gelu", 4)
    s = np.array([-1.3, 0.2, 2.1])
    X = [0.7, -0.4, 1.1, 0.5]
    values = kernel(s, *X)
    for index, expr in enumerate([chain.f, *chain.gradient]):
        for i, si in enumerate(s):
            exact = float(expr.evalf(30, subs={S: si, **dict(zip(chain.X, X, strict=True))}))
            value = np.broadcast_to(values[index], s.shape)[i]
            assert abs(value - exact) <= 1e-14 * max(1, abs(exact))


@pytest.mark.parametrize("activation_spec", ["tanh", "gelu", "sin", "x + x**2/3", "swish"])
@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_straight_line_kernels_equal_the_written_out_chain(activation_spec, depth):
    # the kernels run the straight-line ChainProgram (named z_k, h_k, σ'(z_k), B_l, ∂z_k/∂X_m);
    # the reference is the written-out f, its closed-form ∂_l f and SymPy's diff of those
    chain = scalar_chain(activation_spec, depth)
    symbols = [S, *chain.X]
    hessian = [
        sp.diff(chain.gradient[l], chain.X[m]) for l in range(depth) for m in range(l, depth)
    ]
    reference = numpy_kernel([chain.f, *chain.gradient, *hessian], symbols)
    rng = np.random.default_rng(depth)
    s = rng.normal(size=9)
    X = rng.uniform(-1.3, 1.3, size=depth)
    expected = [np.broadcast_to(v, s.shape) for v in reference(s, *X)]
    found = [
        np.broadcast_to(v, s.shape)
        for v in [
            *chain_kernel(activation_spec, depth)(s, *X),
            *chain_hessian_kernel(activation_spec, depth)(s, *X),
        ]
    ]
    assert len(found) == len(expected)
    for a, b in zip(found, expected, strict=True):
        assert np.max(np.abs(a - b)) <= 1e-14 * max(1.0, float(np.max(np.abs(b))))


def test_the_straight_line_chain_grows_linearly_with_depth():
    # written out, gelu's chain doubles per layer (z appears twice in z·Φ(z)): lambdify of the
    # depth-20 kernel ran for minutes; in named steps each layer adds the same few operations
    def operations(depth, second):
        program = chain_program("gelu", depth, second)
        return sum(sp.count_ops(e) for _, e in program.intermediates) + sum(
            sp.count_ops(e) for e in (program.f, *program.gradient)
        )

    first = [operations(L, False) for L in (10, 20, 40)]
    assert first[2] - first[1] == 2 * (first[1] - first[0])  # exactly linear in L
    second = [operations(L, True) for L in (10, 20)]
    assert second[1] < 5 * second[0]  # O(L²) sensitivities, not 2^L


def test_depth_one_chain_is_linear():
    chain = scalar_chain("tanh", 1)
    assert chain.f == chain.X[0] * S and chain.gradient == (S,)


@pytest.mark.parametrize(
    "activation_spec, depth", [("tanh", 2), ("tanh", 3), ("gelu", 2), ("gelu", 3), ("sigmoid", 3)]
)
def test_filtered_composition_degree_bounds(activation_spec, depth):
    assert check_degree_bounds(activation_spec, depth, depth + 5) == []
    monomials = chain_monomials(activation_spec, depth, depth + 5)
    linear = [m for m in monomials if m.first_insertion is None]
    assert len(linear) == 1 and linear[0].degree == depth and linear[0].powers == (1,) * depth
    assert linear[0].s_power == 1


@pytest.mark.slow
@pytest.mark.parametrize("activation_spec", ["tanh", "gelu"])
def test_filtered_composition_degree_bounds_depth_four(activation_spec):
    assert check_degree_bounds(activation_spec, 4, 9) == []


@pytest.mark.parametrize("activation_spec, depth, q", [("tanh", 3, 3), ("gelu", 3, 2)])
def test_drift_orders_symbolic(activation_spec, depth, q):
    # MATH.md §5: d/dt(X_l² - X_{l+1}²) starts at degree L + l(q-1).
    F = field_polynomial(activation_spec, depth, depth + 2 * (q - 1) + 1)
    X = chain_symbols(depth)
    for l in range(1, depth):
        drift = X[l - 1] * F[l - 1] - X[l] * F[l]
        assert lowest_degree(drift, X) == depth + l * (q - 1)
    # The leading field is K P / X_l: degree L - 1.
    assert all(lowest_degree(f, X) == depth - 1 for f in F)
