"""Shared test data and helpers."""

import os
import shutil

import pytest

from symescape import REGISTRY

REGISTRY_NAMES = sorted(set(REGISTRY) - {"silu"})
"""Every distinct registry activation (silu is an alias of swish)."""


def pdflatex() -> str:
    """The pdflatex executable; skip without it, except in CI (``CI`` set), where .ci/run
    installs TeX from Debian's packages and its absence is a failure."""
    found = shutil.which("pdflatex")
    if found is None and os.environ.get("CI"):
        pytest.fail("pdflatex is missing in CI: .ci/run installs TeX from Debian's packages")
    if found is None:
        pytest.skip("pdflatex not installed (CI installs it; see README)")
    return found
