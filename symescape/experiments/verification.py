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
from symescape.experiments.claim_registry import CLAIMS, Claim, Verdict

CLAIM_MODULES = (claims_paper, claims_rest, claims_relu, claims_predict, claims_normal_form)
"""The modules whose import registers claims, in the order ``verify`` runs them."""

__all__ = ["CLAIMS", "CLAIM_MODULES", "Claim", "Verdict", "verify"]


def verify(
    quick: bool = False, ids: list[str] | None = None, progress: bool = False
) -> list[Claim]:
    """Run the named claims (all by default) and return their results."""
    selected = ids or list(CLAIMS)
    unknown = [i for i in selected if i not in CLAIMS]
    if unknown:
        raise UnknownNameError(f"unknown claims {unknown}; known: {', '.join(CLAIMS)}")
    iterator = selected
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(selected, desc="verify", unit="claim")
    return [CLAIMS[i](quick) for i in iterator]
