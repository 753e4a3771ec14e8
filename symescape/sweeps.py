"""Sweeps whose points are written atomically and reused on a rerun.

Each point is a JSON file named by a hash of its parameters; it is written to a temporary file in
the same folder and renamed into place, so an interrupted sweep leaves only whole points, and a
rerun with the same parameters recomputes only the missing ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def point_key(params: dict[str, Any]) -> str:
    """A stable file name for a parameter set."""
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename (no partial files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


class SweepStore:
    """A folder of finished points. ``computed`` / ``reused`` count this session's work."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.computed = 0
        self.reused = 0

    def get(self, params: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The stored result for ``params``, or ``compute()`` stored atomically."""
        path = self.folder / f"{point_key(params)}.json"
        if path.exists():
            self.reused += 1
            return json.loads(path.read_text())["result"]
        result = compute()
        write_atomic(path, json.dumps({"params": params, "result": result}, default=float))
        self.computed += 1
        return result

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
            from tqdm.auto import tqdm

            iterator = tqdm(points, desc=progress, unit="point", leave=False)
        return [self.get(p, lambda p=p: compute(p)) for p in iterator]
