import json

import pytest
from click.testing import CliRunner

from symescape.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_identity_json(loss):
    result = run(
        "identity", "--activation", "gelu", "--depth", "5", "--width", "6", "--loss", loss, "--json"
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert [row["layer"] for row in record["layers"]] == [1, 2, 3, 4]
    for row in record["layers"]:
        assert {"layer", "lhs", "rhs", "abs_error"} <= set(row)
        assert row["abs_error"] <= 1e-10 * max(1.0, abs(row["lhs"]))
    assert record["matrix_max_abs_error"] <= 1e-12


def test_identity_table_and_errors():
    assert "matrix form" in run("identity").output
    bad = run("identity", "--depth", "0")
    assert bad.exit_code == 2 and "must be ≥ 2" in bad.output  # its real minimum, not 1
    unknown = run("identity", "--activation", "nope")
    assert unknown.exit_code == 2 and "known names" in unknown.output
