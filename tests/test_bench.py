"""The benchmark runs and reports ratios (no timed assertions: speed lives in `symescape bench`)."""

import json

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


def test_ensemble_entry_quick_json():
    result = CliRunner().invoke(main, ["bench", "ensemble", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.output)["benchmarks"]
    assert entry["fast_seconds"] > 0 and entry["baseline_seconds"] > 0
    assert entry["ratio"] == pytest.approx(entry["baseline_seconds"] / entry["fast_seconds"])
