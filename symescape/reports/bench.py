"""``symescape bench``: speed measured against baselines timed in the same run.

Each entry times a fast path and its baseline on the same work and reports the ratio; nothing
here asserts a speed (timed assertions in tests are flaky). Entries register themselves in
:data:`BENCHMARKS`; later modules add theirs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from symescape.errors import UnknownNameError


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


def best_time(
    function: Callable[[], object], repeat: int = 3, clock: Callable[[], float] = time.perf_counter
) -> float:
    """The fastest of ``repeat`` timings (the least disturbed by other load): wall clock, or
    ``time.process_time`` for the CPU time of all this process's threads."""
    times = []
    for _ in range(repeat):
        start = clock()
        function()
        times.append(clock() - start)
    return min(times)


def matmul_rate(size: int = 512) -> float:
    """FLOP/s of a float64 NumPy matrix product (size × size) timed now: the machine's yardstick."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((size, size))
    seconds = best_time(lambda: a @ a, 5)
    return 2 * size**3 / seconds


def _training_run(
    members: int,
    depth: int,
    width: int,
    batch: int,
    steps: int,
    fixed: bool = False,
    **options: object,
) -> tuple[Callable[[], object], float]:
    """A closure running ``steps`` SGD steps of the workload (fresh Gaussian batches, tanh,
    He-normal), and the workload's FLOPs: 6·E·B·P (forward, δ and weight gradients).
    ``fixed``: GD on one batch per member drawn once, i.e. the step without the draws."""
    import numpy as np

    from symescape.numeric.inits import he_normal_weights
    from symescape.numeric.teachers import single_mode_teacher
    from symescape.numeric.training import DataMode, TrainingConfig, train
    from symescape.symbolic.resolved import activation_kernels

    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(width)
    weights = he_normal_weights([width] * depth + [1], ensemble=members, seed=0)
    given = None
    if fixed:
        x = np.random.default_rng(1).standard_normal((members, batch, width))
        given = (x, teacher(x, kernels), None)
    config = TrainingConfig(
        steps=steps,
        learning_rate=1e-3,
        data=DataMode.FRESH,
        batch=batch,
        record_every=steps,
        **options,
    )
    flops = 6.0 * members * batch * sum(w[0].size for w in weights) * (steps + 1)
    return (lambda: train(weights, teacher, kernels, config, fixed_batch=given)), flops


def _draw_seconds(shape: tuple[int, int, int, int], steps: int) -> float:
    """Wall time of the fresh batches' Gaussian draws alone (both engines draw the same)."""
    import numpy as np

    members, _, width, batch = shape
    rng = np.random.default_rng(0)
    return best_time(lambda: rng.standard_normal((steps + 1, members, batch, width)), 2)


def _engine_results(
    name: str,
    shape: tuple[int, int, int, int],
    steps: int,
    targets: tuple[float, float],
    batchings: tuple[str, ...],
) -> list[BenchResult]:
    members, depth, width, batch = shape
    numpy_run, flops = _training_run(*shape, steps, engine="numpy")
    rate = matmul_rate()
    slow = best_time(numpy_run, 2)
    results = []
    times = {}
    for batching in batchings:
        run, _ = _training_run(*shape, steps, engine="compiled", batching=batching)
        run()  # compile once, outside the timing
        times[batching] = best_time(run, 3)
    best = min(times, key=times.get)
    fast = times[best]
    label = f"E={members}, L={depth}, N={width}, B={batch}, {steps + 1} steps"
    detail = ", ".join(f"{b} {(steps + 1) / t:.0f} steps/s" for b, t in times.items())
    results.append(
        BenchResult(
            name,
            f"compiled ({best})",
            "NumPy engine",
            fast,
            slow,
            note=f"{label}; {detail}; NumPy {(steps + 1) / slow:.0f} steps/s",
            target=targets[0],
        )
    )
    results.append(
        BenchResult(
            f"{name}-flops",
            "compiled FLOP rate",
            "float64 matmul rate",
            fast,
            flops / rate,
            note=(
                f"{flops / fast / 1e9:.1f} GFLOP/s compiled vs {rate / 1e9:.1f} GFLOP/s for a "
                f"512² matmul (ratio = fraction of the matmul rate); NumPy engine "
                f"{flops / slow / 1e9:.1f} GFLOP/s"
            ),
            target=targets[1],
        )
    )
    if len(times) > 1:
        one, many = times["one-at-a-time"], times["batched"]
        results.append(
            BenchResult(
                f"{name}-batching",
                "batched (vmap)",
                "one at a time (lax.map)",
                many,
                one,
                note=f"{label}; the engine's automatic choice picks the faster",
            )
        )
    return results


@benchmark("train")
def bench_train(quick: bool) -> list[BenchResult]:
    """The off-manifold SGD workload (20 networks, L = 8 tanh, width 16, D 16, batch 128):
    compiled engine vs NumPy engine, and the compiled FLOP rate against a float64 matmul.
    1000 steps: a run's fixed cost (~0.15 s: host batches, transfers) is then a small part, as
    in the experiments' runs of 10⁴ steps; at 100 steps it halves the compiled rate."""
    shape, steps = (20, 8, 16, 128), 20 if quick else 1000
    results = _engine_results("train", shape, steps, (4.0, 0.15), ("auto",))
    draws = _draw_seconds(shape, steps)
    numpy_run, _ = _training_run(*shape, steps, fixed=True, engine="numpy")
    compiled_run, _ = _training_run(*shape, steps, fixed=True, engine="compiled")
    compiled_run()  # compile once, outside the timing
    results.append(
        BenchResult(
            "train-step",
            "compiled, one fixed batch",
            "NumPy engine, same batch",
            best_time(compiled_run, 3),
            best_time(numpy_run, 2),
            note=(
                f"the step without the draws (GD on a batch drawn once); the fresh batches' "
                f"Gaussian draws alone take {draws:.3f} s of the 'train' run in either engine, "
                f"and on two cores they compete with the compiled step for the same cores"
            ),
        )
    )
    step_cpu = best_time(compiled_run, 2, time.process_time)
    results.append(_ceiling("train", step_cpu, draws, results[0]))
    return results


def _ceiling(name: str, step_cpu: float, draws: float, measured: BenchResult) -> BenchResult:
    """What overlapping the draws with the step could still win: the compiled run's CPU work
    (the step's CPU seconds on a fixed batch, all threads, plus the single-threaded draws)
    spread perfectly over the usable cores, against the NumPy engine's wall time of the same
    run. If that CPU time is all work, no schedule beats this ratio at this step's cost."""
    from symescape.processes import usable_cores

    cores = usable_cores()
    return BenchResult(
        f"{name}-ceiling",
        f"(step CPU + draws) / {cores} cores",
        "NumPy engine",
        (step_cpu + draws) / cores,
        measured.baseline_seconds,
        note=(
            f"compiled step {step_cpu:.3f} CPU s (all threads, fixed batch) + draws "
            f"{draws:.3f} s, spread perfectly over {cores} cores: the '{name}' ratio overlap "
            f"alone can reach at this step's cost (measured: {measured.ratio:.1f}x)"
        ),
    )


@benchmark("ensemble")
def bench_ensemble(quick: bool) -> list[BenchResult]:
    """32 networks (L = 8, width 64, batch 512): compiled vs NumPy engine, batched and one at a
    time, the compiled FLOP rate against a float64 matmul, and the ratio perfect overlap of the
    draws with the step could reach (as ``train-ceiling``)."""
    shape, steps = (32, 8, 64, 512), 1 if quick else 39
    results = _engine_results("ensemble", shape, steps, (3.0, 0.30), ("batched", "one-at-a-time"))
    draws = _draw_seconds(shape, steps)
    compiled_run, _ = _training_run(*shape, steps, fixed=True, engine="compiled")
    compiled_run()  # compile once, outside the timing
    step_cpu = best_time(compiled_run, 2, time.process_time)
    results.append(_ceiling("ensemble", step_cpu, draws, results[0]))
    return results


@benchmark("escape-ode")
def bench_escape_ode(quick: bool) -> list[BenchResult]:
    """Our τ = ln ρ integrator vs LSODA in physical time, per escape time (tanh, balanced)."""
    import numpy as np

    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.reduced import reduced_model

    depths = (4, 6) if quick else (4, 6, 8, 10)
    epsilons = (1e-2, 1e-3) if quick else (1e-2, 1e-3, 1e-4)
    fast_total = lsoda_total = 0.0
    failures = {"fast": 0, "lsoda": 0}
    worst = 0.0
    for depth in depths:
        model = reduced_model("tanh", depth)
        for eps in epsilons:
            scales = np.full(depth, eps)
            results = {}
            for method in ("fast", "lsoda"):
                holder: list = []
                elapsed = best_time(
                    lambda m=method, h=holder, mo=model, sc=scales: h.append(
                        escape_time_ode(mo, sc, method=m)
                    ),
                    1,
                )
                results[method] = holder[-1]
                failures[method] += not holder[-1].escaped
                if method == "fast":
                    fast_total += elapsed
                else:
                    lsoda_total += elapsed
            if results["fast"].escaped and results["lsoda"].escaped:
                worst = max(worst, abs(results["fast"].time / results["lsoda"].time - 1))
    cases = len(depths) * len(epsilons)
    return [
        BenchResult(
            "escape-ode",
            "ln-ρ integrator (DOP853)",
            "LSODA, physical time",
            fast_total,
            lsoda_total,
            note=(
                f"{cases} escape times, L in {depths}, ε down to {min(epsilons):g}; failures: "
                f"ours {failures['fast']}, LSODA {failures['lsoda']}; max relative disagreement "
                f"{worst:.1e}"
            ),
            target=3.0,
        )
    ]


@benchmark("kernel")
def bench_kernel(quick: bool) -> list[BenchResult]:
    """The lambdified reduced field vs SymPy evaluation of the same expressions (tanh, L = 4)."""
    import numpy as np
    import sympy as sp

    from symescape.numeric.reduced import reduced_model
    from symescape.precision.gauss import gauss_hermite_rule
    from symescape.symbolic.chain import scalar_chain
    from symescape.symbolic.moments import S

    depth, nodes = 4, 16
    model = reduced_model("tanh", depth, nodes=nodes)
    chain = scalar_chain(model.activation, depth)
    X = np.array([0.3, 0.2, 0.25, 0.35])
    s, w = gauss_hermite_rule(nodes)
    teacher = sp.tanh(S)
    exprs = [(teacher - chain.f) * g for g in chain.gradient]
    substitution = dict(zip(chain.X, X, strict=True))

    def sympy_field() -> np.ndarray:
        return np.array(
            [
                sum(
                    float(wi) * float(e.evalf(subs={**substitution, S: si}))
                    for si, wi in zip(s, w, strict=True)
                )
                for e in exprs
            ]
        )

    slow = best_time(sympy_field, 1)
    repeats = 200 if quick else 2000
    fast = best_time(lambda: [model.field(X) for _ in range(repeats)], 3) / repeats
    gap = float(np.abs(sympy_field() - model.field(X)).max())
    return [
        BenchResult(
            "kernel",
            "lambdified NumPy field",
            "SymPy evalf of the field",
            fast,
            slow,
            note=f"L={depth}, {nodes} nodes; max |difference| {gap:.1e}",
            target=1000.0,
        )
    ]


@benchmark("relu-solver")
def bench_relu_solver(quick: bool) -> list[BenchResult]:
    """Escape directions at L = 6 (D = 8, N = 12, 4000 samples, the three-ReLU teacher; L = 4
    quick): every restart in one batched sphere L-BFGS (prune at half the best) against
    today's per-restart SciPy L-BFGS from the same starts; the note compares the optima."""
    from dataclasses import replace

    from symescape.experiments.escape_directions import (
        EscapeDirectionConfig,
        Solver,
        escape_direction,
    )

    depth, restarts = (4, 2) if quick else (6, 4)
    fast_config = EscapeDirectionConfig(depth=depth, restarts=restarts, prune=0.5)
    slow_config = replace(fast_config, solver=Solver.LBFGS, prune=None)
    found = {}
    fast = best_time(lambda: found.update(fast=escape_direction(fast_config)), 1)
    slow = best_time(lambda: found.update(slow=escape_direction(slow_config)), 1)
    a, b = found["fast"], found["slow"]
    gap = abs(a.value - b.value) / b.value
    return [
        BenchResult(
            "relu-solver",
            f"batched, {restarts} restarts",
            "per-restart L-BFGS",
            fast,
            slow,
            note=(
                f"L={depth}: g* {a.value:.10g} vs {b.value:.10g} (relative gap {gap:.1e}; "
                f"sampling error ±{b.standard_error / b.value:.0e}: the sample mean g has "
                f"kink-separated local maxima ~1e-7 apart), σ₁(W_1) "
                f"{a.layers[0].singular_values[0]:.8f} vs {b.layers[0].singular_values[0]:.8f}"
            ),
            target=10.0,
        )
    ]


@benchmark("precise-ode")
def bench_precise_ode(quick: bool) -> list[BenchResult]:
    """The mpmath ODE at 30 digits (20 quick) vs the double-precision one (tanh, L = 3)."""
    import numpy as np

    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.precise_escape import escape_time_precise
    from symescape.numeric.reduced import reduced_model

    digits, eps = (20, 0.05) if quick else (30, 0.01)
    model = reduced_model("tanh", 3)
    holder: list = []
    double = best_time(lambda: holder.append(escape_time_ode(model, np.full(3, eps))), 3)
    precise = best_time(
        lambda: holder.append(escape_time_precise("tanh", 3, [str(eps)] * 3, digits=digits)), 1
    )
    agreement = abs(float(holder[-1].time) / holder[0].time - 1)
    return [
        BenchResult(
            "precise-ode",
            "double-precision ODE (rtol 1e-10)",
            f"mpmath ODE at {digits} digits",
            double,
            precise,
            note=f"ε = {eps:g}; relative agreement {agreement:.1e} (the double ODE's tolerance)",
        )
    ]


@benchmark("series")
def bench_series(quick: bool) -> list[BenchResult]:
    """Theorem 16's series (expansion and constant built once, then evaluated per ε) vs the
    double-precision ODE per ε (tanh, L = 4, balanced)."""
    import mpmath
    import numpy as np

    from symescape.numeric.escape import escape_time_ode
    from symescape.numeric.precise_escape import expansion_constant
    from symescape.numeric.reduced import reduced_model
    from symescape.symbolic.normal_form import escape_expansion

    epsilons = np.geomspace(1e-2, 1e-4, 5 if quick else 20)
    model = reduced_model("tanh", 4)
    odes: list = []
    ode_time = best_time(
        lambda: odes.append([escape_time_ode(model, np.full(4, e)).time for e in epsilons]), 1
    )
    series: list = []

    def by_series() -> None:
        expansion = escape_expansion("tanh", 4, order=2, exact=False)
        constant = expansion_constant(expansion, "tanh").value
        with mpmath.workdps(30):
            series.append([float(expansion.local_sum(e)) + constant for e in epsilons])

    series_time = best_time(by_series, 1)
    worst = float(np.max(np.abs(np.array(series[-1]) / np.array(odes[-1]) - 1)))
    return [
        BenchResult(
            "series",
            "series: exact terms + constant",
            "double-precision ODE per ε",
            series_time,
            ode_time,
            note=(
                f"{epsilons.size} ε in [1e-4, 1e-2], the expansion and its constant built once "
                f"inside the timing; max relative disagreement {worst:.1e}"
            ),
        )
    ]


def run_benchmarks(names: list[str] | None = None, quick: bool = False) -> list[BenchResult]:
    """Run the named entries (all by default) and return their results."""
    _load_entries()
    selected = names or list(BENCHMARKS)
    unknown = [n for n in selected if n not in BENCHMARKS]
    if unknown:
        raise UnknownNameError(f"unknown benchmarks {unknown}; known: {', '.join(BENCHMARKS)}")
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
