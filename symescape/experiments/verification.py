"""``symescape verify``: run the registered claims, each measured, each able to fail.

Claims are registered by the modules imported here (one module per topic); each registers its
checks in :data:`~symescape.experiments.claim_registry.CLAIMS` with the ``@claim`` decorator.
"""

from __future__ import annotations

from symescape.errors import UnknownNameError
from symescape.experiments import (
    claims_normal_form,
    claims_paper,
    claims_predict,
    claims_relu,
    claims_rest,
)
from symescape.experiments.claim_registry import CLAIMS, THOROUGH_ONLY, Claim, Verdict

CLAIM_MODULES = (claims_paper, claims_rest, claims_relu, claims_predict, claims_normal_form)
"""The modules whose import registers claims, in the order ``verify`` runs them."""

__all__ = ["CLAIMS", "CLAIM_MODULES", "THOROUGH_ONLY", "Claim", "Verdict", "verify"]


def verify(
    quick: bool = False,
    ids: list[str] | None = None,
    progress: bool = False,
    thorough: bool = False,
) -> list[Claim]:
    """Run the named claims and return their results. By default every claim except those in
    :data:`THOROUGH_ONLY` (hours of CPU: the 30-digit Theorem 16 sweeps); ``thorough`` adds them.
    A claim named in ``ids`` always runs."""
    selected = ids or [i for i in CLAIMS if thorough or i not in THOROUGH_ONLY]
    unknown = [i for i in selected if i not in CLAIMS]
    if unknown:
        raise UnknownNameError(f"unknown claims {unknown}; known: {', '.join(CLAIMS)}")
    iterator = selected
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(selected, desc="verify", unit="claim")
    return [CLAIMS[i](quick) for i in iterator]
