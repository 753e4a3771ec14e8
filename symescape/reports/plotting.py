"""Plotting helpers shared by every figure: a headless pyplot, log ticks, atomic figure files."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from symescape.experiments.sweeps import write_atomic


def pyplot() -> Any:
    """matplotlib.pyplot on the headless Agg backend (figures are written to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plain_log_ticks(axis: Any) -> None:
    """Major ticks only on a log x-axis spanning less than two decades (minor labels collide)."""
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.xaxis.set_major_formatter(ScalarFormatter())
    axis.xaxis.set_minor_formatter(NullFormatter())


def save_figure(fig: Any, out: Path, name: str, data: dict[str, Any], summary: list[str]) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    for ext in ("png", "pdf"):
        # a name of its own per writer: two processes (or two requests of one figure) writing
        # to the same folder must not rename each other's half-written file
        temporary = out / f".{name}.{secrets.token_hex(8)}.tmp.{ext}"
        try:
            fig.savefig(temporary, dpi=150 if ext == "png" else None, bbox_inches="tight")
            temporary.replace(out / f"{name}.{ext}")
        finally:
            temporary.unlink(missing_ok=True)
    pyplot().close(fig)
    data = {**data, "summary": summary}
    write_atomic(out / f"{name}.json", json.dumps(data, indent=1, default=float))
    write_atomic(out / f"{name}.txt", "\n".join(summary) + "\n")
    return data
