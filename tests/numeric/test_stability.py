"""Schur–Perron (issue 6, Proposition 24), by hypothesis on random Metzler block matrices."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from symescape import ConfigurationError
from symescape.numeric.stability import saddle_blocks, schur_perron

positive = st.floats(min_value=0.05, max_value=3.0)
# Couplings are 0 or resolvable: an entry like 1e-147 makes M irreducible while the eigenvector
# component it creates lies below double round-off (a floating-point limit, not the theorem's).
nonnegative = st.one_of(st.just(0.0), st.floats(min_value=1e-3, max_value=3.0))


@st.composite
def blocks(draw):
    n, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    A = draw(arrays(float, n, elements=positive))
    D = draw(arrays(float, m, elements=positive))
    B = draw(arrays(float, (n, m), elements=nonnegative))
    C = draw(arrays(float, (m, n), elements=nonnegative))
    return A, B, C, D


def _check_against_eigenvalues(A, B, C, D, result, positive: float, atol: float):
    """A real positive eigenvalue (above ``positive``) exists iff the loop gain exceeds 1; it is
    the spectral abscissa of the Metzler matrix, with a non-negative eigenvector. Returns the
    spectrum."""
    M = np.block([[-np.diag(A), B], [C, -np.diag(D)]])
    values = np.linalg.eigvals(M)
    # LAPACK's eigenvalues are off by ~√ε at a defective eigenvalue (a Jordan block of √2 − 1
    # came out as 0.41421355 and 0.41421358): the spectrum is compared to that accuracy, and
    # λ itself is pinned by the residual of M − λI, which has no such loss.
    sqrt_eps = 1e-7
    real_positive = [v.real for v in values if abs(v.imag) < sqrt_eps and v.real > positive]
    assert bool(real_positive) == (result.loop_gain > 1)
    if result.unstable:
        scale = max(1.0, np.abs(M).max())
        residual = np.linalg.svd(M - result.eigenvalue * np.eye(len(M)), compute_uv=False)[-1]
        assert residual <= 1e-10 * scale
        assert abs(result.eigenvalue - values.real.max()) <= sqrt_eps * max(1, result.eigenvalue)
        assert np.all(result.eigenvector >= -1e-12)
        assert np.allclose(
            M @ result.eigenvector, result.eigenvalue * result.eigenvector, atol=atol
        )
    return values


@settings(max_examples=300)
@given(blocks())
def test_positive_eigenvalue_iff_loop_gain_exceeds_one(parts):
    A, B, C, D = parts
    result = schur_perron(A, B, C, D)
    assume(abs(result.loop_gain - 1) > 1e-6)
    values = _check_against_eigenvalues(A, B, C, D, result, positive=1e-9, atol=1e-9)
    if result.unstable and result.irreducible:
        assert np.all(result.eigenvector > 0)
        assert np.sum(np.abs(values - result.eigenvalue) < 1e-7) == 1  # simple


def test_known_two_by_two():
    # [[-1, 2], [2, -1]]: loop gain 4, eigenvalue 1 with eigenvector (1, 1)/√2.
    result = schur_perron([1.0], [[2.0]], [[2.0]], [1.0])
    assert result.loop_gain == pytest.approx(4.0)
    assert result.eigenvalue == pytest.approx(1.0)
    assert np.allclose(result.eigenvector, [2**-0.5, 2**-0.5])
    stable = schur_perron([1.0], [[0.5]], [[0.5]], [1.0])
    assert stable.loop_gain == pytest.approx(0.25) and stable.eigenvalue is None


@settings(max_examples=200)
@given(blocks(), st.data())
def test_marginal_rates(parts, data):
    # Zero rates (A, D ≥ 0): a real positive eigenvalue iff lim_{λ↓0} ρ(G(λ)) > 1, and it is the
    # spectral abscissa, with a non-negative eigenvector.
    A, B, C, D = parts
    zero_a = data.draw(arrays(bool, A.size))
    zero_d = data.draw(arrays(bool, D.size))
    A, D = np.where(zero_a, 0.0, A), np.where(zero_d, 0.0, D)
    result = schur_perron(A, B, C, D, marginal=True)
    assume(np.isinf(result.loop_gain) or abs(result.loop_gain - 1) > 1e-6)
    _check_against_eigenvalues(A, B, C, D, result, positive=1e-7, atol=1e-8)


def test_marginal_two_by_two():
    # [[0, b], [c, 0]]: infinite loop gain, eigenvalue √(bc).
    result = schur_perron([0.0], [[0.09]], [[0.04]], [0.0], marginal=True)
    assert result.loop_gain == np.inf
    assert result.eigenvalue == pytest.approx(0.06, rel=1e-12)
    # A zero rate off the loop leaves the gain finite: here the loop is 1 → 2 → 1 with rates 1, 2.
    finite = schur_perron([1.0, 0.0], [[0.5], [0.0]], [[1.0, 0.0]], [2.0], marginal=True)
    assert finite.loop_gain == pytest.approx(0.25) and finite.eigenvalue is None


def test_metzler_gauge():
    from symescape.numeric.stability import metzler_gauge

    J = np.array([[0.0, 0.0, -0.3], [0.0, 0.0, 0.5], [-0.3, 0.5, 0.0]])
    signs = metzler_gauge(J, [0, 1], [2])
    gauged = signs[:, None] * J * signs[None, :]
    assert np.all(gauged[:2, 2] >= 0) and np.all(gauged[2, :2] >= 0)
    # J_01 and J_10 of opposite signs: no gauge can make both couplings non-negative.
    assert metzler_gauge(np.array([[0.0, 1.0], [-1.0, 0.0]]), [0], [1]) is None


def test_bad_blocks():
    with pytest.raises(ConfigurationError, match="positive"):
        schur_perron([0.0], [[1.0]], [[1.0]], [1.0])
    with pytest.raises(ConfigurationError, match="non-negative"):
        schur_perron([1.0], [[-1.0]], [[1.0]], [1.0])
    with pytest.raises(ConfigurationError, match="non-negative diagonal"):
        schur_perron([-1.0], [[1.0]], [[1.0]], [1.0], marginal=True)
    with pytest.raises(ConfigurationError, match="must be"):
        schur_perron([1.0, 2.0], [[1.0]], [[1.0]], [1.0])


def test_saddle_blocks_extraction():
    J = np.array([[-1.0, 0.0, 0.3], [0.0, -2.0, 0.1], [0.2, 0.4, -0.5]])
    parts = saddle_blocks(J, [0, 1], [2])
    assert np.allclose(parts.A, np.diag([1.0, 2.0])) and np.allclose(parts.D, [[0.5]])
    assert np.allclose(parts.B, [[0.3], [0.1]]) and np.allclose(parts.C, [[0.2, 0.4]])
    assert parts.off_diagonal_residual == 0.0


def test_a_zero_component_left_negative_by_round_off_is_clipped_within_its_error_bound():
    """Hypothesis found this marginal case (CI, 2026-12-07): λ = 0.0078, and the null vector's
    zero component came out −4.3e-12, past the fixed 1e-12 clip. The clip now follows the
    vector's error bound over the singular-value gap; the vector stays an eigenvector."""
    A, D = np.array([0.0, 2.0, 0.0]), np.array([0.0, 0.0])
    B = np.array([[0.0, 1.0], [0.5, 0.25], [0.0, 0.0]])
    C = np.array([[0.0, 0.03125, 0.0], [0.0, 0.0, 1.0]])
    result = schur_perron(A, B, C, D, marginal=True)
    _check_against_eigenvalues(A, B, C, D, result, positive=1e-7, atol=1e-8)
    M = np.block([[-np.diag(A), B], [C, -np.diag(D)]])
    v = result.eigenvector
    assert np.all(v >= 0) and np.linalg.norm(M @ v - result.eigenvalue * v) <= 1e-12
