from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from worldtwin.spec import load_spec

SPEC_DIR = Path(__file__).parents[1] / "spec"


def test_validate_ok(cli) -> None:
    result = cli("spec", "validate", str(SPEC_DIR / "valid.yaml"))
    assert result.returncode == 0, result.stderr
    assert "twin 'tank'" in result.stdout and "4 tags" in result.stdout


def test_validate_reports_location_without_traceback(cli) -> None:
    bad = SPEC_DIR / "corpus" / "objective_unknown_tag.yaml"
    result = cli("spec", "validate", str(bad))
    assert result.returncode == 2
    assert f"{bad}:17: objectives[0].tag: objective refers to unknown tag 'CA'" in result.stderr
    assert "did you mean 'Ca'?" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_validate_many_files_reports_each(cli) -> None:
    corpus = sorted((SPEC_DIR / "corpus").glob("*.yaml"))
    result = cli("spec", "validate", str(SPEC_DIR / "valid.yaml"), *map(str, corpus))
    assert result.returncode == 2
    assert f"{len(corpus)} of {len(corpus) + 1} files invalid" in result.stderr
    assert "Traceback" not in result.stderr
    for path in corpus:
        assert str(path) in result.stderr


def test_infer_writes_a_valid_spec(cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "time": np.arange(200) * 5.0,
            "T": 300 + rng.normal(size=200),
            "Ca": rng.uniform(0, 1, 200),
            "Tc": rng.uniform(280, 320, 200),
        }
    )
    data.to_csv(tmp_path / "plant.csv", index=False)
    out = tmp_path / "plant.yaml"
    result = cli(
        "spec",
        "infer",
        str(tmp_path / "plant.csv"),
        "--obs",
        "T,Ca",
        "--act",
        "Tc",
        "--name",
        "plant",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    twin = load_spec(out)
    assert twin.action_names == ["Tc"] and twin.sample_period == 5.0
    assert twin.action("Tc").bounds[0] == data["Tc"].min()
    assert cli("spec", "validate", str(out)).returncode == 0


def test_infer_unknown_column_is_a_clear_error(cli, tmp_path: Path) -> None:
    pd.DataFrame({"time": [0.0, 1.0], "T": [1.0, 2.0]}).to_csv(tmp_path / "d.csv", index=False)
    result = cli("spec", "infer", str(tmp_path / "d.csv"), "--obs", "T,Temp")
    assert result.returncode == 2
    assert "column 'Temp' is not in the data" in result.stderr


def test_help_teaches_with_examples(cli) -> None:
    result = cli("spec", "validate", "--help")
    assert result.returncode == 0
    assert "Example:" in result.stdout
