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


SLOWEST_CLAIMS = (
    "thm11-off-manifold",
    "relu-low-rank",
    "fig5-cascade",
    "cor7-universality",
    "prop23-homotopy",
    "thm11-depth-independence",
    "predict-ansatz-gd",
    "prop24-schur-perron",
    "prop8-signal-energy",
)
"""Started first when claims run in parallel, longest first (CPU s in ``verify``'s two
workers, empty caches, 2026-12-07, sixteenth session: 98, 57, 46, 24, 22, 20, 18, 12 and 5;
every other claim takes under 4 s)."""


SLOWEST_QUICK_CLAIMS = (
    "thm11-depth-independence",
    "fig5-cascade",
    "cor7-universality",
    "thm16-normal-form",
    "relu-saddle-to-saddle",
    "relu-low-rank",
    "thm11-off-manifold",
    "prop2-classes",
    "prop24-schur-perron",
    "thm4-reduction",
    "prop8-signal-energy",
)
"""The same with ``quick`` (CPU s in ``verify --quick``'s two workers, empty caches,
2026-12-07, sixteenth session, two runs in a slow period: thm11-depth 11.5–12.5, fig5
10.7–11.8, cor7 4.4–4.8, thm16 4.1–4.8, the rest of the list 1.7–4.3; every other claim
2.2 s or less). thm11-off-manifold starts after thm11-depth-independence has compiled the
L = 8 program they share."""


def _run_claim(job: tuple[str, bool]) -> Claim:
    identifier, quick = job
    return CLAIMS[identifier](quick)


def verify(
    *,
    quick: bool = False,
    ids: list[str] | str | None = None,
    progress: bool = False,
    thorough: bool = False,
    workers: int = 1,
) -> list[Claim]:
    """Run the named claims and return their results, in registry (or ``ids``) order. By default
    every claim except those in :data:`THOROUGH_ONLY` (hours of CPU: the 30-digit Theorem 16
    sweeps); ``thorough`` adds them. A claim named in ``ids`` always runs. ``workers``: claims
    run in that many processes at once (0: one per core; 1: here, one after another)."""
    from symescape.processes import check_workers, map_in_processes

    if isinstance(ids, str):  # one claim: not its characters ("unknown claims ['e', 'q', …]")
        ids = [ids]
    # each claim once, in the order asked ('verify a a' ran and counted a twice)
    selected = list(dict.fromkeys(ids)) if ids else [
        i for i in CLAIMS if thorough or i not in THOROUGH_ONLY
    ]
    unknown = [i for i in selected if i not in CLAIMS]
    if unknown:
        raise UnknownNameError(f"unknown claims {unknown}; known: {', '.join(CLAIMS)}")
    slowest = SLOWEST_QUICK_CLAIMS if quick else SLOWEST_CLAIMS
    first = [selected.index(i) for i in slowest if i in selected]
    return map_in_processes(
        _run_claim,
        [(i, quick) for i in selected],
        check_workers(workers),
        first=first,
        progress="verify" if progress else None,
    )
