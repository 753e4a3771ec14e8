"""Doctest namespace: the examples in symescape's docstrings may use ``np`` and the public API
(``symescape``'s exported names) without importing them, as a reader at a prompt would have."""

from __future__ import annotations

import numpy as np
import pytest

import symescape


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict) -> None:
    doctest_namespace["np"] = np
    for name in symescape.__all__:
        doctest_namespace[name] = getattr(symescape, name)
