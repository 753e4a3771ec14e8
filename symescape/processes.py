"""Independent jobs (the claims of ``verify``, the figures of ``reproduce``) over worker processes.

Most claims are single-threaded SymPy or SciPy work, so two cores run two of them at once; the
training claims already use both cores (one XLA host device per core) and simply share them.
Workers are *forked* on Linux while this process has not imported JAX (they start with the
package already imported: 1.5–2 s of import saved per worker), and *spawned* (fresh
interpreters) otherwise: forking a process that has started JAX's threads can deadlock, and
macOS's system libraries are not fork-safe. Each job must be a module-level function of
picklable arguments.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from typing import TypeVar

from symescape.errors import fallback_notes
from symescape.options import require_int

Item = TypeVar("Item")
Result = TypeVar("Result")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_workers(workers: int | None) -> int:
    """``workers`` as a count ≥ 1; None or 0 means one per usable core."""
    if workers is None:
        return usable_cores()
    return require_int(workers, "workers (0: one per core)", minimum=0) or usable_cores()


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""The variables that set BLAS pool sizes; a worker sets each to 1 unless the user has set any."""


def _one_blas_thread() -> None:
    """One BLAS thread in this worker: the pool already runs one worker per core, and each
    worker's own BLAS threads then only contend (prop23-homotopy in ``verify``: 47 s beside
    another claim with OpenBLAS's default pool, 22 s with one thread; 2 cores, 2026-12-07).
    The variables reach libraries loaded later (SciPy's OpenBLAS reads them when it loads);
    ``threadpoolctl`` limits the ones already loaded."""
    from threadpoolctl import threadpool_limits

    if any(name in os.environ for name in BLAS_THREAD_VARIABLES):
        return  # the user's choice
    for name in BLAS_THREAD_VARIABLES:
        os.environ[name] = "1"
    threadpool_limits(1, user_api="blas")


def _quiet_worker() -> None:
    # one progress bar (the caller's), not one per worker interleaved on the same line
    os.environ["TQDM_DISABLE"] = "1"
    _one_blas_thread()
    # and fallback notes as the CLI prints them, one line each, not warnings with source lines
    warnings.showwarning = fallback_notes(warnings.showwarning)


def safe_start_method() -> str:
    """"fork" on Linux while JAX is not imported in this process (the workers then inherit
    the imported package), else "spawn": a fork after JAX has started its threads can
    deadlock, and macOS's system libraries are not fork-safe."""
    if sys.platform.startswith("linux") and "jax" not in sys.modules:
        return "fork"
    return "spawn"


def _stop(processes: set[BaseProcess], grace: float = 5.0) -> None:
    """Terminate (SIGTERM) the pool's processes, then kill (SIGKILL) any still alive after
    ``grace`` seconds: a worker that is still starting up, or that has installed its own
    SIGTERM handler, must not outlive the run."""
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + grace  # one grace period for all, not one each
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(timeout=grace)


def map_in_processes(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    workers: int,
    *,
    first: Sequence[int] = (),
    progress: str | None = None,
    unit: str = "job",
    on_result: Callable[[int, Result], None] | None = None,
    start_method: str = "auto",
) -> list[Result]:
    """[function(item) for item in items], in that order, on ``workers`` processes (1: in this
    process). Indices in ``first`` are started first: the longest jobs first keep every core
    busy to the end. ``progress``: a bar with this label, one tick (``unit``) per finished job;
    ``on_result(index, result)`` runs here as each job finishes (a sweep stores its points
    then, so an interrupted run keeps them). ``start_method``: "auto" (default:
    :func:`safe_start_method`), "spawn" (always safe) or "fork" (faster to start; only where
    this process has not started JAX).

    An exception in a job is raised here, as in a plain loop.
    """
    bar = None

    def start_bar() -> None:
        # after the pool has forked its workers: a bar starts tqdm's monitor thread, and a fork
        # while that thread holds tqdm's lock would leave the lock held for ever in the worker
        nonlocal bar
        if progress is not None:
            from symescape.progress import progress_bar

            bar = progress_bar(total=len(items), desc=progress, unit=unit)

    def finished(index: int, result: Result) -> None:
        if on_result is not None:
            on_result(index, result)
        if bar is not None:
            bar.update()

    try:
        if workers <= 1 or len(items) <= 1:
            start_bar()
            results = []
            for index, item in enumerate(items):
                results.append(function(item))
                finished(index, results[-1])
            return results
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        order = list(dict.fromkeys([i for i in first if 0 <= i < len(items)]))
        started = set(order)
        order += [i for i in range(len(items)) if i not in started]
        context = multiprocessing.get_context(
            safe_start_method() if start_method == "auto" else start_method
        )
        out: dict[int, Result] = {}
        before = set(multiprocessing.active_children())
        pool = ProcessPoolExecutor(
            min(workers, len(items)), mp_context=context, initializer=_quiet_worker
        )
        try:
            futures = {pool.submit(function, items[i]): i for i in order}
            start_bar()  # the first submission started the workers
            for future in as_completed(futures):
                index = futures[future]
                out[index] = future.result()
                finished(index, out[index])
        except BaseException:
            # Ctrl-C or a failed job: stop now. Leaving the pool as a context manager would wait
            # for the running jobs and the ones already queued to the workers (14 s measured on
            # a Ctrl-C of verify --quick).
            pool.shutdown(wait=False, cancel_futures=True)
            _stop(set(multiprocessing.active_children()) - before)
            raise
        pool.shutdown()
        return [out[i] for i in range(len(items))]
    finally:
        if bar is not None:
            bar.close()
