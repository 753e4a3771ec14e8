"""The sweep runner (issue 6): local processes and a Dask LocalCluster give the same results,
every point is stored atomically, and a rerun computes nothing."""

from symescape.experiments.sweeps import SweepStore, grid, reduced_escape_point, run_sweep

POINTS = grid(activation=["tanh", "gelu"], depth=[4], r=[3, 4], eps=[0.05, 0.01], seed=[0])


def test_grid_product():
    assert len(POINTS) == 8 and POINTS[0] == {
        "activation": "tanh",
        "depth": 4,
        "r": 3,
        "eps": 0.05,
        "seed": 0,
    }


def test_local_processes_and_resume(tmp_path):
    store = SweepStore(tmp_path)
    results = run_sweep(POINTS, reduced_escape_point, store, workers=2)
    assert store.computed == len(POINTS) and all(r["status"] == "escaped" for r in results)
    assert len(list(tmp_path.glob("*.json"))) == len(POINTS)
    again = SweepStore(tmp_path)
    assert run_sweep(POINTS, reduced_escape_point, again) == results
    assert again.computed == 0 and again.reused == len(POINTS)


def test_dask_matches_local(tmp_path):
    import distributed

    local = run_sweep(POINTS, reduced_escape_point, SweepStore(tmp_path / "local"), workers=2)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            remote = run_sweep(
                POINTS, reduced_escape_point, SweepStore(tmp_path / "dask"), scheduler=client
            )
    assert remote == local


def test_a_point_stored_by_another_version_is_not_reused(tmp_path, monkeypatch):
    from symescape.experiments import sweeps

    SweepStore(tmp_path).get({"depth": 4}, lambda: {"value": 1.0})
    monkeypatch.setattr(sweeps, "__version__", "0.0.0-other")
    store = SweepStore(tmp_path)
    assert store.get({"depth": 4}, lambda: {"value": 2.0}) == {"value": 2.0}
    assert store.computed == 1 and store.reused == 0

