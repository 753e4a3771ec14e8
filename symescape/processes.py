"""Independent jobs (the claims of ``verify``, the figures of ``reproduce``) over worker processes.

Most claims are single-threaded SymPy or SciPy work, so two cores run two of them at once; the
training claims already use both cores (one XLA host device per core) and simply share them.
Workers are *spawned* (fresh interpreters): forking a process that has started JAX's threads can
deadlock. Each job must be a module-level function of picklable arguments.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

from symescape.errors import ConfigurationError

Item = TypeVar("Item")
Result = TypeVar("Result")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_workers(workers: int | None) -> int:
    """``workers`` as a count ≥ 1; None or 0 means one per usable core."""
    if workers is None or workers == 0:
        return usable_cores()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ConfigurationError(
            f"workers must be an integer ≥ 0 (0: one per core), got {workers!r}"
        )
    return workers


def _quiet_worker() -> None:
    # one progress bar (the caller's), not one per worker interleaved on the same line
    os.environ["TQDM_DISABLE"] = "1"


def map_in_processes(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    workers: int,
    *,
    first: Sequence[int] = (),
    progress: str | None = None,
) -> list[Result]:
    """[function(item) for item in items], in that order, on ``workers`` spawned processes (1:
    in this process). Indices in ``first`` are started first: the longest jobs first keep every
    core busy to the end. ``progress``: a bar with this label, one tick per finished job.

    An exception in a job is raised here, as in a plain loop.
    """
    bar = None
    if progress is not None:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=progress, unit="job")
    try:
        if workers <= 1 or len(items) <= 1:
            results = []
            for item in items:
                results.append(function(item))
                if bar is not None:
                    bar.update()
            return results
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        order = [i for i in first if 0 <= i < len(items)]
        order += [i for i in range(len(items)) if i not in set(order)]
        context = multiprocessing.get_context("spawn")
        out: dict[int, Result] = {}
        with ProcessPoolExecutor(
            min(workers, len(items)), mp_context=context, initializer=_quiet_worker
        ) as pool:
            futures = {pool.submit(function, items[i]): i for i in order}
            for future in as_completed(futures):
                out[futures[future]] = future.result()
                if bar is not None:
                    bar.update()
        return [out[i] for i in range(len(items))]
    finally:
        if bar is not None:
            bar.close()
