"""Off the manifold (issue 6, figure 4): quick slopes within 25% of r−2, ordering across r."""

import json
from dataclasses import replace

import numpy as np
import pytest

from symescape import ConfigurationError
from symescape.experiments.off_manifold import (
    OffManifoldConfig,
    OffManifoldRun,
    fit_slopes,
    off_manifold_run,
)
from symescape.reports.figure4 import figure4


@pytest.fixture(scope="module")
def quick_fig4(tmp_path_factory):
    out = tmp_path_factory.mktemp("fig4")
    return out, figure4(out, quick=True)


def test_quick_slopes_within_25_percent(quick_fig4):
    _, data = quick_fig4
    for r in ("3", "5"):
        for fit in data["fits"][r]:
            assert abs(fit["slope"] - fit["predicted"]) <= 0.25 * abs(fit["predicted"]), fit


def test_slope_ordering_holds_at_every_threshold(quick_fig4):
    _, data = quick_fig4
    for index in range(3):
        slopes = [data["fits"][r][index]["slope"] for r in ("3", "5")]
        assert slopes[1] < slopes[0]  # deeper bottleneck: steeper in ε


def test_signal_and_gradient_tensors_recorded(quick_fig4):
    out, data = quick_fig4
    run = data["runs"]["3"]
    signal = np.array(run["signal"])
    norms = np.array(run["gradient_norms"])
    assert signal.shape[0] == len(run["eval_steps"]) and norms.shape[2] == 8
    # The signal M grows from near zero by orders of magnitude before escape.
    assert np.all(np.abs(signal[-1]) > 10 * np.abs(signal[0]))
    assert (out / "fig4.png").stat().st_size > 0 and json.loads((out / "fig4.json").read_text())


def test_held_out_prediction_errors_reported(quick_fig4):
    _, data = quick_fig4
    for fit in data["fits"]["3"]:
        assert fit["held_out_errors"] and max(fit["held_out_errors"]) < 0.25


def test_bad_configuration():
    with pytest.raises(ConfigurationError, match="r ="):
        off_manifold_run(OffManifoldConfig(), 9, [0.1])
    with pytest.raises(ConfigurationError, match="ε"):
        off_manifold_run(OffManifoldConfig(), 3, [0.0])
    with pytest.raises(ConfigurationError, match="fractions"):
        OffManifoldConfig(thresholds=(1.5,))


def test_unreached_threshold_is_nan_not_a_time():
    run = off_manifold_run(OffManifoldConfig(max_steps=20, seeds=2), 5, [0.01, 0.02])
    assert np.all(np.isnan(np.array(run.steps)))
    assert all(np.isnan(f.slope) for f in fit_slopes(run))


def test_a_seed_that_never_escapes_is_left_out_and_counted():
    # seed 1 misses the threshold at the smallest ε: its slope is not in the mean, and the
    # claims compare len(per_seed) with the seeds they ran (a shortfall fails them)
    eps = [0.01, 0.02, 0.04]
    steps = [[[400.0, np.nan], [200.0, 210.0], [100.0, 104.0]]]
    run = OffManifoldRun(3, eps, [0.5], steps, [], [], [])
    (fit,) = fit_slopes(run)
    assert len(fit.per_seed) == 1 and fit.slope == pytest.approx(-1.0, abs=1e-12)


def test_real_covariates_digits():
    # scikit-learn's bundled digits (no download): the r = 3 law holds with real covariates.
    config = OffManifoldConfig(covariates="digits")
    run = off_manifold_run(config, 3, [0.005, 0.01, 0.02])
    for fit in fit_slopes(run):
        assert abs(fit.slope - fit.predicted) <= 0.25 * abs(fit.predicted), fit
    with pytest.raises(ConfigurationError, match="unknown covariates"):
        off_manifold_run(OffManifoldConfig(covariates="mnist"), 3, [0.01])


def test_without_gradient_norms_the_escape_steps_are_the_same():
    # record_gradient_norms=False drops ||G_l||² (None) and nothing the fits read
    config = OffManifoldConfig(depth=4, width=8, input_dim=8, seeds=2, max_steps=3000)
    full = off_manifold_run(config, 3, [0.02, 0.04])
    light = off_manifold_run(replace(config, record_gradient_norms=False), 3, [0.02, 0.04])
    assert light.gradient_norms is None and np.array(full.gradient_norms).shape[2] == 4
    assert light.steps == full.steps and light.eval_steps == full.eval_steps
    np.testing.assert_allclose(light.signal, full.signal, rtol=1e-12)
