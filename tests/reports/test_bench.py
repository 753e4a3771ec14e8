"""The benchmark runs and reports ratios (no timed assertions: speed lives in `symescape bench`)."""

import json
import math

import pytest
from click.testing import CliRunner

from symescape.cli import main
from symescape.reports.bench import BenchResult, format_results, run_benchmarks


def test_ratio_and_target_logic():
    r = BenchResult("x", "fast", "slow", 0.5, 2.0, target=3.0)
    assert r.ratio == 4.0 and r.meets_target is True
    assert "met" in format_results([r])


def test_unknown_entry():
    with pytest.raises(ValueError, match="unknown benchmarks"):
        run_benchmarks(["nope"])


@pytest.mark.parametrize(
    ("entry", "names"),
    [
        ("train", ["train", "train-flops", "train-step", "train-ceiling"]),
        pytest.param(
            "ensemble",
            ["ensemble", "ensemble-flops", "ensemble-batching", "ensemble-ceiling"],
            marks=pytest.mark.slow,  # three compilations at width 64: ~17 s
        ),
    ],
)
def test_engine_entries_quick_json(entry: str, names: list[str]) -> None:
    result = CliRunner().invoke(main, ["bench", entry, "--quick", "--json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)["benchmarks"]
    assert [e["name"] for e in entries] == names
    # Both sides were timed in this run (finite, positive), and the verdict field is the
    # comparison of the printed ratio with the printed target.
    for entry in entries:
        for key in ("fast_seconds", "baseline_seconds", "ratio"):
            assert math.isfinite(entry[key]) and entry[key] > 0, key
        if entry["target"] is None:
            assert entry["meets_target"] is None
        else:
            assert entry["meets_target"] is (entry["ratio"] >= entry["target"])
