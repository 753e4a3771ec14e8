"""Independent jobs over worker processes: the same results, in order, errors raised."""

from __future__ import annotations

import math
import multiprocessing
import signal
import sys
import time

import pytest

from symescape.errors import ConfigurationError
from symescape.experiments.verification import verify
from symescape.processes import check_workers, map_in_processes, safe_start_method, usable_cores


def test_results_come_back_in_order_whatever_starts_first() -> None:
    items = [0.5, 2.0, 9.0, 16.0]
    assert map_in_processes(math.sqrt, items, 2, first=[3, 2]) == [math.sqrt(x) for x in items]


def test_an_error_in_a_job_is_raised_here() -> None:
    with pytest.raises(ValueError, match="math domain error"):
        map_in_processes(math.sqrt, [1.0, -1.0], 2)


def test_a_failed_job_does_not_wait_for_the_others() -> None:
    """A failed job (or Ctrl-C) stops the run: the other workers are terminated, not waited
    for. time.sleep(-1) fails at once; time.sleep(600) would hold the pool for ten minutes."""
    before = set(multiprocessing.active_children())
    with pytest.raises(ValueError, match="non-negative"):
        map_in_processes(time.sleep, [600.0, -1.0], 2)
    left = set(multiprocessing.active_children()) - before
    assert not _still_alive_after(left, 30.0)  # a stopped worker exits at once; a sleeper not


def _still_alive_after(processes: set, seconds: float) -> list[tuple]:
    """The processes alive after up to ``seconds``. Polled, not judged at one instant: when the
    pool's manager thread reaps a worker, another thread's join can return before the exit code
    is recorded, and is_alive() then reads True for a process that is gone (seen 2 in 15 runs)."""
    deadline = time.monotonic() + seconds
    while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [(p.name, p.pid) for p in processes if p.is_alive()]


def _stubborn_or_failing(seconds: float) -> None:
    """A job that ignores SIGTERM and sleeps, or (``seconds`` < 0) fails once the other has
    had time to start."""
    if seconds < 0:
        time.sleep(-seconds)
        raise ValueError("the failing job")
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(seconds)


def test_a_worker_that_ignores_sigterm_is_killed() -> None:
    before = set(multiprocessing.active_children())
    with pytest.raises(ValueError, match="the failing job"):
        map_in_processes(_stubborn_or_failing, [600.0, -3.0], 2)
    left = set(multiprocessing.active_children()) - before
    assert not _still_alive_after(left, 30.0)  # killed, not left sleeping for ten minutes


def test_workers_fork_only_where_it_is_safe(monkeypatch) -> None:
    # a fork after JAX has started its threads can deadlock, and macOS's system libraries are
    # not fork-safe: the pool must spawn then
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setitem(sys.modules, "jax", sys.modules.get("jax", object()))
    assert safe_start_method() == "spawn"
    monkeypatch.delitem(sys.modules, "jax")
    assert safe_start_method() == "fork"
    monkeypatch.setattr(sys, "platform", "darwin")
    assert safe_start_method() == "spawn"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the pool forks on Linux only")
def test_a_pool_started_before_jax_forks_and_its_jobs_may_start_jax() -> None:
    """In a fresh interpreter (no JAX imported) the pool forks: its workers inherit the package
    and the script's own functions (a spawned worker could not unpickle a function defined in
    ``-c``), run JAX there, and the results come back in order. The workers' progress bars are
    off although tqdm was imported before the fork (tqdm reads TQDM_DISABLE only on import)."""
    import subprocess

    script = (
        "import sys\n"
        "import tqdm.auto\n"
        "from symescape.processes import map_in_processes, safe_start_method\n"
        "from symescape.progress import progress_bar\n"
        "def root(x):\n"
        "    import jax.numpy as jnp\n"
        "    bar = progress_bar(total=1)\n"
        "    off = bar.disable\n"  # before close(), which sets it
        "    bar.close()\n"
        "    return float(jnp.sqrt(x)), off\n"
        "assert 'jax' not in sys.modules and safe_start_method() == 'fork'\n"
        "print(map_in_processes(root, [4.0, 9.0, 16.0], 2))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip() == "[(2.0, True), (3.0, True), (4.0, True)]"
    assert "0/1" not in out.stderr  # no worker's bar was drawn


def test_worker_counts() -> None:
    assert check_workers(0) == check_workers(None) == usable_cores() >= 1
    assert check_workers(3) == 3
    for bad in (-1, 1.5, True, False):
        with pytest.raises(ConfigurationError):
            check_workers(bad)


def test_claims_in_two_processes_are_the_claims_run_here() -> None:
    ids = ["thm1-identity", "eq11-balanced", "thm5-quadrature"]
    here = verify(quick=True, ids=ids, workers=1)
    there = verify(quick=True, ids=ids, workers=2)
    assert [c.record() for c in here] == [c.record() for c in there]


def test_a_worker_prints_a_fallback_as_one_note_line(capfd) -> None:
    # a spawned worker has not the CLI's warning hook: it installs the same one, so a closed-form
    # fallback is one "note:" line, not a warning with its file path and source line
    from functools import partial

    from symescape.symbolic.moments import gaussian_moment

    map_in_processes(partial(gaussian_moment, "tanh"), [3, 5], 2)
    err = capfd.readouterr().err
    assert "note: E[σ(s) s^3] for σ = tanh: no closed form" in err
    assert "ClosedFormFallbackWarning" not in err


def test_a_fallback_note_is_printed_once_per_fact(capsys) -> None:
    # the same moment's fallback came from two call sites (moments.py and constants.py): one note
    from symescape.errors import ClosedFormFallbackWarning, fallback_notes

    shown: list = []
    note = fallback_notes(lambda *args, **kwargs: shown.append(args))
    for _ in range(2):
        note("E[σ(s) s^1] for σ = tanh: no closed form", ClosedFormFallbackWarning, "a.py", 1)
    note("E[σ(s) s^3] for σ = tanh: no closed form", ClosedFormFallbackWarning, "b.py", 2)
    note("something else", UserWarning, "c.py", 3)
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "note: E[σ(s) s^1] for σ = tanh: no closed form",
        "note: E[σ(s) s^3] for σ = tanh: no closed form",
    ]
    assert len(shown) == 1 and shown[0][1] is UserWarning  # other warnings pass through


def _blas_threads(_: object) -> tuple[list[int], str | None]:
    """In a worker: the thread counts of the BLAS pools NumPy and SciPy loaded, and the
    OPENBLAS_NUM_THREADS the worker sees."""
    import os

    import numpy as np
    import scipy.linalg
    from threadpoolctl import threadpool_info

    scipy.linalg.solve(np.eye(3), np.ones(3))  # load SciPy's BLAS too
    counts = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    return counts, os.environ.get("OPENBLAS_NUM_THREADS")


def test_a_worker_runs_one_blas_thread_unless_the_user_set_the_pool_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers on two cores: a BLAS pool per worker only contends (prop23-homotopy ran 2×
    slower in ``verify`` with it). A user's own setting is kept."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for counts, variable in map_in_processes(_blas_threads, [0, 1], 2):
        assert counts and all(c == 1 for c in counts), counts
        assert variable == "1"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    for _, variable in map_in_processes(_blas_threads, [0, 1], 2):
        assert variable == "2"
