from __future__ import annotations

from pathlib import Path

import pytest

from worldtwin.errors import SpecError
from worldtwin.spec import Twin, dump_spec, load_spec, parse_spec, save_spec


def test_valid_spec_loads_with_durations_in_seconds(tank_spec: Twin) -> None:
    assert tank_spec.name == "tank"
    assert tank_spec.sample_period == 10.0
    assert tank_spec.tag("analyzer").sampling_period == 300.0
    assert tank_spec.measured_names == ["level", "inflow", "analyzer"]
    assert tank_spec.action_names == ["valve"]
    assert tank_spec.known_input_names == ["inflow"]
    assert tank_spec.predicted_names == ["level", "analyzer"]


def test_save_and_load_round_trip(tank_spec: Twin, tmp_path: Path) -> None:
    path = save_spec(tank_spec, tmp_path / "tank.yaml")
    assert load_spec(path) == tank_spec
    assert "range: [0.0, 5.0]" in path.read_text()


def test_spec_hash_is_stable_and_sensitive(tank_spec: Twin) -> None:
    same = parse_spec(dump_spec(tank_spec))
    assert same.spec_hash() == tank_spec.spec_hash()
    changed = tank_spec.model_copy(update={"sample_period": 20.0})
    assert changed.spec_hash() != tank_spec.spec_hash()


def test_specs_are_frozen(tank_spec: Twin) -> None:
    with pytest.raises(ValueError, match="frozen"):
        tank_spec.limits[0].max = 99.0  # type: ignore[misc]


def test_every_problem_is_reported_at_once() -> None:
    text = """
metadata: {name: plant}
sample_period: 1
tags:
  - {name: a, unit: furlongz}
  - {name: b, kind: action, range: [0, 1]}
actions:
  - {tag: b, bounds: [0, 2]}
objectives:
  - {kind: maximize, tag: c}
"""
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "plant.yaml")
    keys = {p.key for p in caught.value.problems}
    assert keys == {"tags[0].unit", "actions[0].bounds", "objectives[0].tag"}
    assert "3 problems found" in str(caught.value)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")


def test_binary_file_is_refused_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage\x00")
    with pytest.raises(SpecError, match="UTF-8"):
        load_spec(path)


def test_yaml_python_tags_are_not_executed() -> None:
    with pytest.raises(SpecError, match="invalid YAML"):
        parse_spec("metadata: !!python/object/apply:os.system ['echo pwned']\n")
