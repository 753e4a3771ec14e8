"""Multi-mode groundwork (issue 6): block scalars and the off-block structure at the start."""

import numpy as np
import pytest

from symescape import ConfigurationError
from symescape.inits import modewise_block_weights
from symescape.multimode import CascadeConfig, block_scalars, off_diagonal_mass
from symescape.teachers import orthonormal_teacher


def test_block_scalars_round_trip():
    teacher = orthonormal_teacher(5, [3.0, 2.0, 1.0], seed=2)
    scalars = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2]])
    weights = modewise_block_weights(scalars, teacher.directions, block_width=3)
    assert np.allclose(block_scalars(weights, teacher.directions, 3)[0], scalars, rtol=1e-14)
    assert off_diagonal_mass(weights, 3, 3) == 0.0


def test_cascade_config_validation():
    with pytest.raises(ConfigurationError, match="ε"):
        CascadeConfig(eps=0.7)
    with pytest.raises(ConfigurationError, match="depth"):
        CascadeConfig(depth=1)
