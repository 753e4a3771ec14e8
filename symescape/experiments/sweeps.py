"""Sweeps whose points are written atomically and reused on a rerun.

Each point is a JSON file named by a hash of its parameters; it is written to a temporary file in
the same folder and renamed into place, so an interrupted sweep leaves only whole points, and a
rerun with the same parameters recomputes only the missing ones. A point records the full hash of
its settings; a file that is empty, truncated, has the wrong keys or was computed with other
settings is named in a :class:`StalePointWarning` and recomputed, never reused.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from symescape.errors import ResultsCacheWarning, StalePointWarning
from symescape.processes import map_in_processes
from symescape.version import __version__

POINT_KEYS = frozenset({"params", "settings_hash", "result"})
"""The keys of a stored point."""


def settings_hash(params: dict[str, Any]) -> str:
    """The SHA-256 of a parameter set's canonical JSON (sorted keys) with the package version:
    what a point records. A point stored by another version is not reused (its code may have
    computed something else)."""
    text = json.dumps({"params": params, "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def point_key(params: dict[str, Any]) -> str:
    """A stable file name for a parameter set (the first 20 hex digits of its settings hash)."""
    return settings_hash(params)[:20]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename (no partial files).

    The file gets the usual permissions (0666 less the process umask, e.g. 0644), like any file
    the user's programs create.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def check_writable_folder(folder: Path) -> None:
    """Create ``folder`` if needed and write and remove a probe file in it, so that a long
    computation whose result goes there fails at once, not at the end.

    Raises:
        OSError: the folder cannot be created or written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".write-probe.{secrets.token_hex(8)}.tmp"
    os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    os.unlink(probe)


def _point_text(params: dict[str, Any], result: dict[str, Any]) -> str:
    record = {"params": params, "settings_hash": settings_hash(params), "result": result}
    return json.dumps(record, default=float)


def read_point(path: Path, params: dict[str, Any]) -> dict[str, Any] | None:
    """The stored result at ``path`` if it is a whole point computed with ``params``; None (with
    a :class:`StalePointWarning` naming the file) when it is empty, truncated, has the wrong
    keys, or records other settings; None without a warning when there is no file."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _stale(path, f"unreadable ({exc})")
    if not isinstance(record, dict) or set(record) != POINT_KEYS:
        keys = sorted(record) if isinstance(record, dict) else type(record).__name__
        return _stale(path, f"has keys {keys}, expected {sorted(POINT_KEYS)}")
    expected = settings_hash(params)
    if record["settings_hash"] != expected or settings_hash(record["params"]) != expected:
        return _stale(path, "was computed with other settings")
    if not isinstance(record["result"], dict):
        return _stale(path, "has no result record")
    return record["result"]


def _stale(path: Path, reason: str) -> None:
    warnings.warn(f"sweep point {path} {reason}; recomputing it", StalePointWarning, stacklevel=3)
    return None


class SweepStore:
    """A folder of finished points. ``computed`` / ``reused`` / ``shared`` count this session's
    work: points computed here, read from this folder, and read from ``shared`` (a second store,
    e.g. :func:`~symescape.experiments.results_cache.results_cache`, consulted before computing
    and given every point computed here)."""

    def __init__(self, folder: Path | str, shared: SweepStore | None = None) -> None:
        self.folder = Path(folder)
        self.shared_store = shared
        self.computed = 0
        self.reused = 0
        self.shared = 0

    def path(self, params: dict[str, Any]) -> Path:
        """Where the point of ``params`` is (or would be) stored."""
        return self.folder / f"{point_key(params)}.json"

    def lookup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """The stored result for ``params``, or None."""
        return read_point(self.path(params), params)

    def get(self, params: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The stored result for ``params``, or ``compute()`` stored atomically. The result is
        returned as stored (JSON: lists, not arrays), so a first run and a rerun see the same
        values of the same types."""
        stored = self.lookup(params)
        if stored is not None:
            self.reused += 1
            return stored
        if self.shared_store is not None:
            stored = self.shared_store.lookup(params)
            if stored is not None:
                write_atomic(self.path(params), _point_text(params, stored))
                self.shared += 1
                return stored
        text = _point_text(params, compute())
        write_atomic(self.path(params), text)
        if self.shared_store is not None:
            try:
                write_atomic(self.shared_store.path(params), text)
            except OSError as exc:  # the shared store is an optimisation: never fatal
                warnings.warn(
                    f"results cache {self.shared_store.folder} not written ({exc}); "
                    "computing without it",
                    ResultsCacheWarning,
                    stacklevel=2,
                )
                self.shared_store = None
        self.computed += 1
        return json.loads(text)["result"]

    def origins(self) -> str:
        """This session's points by origin, as a figure's summary says them."""
        return (
            f"computed {self.computed}, reused from the output folder {self.reused}, "
            f"from the results cache {self.shared}"
        )

    def map(
        self,
        points: Iterable[dict[str, Any]],
        compute: Callable[[dict[str, Any]], dict],
        progress: str | None = None,
    ) -> list[dict[str, Any]]:
        """Results for every parameter set, with a progress bar when ``progress`` names it."""
        points = list(points)
        iterator: Iterable = points
        if progress:
            from symescape.progress import progress_bar

            iterator = progress_bar(points, desc=progress, unit="point", leave=False)
        return [self.get(p, lambda p=p: compute(p)) for p in iterator]


def stored(
    store: SweepStore | None, params: dict[str, Any], compute: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """``store.get(params, compute)``, or ``compute()`` when there is no store."""
    return compute() if store is None else store.get(params, compute)


def grid(**axes: Iterable[Any] | str | float) -> list[dict[str, Any]]:
    """The Cartesian product of named axes as a list of parameter dicts (in axis order). An axis
    given as one string or one number is that single value (``act="tanh"`` is not the axis
    ``['t', 'a', 'n', 'h']``).

    >>> grid(depth=[4, 6], eps=[0.1], act="tanh")
    [{'depth': 4, 'eps': 0.1, 'act': 'tanh'}, {'depth': 6, 'eps': 0.1, 'act': 'tanh'}]
    """
    import itertools

    def values(axis: Any) -> list[Any]:
        if isinstance(axis, str | bytes) or not isinstance(axis, Iterable):
            return [axis]
        return list(axis)

    names = list(axes)
    return [
        dict(zip(names, point, strict=True))
        for point in itertools.product(*(values(v) for v in axes.values()))
    ]


def run_sweep(
    points: list[dict[str, Any]],
    compute: Callable[[dict[str, Any]], dict[str, Any]],
    store: SweepStore,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    progress: str | None = None,
) -> list[dict[str, Any]]:
    """Compute every missing point in parallel and store each as it finishes; return all results
    in the order of ``points``.

    ``compute`` must be a picklable top-level function of one parameter dict. Points run on
    ``workers`` local processes, or on the Dask distributed cluster at ``scheduler`` (an address
    such as ``tcp://127.0.0.1:8786``, or a ``distributed.Client``). Results are written by this
    process, atomically, so an interrupted sweep resumes where it stopped.
    """
    missing = [p for p in points if store.lookup(p) is None]
    bar = None
    if progress and missing and scheduler is not None:
        from symescape.progress import progress_bar

        bar = progress_bar(total=len(missing), desc=progress, unit="point")

    def finish(params: dict[str, Any], result: dict[str, Any]) -> None:
        write_atomic(store.path(params), _point_text(params, result))
        store.computed += 1
        if bar is not None:
            bar.update()

    if missing and scheduler is not None:
        from distributed import Client, as_completed

        client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        try:
            futures = {client.submit(compute, p, pure=False): p for p in missing}
            for future in as_completed(futures):
                finish(futures[future], future.result())
        finally:
            if client is not scheduler:
                client.close()
            if bar is not None:
                bar.close()
    elif missing:
        # the pool forks where it is safe (Linux, JAX not loaded: a sweep starts a pool per
        # call, and spawning re-imports the package in every worker each time) and spawns
        # otherwise (then ``compute`` must be importable, a module-level function)
        map_in_processes(
            compute,
            missing,
            workers,
            progress=progress or None,
            unit="point",
            on_result=lambda index, result: finish(missing[index], result),
        )
    return [store.get(p, lambda p=p: compute(p)) for p in points]


def reduced_escape_point(params: dict[str, Any]) -> dict[str, Any]:
    """A sweep point: the exact reduced-ODE escape time for ``activation``, ``depth``, ``r``
    layers at ``eps`` and the rest at ``other`` (default 0.5); ``seed`` is accepted and ignored
    (the reduced flow is deterministic)."""
    import numpy as np

    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.reduced import reduced_model

    depth, r = int(params["depth"]), int(params.get("r", params["depth"]))
    model = reduced_model(params["activation"], depth)
    scales = np.array([params["eps"]] * r + [params.get("other", 0.5)] * (depth - r))
    result = escape_time_ode(model, scales)
    return {"status": result.status.value, "time": result.time, "time_reached": result.time_reached}
