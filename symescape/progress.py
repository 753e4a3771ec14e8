"""Progress bars on stderr: tqdm's bar on a terminal (or a notebook's widget); on a file or a pipe,
a plain line at most every :data:`LOG_INTERVAL` seconds. A redirected tqdm bar was one long line
of carriage-return redraws (``expand --precision 15 2> log``: hundreds of them in one line)."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

LOG_INTERVAL = 30.0
"""Seconds between progress lines written to a file or pipe."""

LOG_FORMAT = "{desc}: {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]"
"""A progress line in a log: the count, elapsed and remaining time, and the rate (steps/s)."""


class LineWriter:
    """A text stream that turns tqdm's redraws (``\\r`` + status + padding) into whole lines,
    dropping the blank redraws with which a bar erases itself."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        line = text.replace("\r", "").rstrip()
        if line:
            self.stream.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def _in_notebook(bar_class: type) -> bool:
    return any(c.__name__ == "tqdm_notebook" for c in bar_class.__mro__)


def progress_bar(iterable: Any = None, **options: Any) -> Any:
    """``tqdm.auto.tqdm(iterable, **options)`` on stderr; when stderr is neither a terminal nor
    a notebook, lines of :data:`LOG_FORMAT` every :data:`LOG_INTERVAL` seconds at most. Off
    when ``TQDM_DISABLE`` is set (as a pool's workers set it), read here at each call: tqdm
    reads it once, when it is imported, and a forked worker inherits tqdm already imported."""
    from tqdm.auto import tqdm

    if os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes", "on"):
        options = {**options, "disable": True}

    stream = options.get("file") or sys.stderr
    terminal = hasattr(stream, "isatty") and stream.isatty()
    if not terminal and not _in_notebook(tqdm):
        options = {
            **options,
            "file": LineWriter(stream),
            "mininterval": max(float(options.get("mininterval", 0.1)), LOG_INTERVAL),
            "bar_format": LOG_FORMAT,
        }
    return tqdm(iterable, **options)
