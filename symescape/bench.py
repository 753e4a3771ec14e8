"""``symescape bench``: speed measured against baselines timed in the same run.

Each entry times a fast path and its baseline on the same work and reports the ratio; nothing
here asserts a speed (timed assertions in tests are flaky). Entries register themselves in
:data:`BENCHMARKS`; later modules add theirs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BenchResult:
    """One comparison: what was timed, both times (seconds), their ratio and a note."""

    name: str
    fast_label: str
    baseline_label: str
    fast_seconds: float
    baseline_seconds: float
    note: str = ""
    target: float | None = None

    @property
    def ratio(self) -> float:
        return self.baseline_seconds / self.fast_seconds

    @property
    def meets_target(self) -> bool | None:
        return None if self.target is None else self.ratio >= self.target


BenchFunction = Callable[[bool], list[BenchResult]]
BENCHMARKS: dict[str, BenchFunction] = {}


def benchmark(name: str) -> Callable[[BenchFunction], BenchFunction]:
    """Register an entry under ``name``; the function takes ``quick`` and returns results."""

    def register(function: BenchFunction) -> BenchFunction:
        BENCHMARKS[name] = function
        return function

    return register


def best_time(function: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of ``repeat`` wall-clock timings (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


@benchmark("ensemble")
def bench_ensemble(quick: bool) -> list[BenchResult]:
    """32 networks (L = 8, width 64, batch 512) stepped together vs one at a time."""
    from .inits import he_normal_weights
    from .network import activation_kernels
    from .teachers import single_mode_teacher
    from .training import DataMode, TrainingConfig, train

    members, depth, width, batch = 32, 8, 64, 512
    steps = 1 if quick else 10
    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(width)
    weights = he_normal_weights([width] * depth + [1], ensemble=members, seed=0)
    config = TrainingConfig(
        steps=steps, learning_rate=1e-3, data=DataMode.FRESH, batch=batch, record_every=steps
    )

    def together() -> None:
        train(weights, teacher, kernels, config)

    def one_at_a_time() -> None:
        for m in range(members):
            train(tuple(w[m : m + 1] for w in weights), teacher, kernels, config)

    fast = best_time(together, 2)
    slow = best_time(one_at_a_time, 2)
    rate = members * (steps + 1) / fast
    return [
        BenchResult(
            "ensemble",
            "32 networks batched",
            "one at a time",
            fast,
            slow,
            note=f"{rate:.0f} network-steps/s batched; L={depth}, N={width}, B={batch}",
        )
    ]


def run_benchmarks(names: list[str] | None = None, quick: bool = False) -> list[BenchResult]:
    """Run the named entries (all by default) and return their results."""
    _load_entries()
    selected = names or list(BENCHMARKS)
    unknown = [n for n in selected if n not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmarks {unknown}; known: {', '.join(BENCHMARKS)}")
    results: list[BenchResult] = []
    for name in selected:
        results.extend(BENCHMARKS[name](quick))
    return results


def _load_entries() -> None:
    """Import modules that register benchmark entries."""


def format_results(results: list[BenchResult]) -> str:
    """A table: entry, fast path, baseline, their times and the ratio (baseline / fast)."""
    lines = [
        f"{'entry':<22} {'fast path':<28} {'baseline':<28} {'fast s':>9} {'base s':>9} "
        f"{'ratio':>9} target"
    ]
    for r in results:
        target = (
            "—" if r.target is None else f"≥{r.target:g} {'met' if r.meets_target else 'MISSED'}"
        )
        lines.append(
            f"{r.name:<22} {r.fast_label:<28} {r.baseline_label:<28} "
            f"{r.fast_seconds:>9.4f} {r.baseline_seconds:>9.4f} {r.ratio:>8.1f}x {target}"
        )
        if r.note:
            lines.append(f"{'':<22} {r.note}")
    return "\n".join(lines)


def results_record(results: list[BenchResult]) -> list[dict]:
    return [
        {
            "name": r.name,
            "fast": r.fast_label,
            "baseline": r.baseline_label,
            "fast_seconds": r.fast_seconds,
            "baseline_seconds": r.baseline_seconds,
            "ratio": r.ratio,
            "target": r.target,
            "meets_target": r.meets_target,
            "note": r.note,
        }
        for r in results
    ]


__all__ = [
    "BENCHMARKS",
    "BenchResult",
    "benchmark",
    "best_time",
    "format_results",
    "results_record",
    "run_benchmarks",
]
