"""The compiled training engine (JAX) against the NumPy reference engine (issue 19)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from support import REGISTRY_NAMES

from symescape.errors import ConfigurationError, DivergenceError
from symescape.numeric import compiled
from symescape.numeric.inits import ansatz_weights, he_normal_weights
from symescape.numeric.teachers import orthonormal_teacher, single_mode_teacher
from symescape.numeric.training import (
    CHUNK_BYTES,
    DataMode,
    Engine,
    Evaluation,
    TrainingConfig,
    steps_per_chunk,
    train,
)
from symescape.symbolic.activations import REGISTRY
from symescape.symbolic.resolved import activation_kernels
from tests.tolerances import COMPILED_FLOAT32, COMPILED_VS_NUMPY

pytestmark = pytest.mark.skipif(not compiled.jax_available(), reason="JAX is not installed")

WIDTHS = [6, 5, 5, 1]  # L = 3, D = 6: small, so that each compile stays short


def both_engines(weights, teacher, kernels, config, **options):
    """The NumPy and the compiled records of the same run."""
    numpy_record = train(
        weights, teacher, kernels, dataclasses.replace(config, engine=Engine.NUMPY), **options
    )
    compiled_record = train(
        weights, teacher, kernels, dataclasses.replace(config, engine=Engine.COMPILED), **options
    )
    assert numpy_record.engine is Engine.NUMPY and compiled_record.engine is Engine.COMPILED
    return numpy_record, compiled_record


def relative_gap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.ravel(a) - np.ravel(b)) / np.linalg.norm(np.ravel(b)))


def assert_same_run(reference, other, tolerance: float) -> None:
    np.testing.assert_array_equal(reference.steps, other.steps)
    assert reference.stopped_early == other.stopped_early
    for a, b in zip(reference.weights, other.weights, strict=True):
        assert relative_gap(a, b) < tolerance
    for name in ("loss", "layer_norms", "signal", "ansatz"):
        assert relative_gap(getattr(reference, name), getattr(other, name)) < tolerance, name


ACTIVATIONS = [
    pytest.param(name, marks=() if name == "tanh" else pytest.mark.slow) for name in REGISTRY
]


@pytest.mark.parametrize("data", [DataMode.FRESH, DataMode.GAUSS_HERMITE])
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_compiled_follows_numpy_over_100_steps(name: str, data: DataMode) -> None:
    """Every registry activation, fresh Gaussian batches (the same stream fed to both engines)
    and Gauss–Hermite inputs: 100 steps agree to 1e-12 relative in float64."""
    kernels = activation_kernels(name)
    teacher = single_mode_teacher(WIDTHS[0], seed=2)
    weights = he_normal_weights(WIDTHS, ensemble=3, seed=1)
    config = TrainingConfig(
        steps=100, learning_rate=0.05, data=data, batch=16, nodes=10, record_every=9, seed=5
    )
    reference, fast = both_engines(weights, teacher, kernels, config)
    assert_same_run(reference, fast, COMPILED_VS_NUMPY)
    assert reference.loss[-1].mean() != reference.loss[0].mean()  # the run moved


def held_out_problem(steps: int, record_every: int):
    """tanh, a one-mode teacher, two He-normal members, 40 held-out points with targets, and
    SGD that stops once the held-out loss is below half its baseline."""
    kernels = activation_kernels("tanh")
    teacher = orthonormal_teacher(WIDTHS[0], [1.5])
    weights = he_normal_weights(WIDTHS, ensemble=2, seed=3)
    x_eval = np.random.default_rng(0).standard_normal((40, WIDTHS[0]))
    y_eval = teacher(x_eval, kernels)
    config = TrainingConfig(
        steps=steps,
        learning_rate=0.1,
        batch=16,
        record_every=record_every,
        stop_held_out_level=0.5 * float(np.mean(y_eval**2) / 2),
    )
    return kernels, teacher, weights, x_eval, y_eval, config


def test_held_out_evaluation_masks_stop_and_history_follow_numpy() -> None:
    """The hooks experiments use: a held-out set with a stop level, masked updates, recorded
    weights; both engines stop at the same step with the same records."""
    kernels, teacher, weights, x_eval, y_eval, config = held_out_problem(400, 10)
    masks = [np.triu(np.ones(w.shape[1:])) for w in weights]
    options = dict(
        evaluation=Evaluation(x_eval, y_eval, teacher.directions[0]),
        masks=masks,
        keep_weights=True,
    )
    reference, fast = both_engines(weights, teacher, kernels, config, **options)
    assert reference.stopped_early  # the stop level was reached before step 400
    assert_same_run(reference, fast, COMPILED_VS_NUMPY)
    for name in ("loss", "signal", "gradient_norms"):
        a, b = getattr(reference.evaluation, name), getattr(fast.evaluation, name)
        assert relative_gap(a, b) < COMPILED_VS_NUMPY, name
    for a, b in zip(reference.weight_history, fast.weight_history, strict=True):
        assert relative_gap(a, b) < COMPILED_VS_NUMPY
    for w, w0, m in zip(fast.weights, weights, masks, strict=True):
        np.testing.assert_array_equal((w - w0)[:, m == 0], 0.0)  # masked entries never move


def test_held_out_evaluation_without_gradient_norms() -> None:
    """``record_gradient_norms=False`` leaves out ||∂M/∂W_l||² (None) in both engines and changes
    nothing else: the held-out loss and signal, and the stop step, are those of the full
    evaluation."""
    kernels, teacher, weights, x_eval, y_eval, config = held_out_problem(300, 1)
    full = Evaluation(x_eval, y_eval, teacher.directions[0])
    light = dataclasses.replace(full, record_gradient_norms=False)
    with_norms = train(weights, teacher, kernels, config, evaluation=full)
    reference, fast = both_engines(weights, teacher, kernels, config, evaluation=light)
    for run in (reference, fast):
        assert run.evaluation.gradient_norms is None
        np.testing.assert_array_equal(run.steps, with_norms.steps)
        for name in ("loss", "signal"):
            a, b = getattr(run.evaluation, name), getattr(with_norms.evaluation, name)
            assert relative_gap(a, b) < COMPILED_VS_NUMPY, name
    assert with_norms.evaluation.gradient_norms.shape == (len(with_norms.steps), 2, len(WIDTHS) - 1)


def test_stop_fraction_one_at_a_time_and_float32() -> None:
    """The loss-fraction stop rule; one member at a time equals the batched ensemble; float32
    follows float64 to single-precision round-off."""
    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(WIDTHS[0], amplitude=2.0)
    weights = he_normal_weights(WIDTHS, ensemble=2, seed=4)
    config = TrainingConfig(
        steps=300, learning_rate=0.1, data=DataMode.FIXED, batch=16, stop_loss_fraction=0.5
    )
    reference, fast = both_engines(weights, teacher, kernels, config)
    assert reference.stopped_early
    assert_same_run(reference, fast, COMPILED_VS_NUMPY)
    single = train(weights, teacher, kernels, dataclasses.replace(config, batching="one-at-a-time"))
    assert_same_run(fast, single, COMPILED_VS_NUMPY)
    low = train(weights, teacher, kernels, dataclasses.replace(config, precision="float32"))
    for a, b in zip(fast.weights, low.weights, strict=True):
        assert relative_gap(b, a) < COMPILED_FLOAT32


@pytest.mark.parametrize("batching", ["batched", "one-at-a-time"])
def test_an_ensemble_split_over_host_devices_follows_numpy(batching: str) -> None:
    """Four members: split over two host devices when JAX has them (one per core), both ways of
    stepping the members; the split run is the NumPy run to 1e-12."""
    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(WIDTHS[0], seed=2)
    weights = he_normal_weights(WIDTHS, ensemble=4, seed=7)
    config = TrainingConfig(
        steps=60,
        learning_rate=0.05,
        data=DataMode.FRESH,
        batch=16,
        record_every=7,
        batching=batching,
    )
    reference, fast = both_engines(weights, teacher, kernels, config)
    assert_same_run(reference, fast, COMPILED_VS_NUMPY)


def test_a_callers_sampler_split_over_host_devices_follows_numpy() -> None:
    """A caller's sampler feeds both engines the same inputs: the same run."""
    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(WIDTHS[0], seed=2)
    weights = he_normal_weights(WIDTHS, ensemble=4, seed=7)
    config = TrainingConfig(
        steps=40, learning_rate=0.05, data=DataMode.FRESH, batch=16, record_every=7
    )

    def run(engine: Engine):
        rng = np.random.default_rng(11)  # the same stream for each engine
        sampler = lambda shape: rng.uniform(-2, 2, (*shape, WIDTHS[0]))  # noqa: E731
        options = dataclasses.replace(config, engine=engine)
        return train(weights, teacher, kernels, options, sampler=sampler)

    reference, fast = run(Engine.NUMPY), run(Engine.COMPILED)
    assert reference.engine is Engine.NUMPY and fast.engine is Engine.COMPILED
    assert_same_run(reference, fast, COMPILED_VS_NUMPY)


@pytest.mark.parametrize(
    ("sampler", "message"),
    [
        (lambda shape: np.zeros((*shape, WIDTHS[0] - 1)), "sampler gave inputs of shape"),
        (lambda shape: np.zeros((2, *shape[1:], WIDTHS[0])), "sampler gave inputs of shape"),
        (lambda shape: np.full((*shape, WIDTHS[0]), np.nan), "NaN or inf"),
    ],
    ids=["dimension", "steps", "nan"],
)
def test_a_bad_sampler_is_refused_by_name(sampler, message: str) -> None:
    """Not an engine's shape error, nor a divergence that blames the learning rate."""
    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(WIDTHS[0])
    weights = he_normal_weights(WIDTHS, ensemble=2, seed=7)
    config = TrainingConfig(steps=5, learning_rate=0.05, data=DataMode.FRESH, batch=4)
    for engine in Engine:
        with pytest.raises(ConfigurationError, match=message):
            options = dataclasses.replace(config, engine=engine)
            train(weights, teacher, kernels, options, sampler=sampler)


@pytest.mark.parametrize("steps", [0, 1, 95, 96, 97, 1000, 5000])
@pytest.mark.parametrize("fixed", [False, True])
def test_a_run_is_cut_into_equal_chunks_under_the_budget(steps: int, fixed: bool) -> None:
    """Every chunk computes all its steps (the last is padded to the compiled length), so the
    run is cut into as few chunks as the budget allows, of equal length: fewer than one step
    per chunk computed past the last (1001 steps in the budget's 96 computed 1056)."""
    weights = he_normal_weights([16] * 8 + [1], ensemble=20, seed=0)
    config = TrainingConfig(steps=steps, learning_rate=0.1, data=DataMode.FRESH, batch=128)
    total = steps + 1
    if fixed:  # about 2³¹ FLOP per chunk, at most 4096 steps
        data = (np.zeros((20, 128, 16)), np.zeros((20, 128)), None)
        limit = min(total, 4096, (1 << 31) // (6 * 128 * 20 * (7 * 16 * 16 + 16) + 1))
    else:  # the fed batches under CHUNK_BYTES, at most 1024 steps
        data = None
        limit = min(total, 1024, CHUNK_BYTES // (8 * 20 * 128 * 17))
    chunk = steps_per_chunk(config, weights, data)
    chunks = -(-total // chunk)
    assert chunk <= limit and chunks == -(-total // limit)
    assert chunks * chunk - total < chunks
    if steps == 1000 and not fixed:
        assert (chunk, chunks) == (91, 11)


def test_a_run_of_many_chunks_compiles_its_program_once(caplog: pytest.LogCaptureFixture) -> None:
    """The carry starts placed as the program returns it, so the second chunk reuses the first
    chunk's program (an uncommitted first carry compiled it again: 0.8 s per split run)."""
    import logging

    import jax

    if len(jax.devices()) < 2:
        pytest.skip("one host device: the run is not split, nothing to retrace")
    kernels = activation_kernels("tanh")
    widths = (5, 7, 7, 1)  # shapes no other test compiles
    teacher = single_mode_teacher(widths[0], seed=2)
    weights = he_normal_weights(widths, ensemble=4, seed=7)
    config = TrainingConfig(
        steps=3000, learning_rate=0.05, data=DataMode.FRESH, batch=9, record_every=500
    )
    with caplog.at_level(logging.WARNING), jax.log_compiles(True):
        record = train(weights, teacher, kernels, config)
    assert record.steps[-1] == 3000  # several chunks ran
    compiles = [r for r in caplog.records if "Compiling jit(chunk)" in r.getMessage()]
    assert len(compiles) == 1, [r.getMessage()[-300:] for r in compiles]


@pytest.mark.parametrize("rule", ["stop", "divergence"])
def test_a_run_ending_with_a_chunk_queued_behind_is_the_numpy_run(
    rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compiled engine queues the next chunk before collecting the running one. A run that
    ends (a stop rule, or a divergence) in a middle chunk, with the next chunk already queued,
    must still report the NumPy engine's steps, records and weights: the queued chunk is
    discarded. Chunks of 10 steps here (the byte budget per chunk patched small)."""
    from symescape.numeric import training

    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(WIDTHS[0], amplitude=2.0)
    weights = he_normal_weights(WIDTHS, ensemble=2, seed=4)
    batch = 16
    monkeypatch.setattr(training, "CHUNK_BYTES", 10 * 8 * 2 * batch * (WIDTHS[0] + 1))
    rate, stop = (0.05, 0.1) if rule == "stop" else (3.0, None)
    config = TrainingConfig(
        steps=300, learning_rate=rate, data=DataMode.FRESH, batch=batch, record_every=7,
        stop_loss_fraction=stop,
    )  # fmt: skip
    if rule == "divergence":
        steps = []
        for engine in Engine:
            with pytest.raises(DivergenceError) as caught:
                train(weights, teacher, kernels, dataclasses.replace(config, engine=engine))
            steps.append(caught.value.step)
        assert steps[0] == steps[1] and 20 <= steps[0] < 290, steps  # a middle chunk
        return
    reference, fast = both_engines(weights, teacher, kernels, config)
    assert reference.stopped_early and 20 <= reference.steps[-1] < 290  # a middle chunk
    assert reference.steps[-1] % 10 != 9  # not a chunk's last step: the chunk runs on past it
    assert_same_run(reference, fast, COMPILED_VS_NUMPY)


def test_ensemble_groups_divide_the_members() -> None:
    import jax

    devices = len(jax.devices())
    for members in range(1, 13):
        groups = compiled.ensemble_groups(members)
        assert members % groups == 0 and 1 <= groups <= devices
        if members % devices == 0:
            assert groups == devices


def test_host_devices_are_configured_before_jax_starts() -> None:
    """In a fresh interpreter the compiled engine exposes the asked number of host devices."""
    import os
    import subprocess
    import sys

    code = (
        "from symescape.numeric.compiled import ensemble_groups; g = ensemble_groups(6); "
        "import jax; print(len(jax.devices()), g, ensemble_groups(5))"
    )
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env[compiled.HOST_DEVICES_VARIABLE] = "3"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["3", "3", "1"]


def test_planned_flags_add_one_device_per_core_and_single_threaded_eigen_never_over_the_users(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(compiled.HOST_DEVICES_VARIABLE, "3")
    monkeypatch.setenv("XLA_FLAGS", "--xla_dummy=1")
    assert compiled.planned_xla_flags().split() == [
        "--xla_dummy=1",
        "--xla_force_host_platform_device_count=3",
        "--xla_cpu_multi_thread_eigen=false",
    ]
    mine = "--xla_cpu_multi_thread_eigen=true --xla_force_host_platform_device_count=5"
    monkeypatch.setenv("XLA_FLAGS", mine)
    assert compiled.planned_xla_flags() == mine
    monkeypatch.setenv(compiled.HOST_DEVICES_VARIABLE, "1")  # one device keeps Eigen's threads
    monkeypatch.delenv("XLA_FLAGS")
    assert compiled.planned_xla_flags() == ""


def test_a_callers_fixed_batch_with_unequal_widths_follows_numpy() -> None:
    """``fixed_batch``: the caller's inputs (shared by the members) and arbitrary targets; unequal
    widths record no ansatz scalars."""
    kernels = activation_kernels("sin")
    teacher = single_mode_teacher(6)
    weights = he_normal_weights([6, 4, 3, 1], ensemble=2, seed=6)
    x = np.random.default_rng(1).standard_normal((24, 6))
    y = np.cos(x[:, 0]) * x[:, 1]
    config = TrainingConfig(steps=100, learning_rate=0.05, record_every=25)
    reference, fast = both_engines(weights, teacher, kernels, config, fixed_batch=(x, y, None))
    assert reference.ansatz is None and fast.ansatz is None
    for a, b in zip(reference.weights, fast.weights, strict=True):
        assert relative_gap(a, b) < COMPILED_VS_NUMPY
    assert relative_gap(reference.loss, fast.loss) < COMPILED_VS_NUMPY


def test_ansatz_stop_ends_both_engines_at_the_same_record() -> None:
    """``stop_ansatz_level``: the run ends at the first record where every member's
    (Π|X_l|)^{1/L} has reached ρ*, on both engines."""
    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(4, amplitude=2.0)
    weights = ansatz_weights(np.full((2, 3), 0.3), teacher.directions[0], 4)
    config = TrainingConfig(
        steps=3000, learning_rate=0.2, batch=32, record_every=5, stop_ansatz_level=0.5
    )
    reference, fast = both_engines(weights, teacher, kernels, config)
    assert reference.stopped_early
    assert_same_run(reference, fast, COMPILED_VS_NUMPY)
    rho = np.exp(np.log(np.abs(fast.ansatz)).mean(axis=2))
    assert np.all(rho[-1] >= 0.5) and not np.all(rho[-2] >= 0.5)


def test_divergence_is_reported_at_the_step_numpy_reports() -> None:
    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(WIDTHS[0])
    weights = he_normal_weights(WIDTHS, ensemble=2, seed=0)
    config = TrainingConfig(steps=500, learning_rate=50.0, data=DataMode.FIXED, batch=8)
    steps = []
    for engine in Engine:
        with pytest.raises(DivergenceError, match="diverged at step") as caught:
            train(weights, teacher, kernels, dataclasses.replace(config, engine=engine))
        steps.append(caught.value.step)
    assert steps[0] == steps[1] > 0


@pytest.mark.parametrize("batching", ["batched", "one-at-a-time"])
@pytest.mark.parametrize("order", [(0, 1, 2, 3), (2, 3, 0, 1)])  # first to diverge: 1, then 2
def test_members_diverging_at_different_steps_report_the_earliest(
    batching: str, order: tuple[int, ...]
) -> None:
    # Divergence is tracked per member inside the compiled loop (no per-step reduction over
    # the ensemble, which is split over the devices) and the chunk runs on past it: the step
    # and the members named must be the NumPy engine's, whichever device holds the member that
    # diverges first (the two orders put it in the first half of the ensemble, then in the
    # second), and at least two members diverge inside the (one-chunk) run, so that taking
    # any member's step but the earliest would show.
    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(WIDTHS[0])
    weights = [w[list(order)] for w in he_normal_weights(WIDTHS, ensemble=4, seed=0)]
    x = np.random.default_rng(0).standard_normal((4, 8, WIDTHS[0]))
    y = teacher(x, kernels)
    config = TrainingConfig(steps=400, learning_rate=2.0, batching=batching)

    def diverged_at(engine: Engine, members: list[int]) -> DivergenceError:
        with pytest.raises(DivergenceError, match="diverged at step") as error:
            train(
                [w[members] for w in weights], teacher, kernels,
                dataclasses.replace(config, engine=engine),
                fixed_batch=(x[members], y[members], None),
            )  # fmt: skip
        return error.value

    alone = [diverged_at(Engine.NUMPY, [m]).step for m in range(4)]
    assert len(set(alone)) >= 2
    caught = [diverged_at(engine, [0, 1, 2, 3]) for engine in Engine]
    assert caught[0].step == caught[1].step == min(alone)
    assert str(caught[0]) == str(caught[1])
    assert f"members [{alone.index(min(alone))}]" in str(caught[1])


def test_without_jax_the_numpy_engine_runs_after_a_notice(monkeypatch, capsys) -> None:
    monkeypatch.setattr(compiled, "jax_available", lambda: False)
    from symescape.numeric import training

    training._notice.cache_clear()
    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(WIDTHS[0])
    weights = he_normal_weights(WIDTHS, seed=0)
    record = train(weights, teacher, kernels, TrainingConfig(steps=3, learning_rate=0.1))
    assert record.engine is Engine.NUMPY
    notice = capsys.readouterr().err.strip().splitlines()
    assert len(notice) == 1 and "JAX is not installed" in notice[0]


def test_bad_hook_input_is_refused() -> None:
    kernels = activation_kernels("tanh")
    teacher = single_mode_teacher(WIDTHS[0])
    weights = he_normal_weights(WIDTHS, seed=0)
    config = TrainingConfig(steps=3, learning_rate=0.1)
    with pytest.raises(ConfigurationError, match="masks"):
        train(weights, teacher, kernels, config, masks=[np.ones((2, 2))])
    with pytest.raises(ConfigurationError, match="evaluation"):
        train(weights, teacher, kernels, dataclasses.replace(config, stop_held_out_level=0.1))


@pytest.mark.parametrize("name", [*REGISTRY_NAMES, "x + x**2/3"])
def test_compiled_gradient_field_is_the_numpy_backward_pass(name):
    # the block-mean flows integrate −∇𝓛 on fixed weighted nodes thousands of times; the
    # compiled program must be the NumPy engine's loss_and_gradients, term by term
    from symescape.numeric.losses import SQUARED
    from symescape.numeric.network import flatten_weights, loss_and_gradients, unflatten_weights

    rng = np.random.default_rng(7)
    shapes = ((4, 3), (4, 4), (1, 4))
    x = rng.standard_normal((300, 3))
    y = np.tanh(x @ np.array([1.0, -0.5, 0.25]))
    bw = rng.random(300)
    bw /= bw.sum()
    kernels = activation_kernels(name)
    field = compiled.compiled_gradient_field(kernels.activation, shapes, x, y, bw)
    for _ in range(3):
        theta = rng.standard_normal(sum(a * b for a, b in shapes))
        weights = unflatten_weights(theta, shapes)
        _, _, grads = loss_and_gradients(weights, x, y, SQUARED, kernels, bw)
        reference = -flatten_weights(grads.gradients)
        got = field(theta)
        assert np.max(np.abs(got - reference)) <= COMPILED_VS_NUMPY * np.max(np.abs(reference))


def test_the_block_mean_field_runs_compiled_and_falls_back_without_jax(monkeypatch):
    from symescape.experiments.multimode import CascadeConfig, multimode_family

    family = multimode_family(CascadeConfig(eps=0.05, nodes=6), 1.0)
    problem = family.problem
    theta = family.x0 + 0.01 * np.random.default_rng(3).standard_normal(family.x0.size)
    numpy_pass = problem.field(theta.astype(complex)).real  # complex steps: the NumPy pass
    calls = []
    built = problem.compiled_field
    assert built is not None
    problem.__dict__["compiled_field"] = lambda t: calls.append(1) or built(t)  # a spy
    compiled_pass = problem.field(theta)
    assert calls == [1]  # the real θ took the compiled program
    scale = np.max(np.abs(numpy_pass))
    assert np.max(np.abs(compiled_pass - numpy_pass)) <= COMPILED_VS_NUMPY * scale
    monkeypatch.setattr(compiled, "jax_available", lambda: False)
    plain = dataclasses.replace(problem)  # a new problem, its compiled field not yet built
    assert plain.compiled_field is None
    assert np.max(np.abs(plain.field(theta) - numpy_pass)) <= 1e-14 * scale
