"""Saddle-to-saddle dynamics of deep ReLU networks (issue 16, MATH.md §10)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from symescape import ConfigurationError
from symescape.cli import main
from symescape.experiments.saddle_to_saddle import (
    FlowError,
    SaddleConfig,
    effective_ranks,
    find_plateaus,
    saddle_to_saddle,
)

QUICK = {"samples": 300, "depth": 3, "outputs": 2, "init_scale": 1e-2}


@pytest.fixture(scope="module")
def two_units():
    # y = (3 relu(v_1·x), relu(v_2·x)) with v_1 ⊥ v_2: fitting it needs rank 2 at the bottleneck
    # (two independent ReLU units), and the stronger unit is learnt first.
    return saddle_to_saddle(SaddleConfig(teacher="units:3,1", **QUICK))


def test_rank_two_teacher_shows_a_rank_two_plateau(two_units):
    ranks = two_units.bottleneck_ranks
    # The origin (rank 0), a saddle of bottleneck rank 1, then a plateau of rank 2.
    assert ranks[0] == 0 and 1 in ranks and 2 in ranks
    one, two = ranks.index(1), ranks.index(2)
    assert one < two
    plateaus = two_units.plateaus
    # Each later plateau has a lower loss; the rank-1 saddle sits near the loss left by the
    # weaker unit alone, E[relu(z)²]/2 = 1/4, within the sampling error of 300 inputs.
    assert plateaus[two].loss < plateaus[one].loss < plateaus[0].loss
    assert plateaus[one].loss == pytest.approx(0.25, rel=0.4)
    # Plateaus are ordered and disjoint in time.
    spans = [(p.start, p.end) for p in plateaus]
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))
    record = two_units.record()
    assert set(record["plateaus"][0]) == {
        "start", "end", "loss", "layer_ranks", "bottleneck_rank", "singular_values", "final"
    }  # fmt: skip
    # Only the state where the flow was stopped (loss below 1 % of its start) is final, and it
    # ends where the flow stopped; the grid now ends there too (it spans the run, not --time).
    assert [p["final"] for p in record["plateaus"]][:-1] == [False] * (len(plateaus) - 1)
    if record["stopped"] is not None:
        assert record["plateaus"][-1]["final"]
        assert record["plateaus"][-1]["end"] == record["stopped"] == record["time"]


def test_a_large_start_is_reported_as_not_small(two_units):
    # 𝓛(0) = E|y|²/2 with y = (3 relu(s₁), relu(s₂)): (9 + 1)/4 = 2.5 in law, from 300 samples
    assert two_units.origin_loss == pytest.approx(2.5, rel=0.2)
    assert two_units.start_is_small and two_units.record()["start_is_small"]
    large = saddle_to_saddle(SaddleConfig(teacher="units:3,1", **{**QUICK, "init_scale": 100.0}))
    assert large.loss[0] > 100 * large.origin_loss and not large.start_is_small
    result = CliRunner().invoke(main, ["saddle-to-saddle", "--samples", "200",
                                       "--init-scale", "100"])  # fmt: skip
    assert result.exit_code == 0 and "the start is not small" in result.stderr


def test_plateau_detection_on_a_staircase():
    times = np.linspace(0, 30, 301)
    loss = np.where(times < 10, 3.0, np.where(times < 20, 1.0, 0.1))
    runs = find_plateaus(times, loss, window=5, flat=1e-3, min_windows=2)
    assert len(runs) == 3
    assert [round(times[i]) for i, _ in runs] == [0, 10, 20]


def test_effective_ranks_against_a_reference():
    w = np.diag([1.0, 0.5, 1e-3])
    assert effective_ranks((w,), 0.1)[0] == (2,)
    # Against a larger reference scale (the layer's largest σ₁ along the run) small layers
    # count as rank 0: the ε-sized start is the saddle at the origin.
    assert effective_ranks((1e-3 * w,), 0.1, np.array([1.0]))[0] == (0,)


def test_cli_json_and_bad_input():
    result = CliRunner().invoke(
        main,
        ["saddle-to-saddle", "--depth", "3", "--outputs", "2", "--teacher", "units:3,1",
         "--samples", "200", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    keys = {"start", "end", "loss", "layer_ranks", "bottleneck_rank"}
    assert payload["plateaus"] and keys <= set(payload["plateaus"][0])
    bad = CliRunner().invoke(main, ["saddle-to-saddle", "--init-scale", "0"])
    assert bad.exit_code == 2 and "--init-scale must be > 0" in bad.output
    with pytest.raises(ConfigurationError, match="rank_threshold"):
        SaddleConfig(rank_threshold=1.5)
    with pytest.raises(ConfigurationError, match="unknown teacher"):
        SaddleConfig(teacher="nope")


def test_the_plateaus_do_not_depend_on_the_time_asked_for_beyond_the_stop():
    # a flow that stops at t ≈ 1018 showed ranks 0, 1, 2 with --time 2000, 0, 2 with 20000 and
    # 2 alone with 1e5: the 600-point grid spanned the time asked for (a hostile pass)

    outputs = [
        CliRunner().invoke(main, ["saddle-to-saddle", "--time", t, "--json"]).stdout
        for t in ("2000", "100000")
    ]
    first, second = (json.loads(o) for o in outputs)
    assert first["stopped"] is not None
    assert [p["bottleneck_rank"] for p in first["plateaus"]] == [0, 1, 2]
    assert first["plateaus"] == second["plateaus"]


def test_a_flow_that_never_leaves_its_start_is_no_escape():
    # ε = 1e-300 was shown as one plateau with the random start's ranks [6, 9, 2], exit 0
    result = CliRunner().invoke(main, ["saddle-to-saddle", "--init-scale", "1e-300"])
    assert result.exit_code == 1 and "no escape: the flow did not leave its start" in result.output
    record = json.loads(
        CliRunner().invoke(main, ["saddle-to-saddle", "--init-scale", "1e-300", "--json"]).stdout
    )
    assert record["left_start"] is False
    default = json.loads(CliRunner().invoke(main, ["saddle-to-saddle", "--json"]).stdout)
    assert default["left_start"] is True


def test_a_start_whose_default_time_is_beyond_a_double_is_refused():
    # 10/ε^{L−2} at L = 200, ε = 0.01 is 10^397: it ended in a ZeroDivisionError
    with pytest.raises(ConfigurationError, match="beyond double precision"):
        SaddleConfig(depth=200)
    SaddleConfig(depth=200, time=100.0)  # a time given is the user's to ask for
    SaddleConfig(depth=100, init_scale=0.5)  # 10·2^98 = 10^30.5, 2^6 more doubled: accepted
    # the limit counts the doublings: 10^307 is a double, 2^6·10^307 is not
    eps = 10 ** (-306 / 98)  # 10/ε^98 = 10^307
    SaddleConfig(depth=100, init_scale=eps, doublings=0)
    with pytest.raises(ConfigurationError, match="doubled up to 6 times, reaches 10\\^308.8"):
        SaddleConfig(depth=100, init_scale=eps)
    bad = CliRunner().invoke(main, ["saddle-to-saddle", "--depth", "200"])
    assert bad.exit_code == 2 and "raise init_scale (--init-scale)" in bad.output


def test_a_start_beyond_the_finite_range_is_a_flow_error():
    # ε = 1e200 at L = 3: the products overflow and the loss is NaN at the first evaluation;
    # the flow says so rather than integrating NaN
    with np.errstate(all="ignore"), pytest.raises(FlowError, match="non-finite"):
        saddle_to_saddle(SaddleConfig(init_scale=1e200, samples=50, time=1.0))
