"""The results cache shared by commands: keyed by a fingerprint of the code and environment,
off in the test suite, and giving figure 5 the fig5-cascade claim's runs."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from symescape.experiments import results_cache as rc
from symescape.experiments.sweeps import SweepStore


def test_the_suite_runs_with_sharing_off() -> None:
    assert os.environ["SYMESCAPE_RESULTS_CACHE"] == "off"
    assert rc.results_cache() is None


def test_source_fingerprint_changes_with_any_byte_and_any_name(tmp_path: Path) -> None:
    package = Path(rc.__file__).resolve().parents[1]
    copy = tmp_path / "copy"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    original = rc.source_fingerprint(copy)
    assert original == rc.source_fingerprint(package)
    target = copy / "options.py"
    text = target.read_text()
    target.write_text(text + " ")
    edited = rc.source_fingerprint(copy)
    target.write_text(text)
    assert rc.source_fingerprint(copy) == original
    (copy / "options.py").rename(copy / "options_renamed.py")
    renamed = rc.source_fingerprint(copy)
    assert len({original, edited, renamed}) == 3


def test_environment_fingerprint_names_library_versions_and_xla_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib import metadata

    text = rc.environment_fingerprint()
    assert f"numpy={metadata.version('numpy')}" in text
    assert f"sympy={metadata.version('sympy')}" in text
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", "") + " --xla_dummy_flag=1")
    assert rc.environment_fingerprint() != text


def test_folder_follows_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(rc.RESULTS_CACHE_VARIABLE, str(tmp_path))
    folder = rc.results_cache_folder()
    assert folder == tmp_path / rc.code_fingerprint()[:20]
    monkeypatch.setenv(rc.RESULTS_CACHE_VARIABLE, "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert rc.results_cache_folder() == (
        tmp_path / "xdg" / "symescape" / "results" / rc.code_fingerprint()[:20]
    )


def test_stale_folders_of_other_code_are_removed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(rc.RESULTS_CACHE_VARIABLE, str(tmp_path))
    old, recent, other = tmp_path / ("a" * 20), tmp_path / ("b" * 20), tmp_path / "keep-me"
    for folder in (old, recent, other):
        folder.mkdir()
    ancient = time.time() - (rc.STALE_AFTER_DAYS + 1) * 86400
    os.utime(old, (ancient, ancient))
    os.utime(other, (ancient, ancient))
    store = rc.results_cache()
    assert store is not None
    assert not old.exists()
    assert recent.exists() and other.exists()  # recent, or not a fingerprint folder


def test_a_shared_point_is_computed_once(tmp_path: Path) -> None:
    shared = SweepStore(tmp_path / "shared")
    calls = []

    def compute() -> dict:
        calls.append(1)
        return {"values": (1.5, float("nan")), "n": 3}

    first = SweepStore(tmp_path / "first", shared=shared)
    one = first.get({"k": 1}, compute)
    second = SweepStore(tmp_path / "second", shared=shared)
    two = second.get({"k": 1}, compute)
    assert len(calls) == 1
    assert (first.computed, first.shared, second.computed, second.shared) == (1, 0, 0, 1)
    # the same values of the same types on the computing and the reusing side (JSON: lists)
    assert repr(one) == repr(two) == "{'values': [1.5, nan], 'n': 3}"
    # the reusing side keeps its own copy: a rerun resumes from its own folder
    again = SweepStore(tmp_path / "second", shared=shared)
    again.get({"k": 1}, compute)
    assert (again.reused, len(calls)) == (1, 1)
    # other parameters are computed
    second.get({"k": 2}, compute)
    assert len(calls) == 2


@pytest.mark.slow
def test_figure5_reuses_the_fig5_cascade_claims_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from symescape.experiments.verification import verify
    from symescape.reports.figure5 import figure5

    monkeypatch.setenv(rc.RESULTS_CACHE_VARIABLE, str(tmp_path / "cache"))
    (claim,) = verify(ids="fig5-cascade", quick=True)
    result = figure5(str(tmp_path / "out"), quick=True)
    # quick's claim leaves the block-mean flow (context, not verdict) to the figure
    assert (
        "runs computed 1, reused from the output folder 0, from the results cache 2"
        in "\n".join(result["summary"])
    )
    assert result["real_networks"]["8"]["stage_times"] == claim.details["real_networks"]["8"][
        "stage_times"
    ]
    assert list(claim.details["plateaus"]) == ["decoupled"]
    assert claim.details["plateaus"]["decoupled"] == result["plateaus"]["decoupled"]


def test_relu_figure_reuses_the_relu_low_rank_claims_searches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from symescape.experiments.claims_relu import LOW_RANK_TEACHERS, low_rank_settings
    from symescape.experiments.escape_directions import (
        EscapeDirectionConfig,
        depth_sweep,
        optima_search_key,
        search_optima,
    )

    monkeypatch.setenv(rc.RESULTS_CACHE_VARIABLE, str(tmp_path / "cache"))
    # the full-mode claim searches the figure's teacher at the figure's settings
    depths, teachers, settings = low_rank_settings(quick=False)
    teacher, outputs = LOW_RANK_TEACHERS[0]
    assert (teacher, outputs) in teachers
    config = EscapeDirectionConfig(depth=3, teacher=teacher, outputs=outputs, **settings)
    store = rc.results_cache()
    assert store is not None
    record = search_optima(config).record()
    store.get(optima_search_key(config), lambda: record)
    figure_store = SweepStore(tmp_path / "out", shared=rc.results_cache())
    (row,) = depth_sweep((3,), quick=False, store=figure_store, teacher=teacher, outputs=outputs)
    assert (figure_store.computed, figure_store.shared) == (0, 1)
    assert row["value"] == record["value"] and len(row["optima"]) == len(record["optima"])
    assert set(depths) >= {3, 4, 6, 8, 10}


def test_off_manifold_runs_are_shared_under_every_setting(tmp_path: Path) -> None:
    from symescape.experiments.off_manifold import OffManifoldConfig, stored_off_manifold_run

    config = OffManifoldConfig(depth=3, width=4, input_dim=4, seeds=1, max_steps=40)
    shared = SweepStore(tmp_path / "cache")
    claim_side = stored_off_manifold_run(config, 2, [0.5], shared)
    figure_store = SweepStore(tmp_path / "out", shared=shared)
    figure_side = stored_off_manifold_run(config, 2, [0.5], figure_store)
    assert (figure_store.computed, figure_store.shared) == (0, 1)
    assert figure_side == claim_side
    # another setting (here the evaluation interval) is another run
    other = OffManifoldConfig(depth=3, width=4, input_dim=4, seeds=1, max_steps=40, eval_every=5)
    stored_off_manifold_run(other, 2, [0.5], figure_store)
    assert figure_store.computed == 1


def test_an_unwritable_cache_warns_and_computes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from symescape.errors import ResultsCacheWarning

    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the cache folder's parent should be
    monkeypatch.setenv(rc.RESULTS_CACHE_VARIABLE, str(blocked / "cache"))
    with pytest.warns(ResultsCacheWarning, match="cannot be written"):
        assert rc.results_cache() is None
    # a figure's store whose shared store fails on write keeps its own point
    shared = SweepStore(blocked / "shared")
    store = SweepStore(tmp_path / "out", shared=shared)
    with pytest.warns(ResultsCacheWarning, match="not written"):
        assert store.get({"k": 1}, lambda: {"v": 2.0}) == {"v": 2.0}
    assert store.lookup({"k": 1}) == {"v": 2.0}


def test_an_empty_xdg_cache_home_is_unset_and_no_home_is_no_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(rc.RESULTS_CACHE_VARIABLE, "")
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = rc.results_cache_folder()
    assert folder is not None and folder.is_absolute()
    assert folder.parent == tmp_path / ".cache" / "symescape" / "results"

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert rc.results_cache_folder() is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert rc.results_cache_folder().parent == tmp_path / "xdg" / "symescape" / "results"


def test_using_the_cache_marks_its_folder_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(rc.RESULTS_CACHE_VARIABLE, str(tmp_path))
    folder = rc.results_cache_folder()
    folder.mkdir(parents=True)
    ancient = time.time() - (rc.STALE_AFTER_DAYS + 1) * 86400
    os.utime(folder, (ancient, ancient))
    assert rc.results_cache() is not None
    assert folder.stat().st_mtime > time.time() - 60


def test_importing_the_package_leaves_xla_flags_alone() -> None:
    # the fingerprint reads the flags the engine will run with; it must not set them (a user's
    # own JAX code after `import symescape` would otherwise see forced host devices)
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    code = "import os, symescape; print(os.environ.get('XLA_FLAGS'))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "None"


def test_full_mode_thm11_off_manifold_hands_figure4_its_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The hand-off itself, not only the store: the full-mode claim must write, under figure 4's
    # settings and windows, the r = 3 and 5 runs that `reproduce fig4` then reads. Training is
    # replaced by a stub following the law T ∝ ε^{−(r−2)} exactly (seconds, not minutes).
    from symescape.experiments import off_manifold
    from symescape.experiments.verification import verify
    from symescape.reports.figure4 import figure4

    computed: list[tuple[str, int]] = []

    def stub(
        config: off_manifold.OffManifoldConfig, r: int, eps: list[float], progress: bool = False
    ) -> off_manifold.OffManifoldRun:
        computed.append((config.activation, r))
        seeds = range(config.seeds)
        steps = [
            [[1000.0 * (1 + 0.1 * seed) * e ** (2.0 - r) for seed in seeds] for e in eps]
            for _ in config.thresholds
        ]
        members = len(eps) * config.seeds
        norms = [[[1.0] * config.depth] * members]
        return off_manifold.OffManifoldRun(
            r, list(eps), list(config.thresholds), steps, [0], [[0.0] * members], norms
        )

    monkeypatch.setattr(off_manifold, "off_manifold_run", stub)
    monkeypatch.setenv(rc.RESULTS_CACHE_VARIABLE, str(tmp_path / "cache"))
    (claim,) = verify(ids="thm11-off-manifold", quick=False)
    assert claim.verdict.value == "pass"
    computed.clear()
    result = figure4(str(tmp_path / "out"), quick=False)
    # only r = 8 is left for the figure to compute
    assert computed == [("tanh", 8)]
    assert "computed 1" in result["summary"][-1] and "results cache 2" in result["summary"][-1]
