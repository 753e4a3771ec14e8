import json

from click.testing import CliRunner

from symescape.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_escape_json_keys():
    result = run("escape", "--activation", "tanh", "--depth", "4", "--eps", "0.01", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    for key in ("time_ode", "time_leading", "time_corrected", "K", "kappa", "criterion"):
        assert key in record
    assert record["status"] == "escaped" and record["criterion"] == "product:0.5"
    assert abs(record["time_corrected"] / record["time_ode"] - 1) < abs(
        record["time_leading"] / record["time_ode"] - 1
    )


def test_escape_scales_and_lsoda():
    result = run(
        "escape", "--depth", "3", "--scales", "0.01,0.05,0.2", "--method", "lsoda", "--json"
    )
    record = json.loads(result.stdout)
    assert record["time_corrected"] is None and record["status"] == "escaped"


def test_escape_errors():
    assert "exactly one" in run("escape", "--depth", "3").output
    assert run("escape", "--depth", "3", "--eps", "-0.1").exit_code == 2
    negative = run("escape", "--depth", "3", "--eps", "0.1", "--activation", "x - x**3")
    assert negative.exit_code == 2 and "does not escape" in negative.output
    budget = json.loads(
        run("escape", "--depth", "5", "--eps", "1e-3", "--max-time", "100", "--json").output
    )
    assert budget["status"] == "not-reached" and budget["time_ode"] is None


def test_escape_series_from_an_unbalanced_start():
    """``--method series`` with unequal scales: Θ's local terms, the constant with its error,
    and a time that the ODE at the same start confirms to within the O(ε²) remainder."""
    args = ("escape", "--depth", "4", "--scales", "0.005,0.02,0.01,0.01")
    series = json.loads(run(*args, "--method", "series", "--json").stdout)
    ode = json.loads(run(*args, "--json").stdout)
    assert series["method"] == "series" and [t["power"] for t in series["terms"]] == [-2, 0]
    assert abs(series["eps"] - 0.01) < 1e-15 and series["constant_error"] < 1e-2
    remainder = 100 * series["eps"] ** series["remainder_power"]  # generous O(ε²) allowance
    assert abs(series["time_series"] - ode["time_ode"]) < remainder
