"""The homotopy identity (issue 6, Proposition 23): adjoint dT/dν against central differences."""

import numpy as np
import pytest

from symescape.errors import NotReachedError
from symescape.numeric.homotopy import escape_time, homotopy_derivative


def riccati_T(nu):
    # dx/dt = x² + ν, x(0) = 0, threshold x = 1: T = atan(1/√ν)/√ν.
    return np.arctan(1 / np.sqrt(nu)) / np.sqrt(nu)


@pytest.mark.parametrize("nu", [0.3, 1.0, 2.5])
def test_toy_with_known_escape_time(nu):
    result = homotopy_derivative(
        lambda x: x**2 + nu,
        lambda x: np.array([[2 * x[0]]]),
        [lambda x: np.array([1.0])],
        np.array([0.0]),
        lambda x: x[0] - 1,
        lambda x: np.array([1.0]),
        100.0,
    )
    assert result.time == pytest.approx(riccati_T(nu), rel=1e-9)
    h = 1e-4 * nu
    central = (riccati_T(nu + h) - riccati_T(nu - h)) / (2 * h)
    assert abs(result.derivative / central - 1) <= 1e-6
    assert result.derivative < 0  # the sign of the identity: a stronger drive escapes sooner


def test_two_channel_nonlinear_system_and_decomposition():
    # f_ν(x) = f_0(x) + ν (c_1(x) + c_2(x)); T(ν) by finite differences of the escape time itself.
    def field_at(nu):
        return lambda x: np.array(
            [
                0.3 * x[0] + x[0] * x[1] + nu * 0.1 * x[1],
                0.2 * x[1] + 0.5 * x[0] ** 2 + nu * 0.05 * x[0],
            ]
        )

    def jacobian_at(nu):
        return lambda x: np.array([[0.3 + x[1], x[0] + 0.1 * nu], [x[0] + 0.05 * nu, 0.2]])

    channels = [lambda x: np.array([0.1 * x[1], 0.0]), lambda x: np.array([0.0, 0.05 * x[0]])]
    x0 = np.array([0.01, 0.02])

    def threshold(x):
        return x[0] + x[1] - 1.0

    def T(nu):
        return escape_time(field_at(nu), x0, threshold, 1e3, rtol=1e-12)[0]

    nu, h = 0.7, 1e-4
    result = homotopy_derivative(
        field_at(nu),
        jacobian_at(nu),
        channels,
        x0,
        threshold,
        lambda x: np.array([1.0, 1.0]),
        1e3,
        rtol=1e-12,
    )
    central = (T(nu + h) - T(nu - h)) / (2 * h)
    assert abs(result.derivative / central - 1) <= 1e-6
    assert sum(result.channels) == pytest.approx(result.derivative, rel=1e-12)
    assert all(c < 0 for c in result.channels)


def test_threshold_not_reached():
    with pytest.raises(NotReachedError, match="not reached"):
        escape_time(lambda x: -x, np.array([0.5]), lambda x: x[0] - 1, 10.0)
