"""The claim registry of ``symescape verify``: a :class:`Claim` per checked statement of the paper.

Every check returns a :class:`Claim` with the paper's statement, the prediction, what we measured,
the tolerance and a verdict: ``pass``, ``fail``, or ``discrepancy`` where our computation
disagrees with a statement of the paper (the numbers say by how much). ``quick`` shrinks grids.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum


class Verdict(Enum):
    PASS = "pass"
    FAIL = "fail"
    DISCREPANCY = "discrepancy"


@dataclass(frozen=True)
class Claim:
    """One verified claim."""

    id: str
    statement: str
    predicted: str
    measured: str
    tolerance: str
    verdict: Verdict
    details: dict = field(default_factory=dict)

    def record(self) -> dict:
        return {
            "id": self.id,
            "statement": self.statement,
            "predicted": self.predicted,
            "measured": self.measured,
            "tolerance": self.tolerance,
            "verdict": self.verdict.value,
            "details": self.details,
        }


CheckFunction = Callable[[bool], Claim]
CLAIMS: dict[str, CheckFunction] = {}
THOROUGH_ONLY: set[str] = set()
"""Claims too costly for the default run (CPU-hours); they run when named or with ``thorough``."""


def claim(identifier: str, thorough_only: bool = False) -> Callable[[CheckFunction], CheckFunction]:
    def register(function: CheckFunction) -> CheckFunction:
        CLAIMS[identifier] = function
        if thorough_only:
            THOROUGH_ONLY.add(identifier)
        return function

    return register


def verdict_for(ok: bool) -> Verdict:
    """PASS when the measured value is within tolerance, FAIL otherwise."""
    return Verdict.PASS if ok else Verdict.FAIL


def largest_or_nan(values: Iterable[float], default: float = 0.0) -> float:
    """The largest of ``values`` (``default`` when there are none), NaN when any is NaN.

    Python's ``max`` drops a NaN that is not first (``max(0.0, nan)`` is 0.0), which would let a
    failed measurement pass a tolerance; a NaN here fails every ``≤`` and ``≥`` comparison."""
    items = [float(v) for v in values]
    if any(math.isnan(v) for v in items):
        return math.nan
    return max(items, default=default)


def smallest_or_nan(values: Iterable[float], default: float = math.inf) -> float:
    """The smallest of ``values`` (``default`` when there are none), NaN when any is NaN."""
    items = [float(v) for v in values]
    if any(math.isnan(v) for v in items):
        return math.nan
    return min(items, default=default)
