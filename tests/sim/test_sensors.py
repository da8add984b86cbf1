"""The redundant-sensor view: linear mixtures of the states, the promised noise, a valid spec."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from worldtwin.errors import DataError
from worldtwin.sim.sensors import redundant_sensors, redundant_spec
from worldtwin.spec.loading import parse_spec

SPEC = """
spec_version: 1
metadata: {name: pair}
sample_period: 1 s
tags:
  - {name: a}
  - {name: b}
  - {name: u, kind: action, range: [0, 1]}
actions:
  - {tag: u, bounds: [0, 1]}
limits:
  - {tag: a, max: 10}
objectives:
  - {kind: minimize, tag: u}
"""


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "episode": 0,
            "time": np.arange(500.0),
            "a": rng.normal(5, 2, 500),
            "b": rng.normal(-1, 0.5, 500),
            "u": rng.uniform(0, 1, 500),
        }
    )


def test_sensors_are_noisy_mixtures_of_standardised_states(table: pd.DataFrame) -> None:
    mixed, mixing = redundant_sensors(table, ["a", "b"], n_sensors=120, noise=0.2, seed=3)
    assert list(mixed.columns[:3]) == ["episode", "time", "u"] and len(mixing.sensors) == 120
    assert mixing.sensors[0] == "s000" and "a" not in mixed.columns
    states = (table[["a", "b"]].to_numpy() - mixing.mean) / mixing.std
    residual = mixed[list(mixing.sensors)].to_numpy() - states @ mixing.weights.T
    assert residual.std() == pytest.approx(0.2, rel=0.05)
    assert mixed[list(mixing.sensors)].to_numpy().std() == pytest.approx(np.sqrt(1 + 0.04), rel=0.15)
    again, _ = redundant_sensors(table, ["a", "b"], n_sensors=120, noise=0.2, seed=3)
    pd.testing.assert_frame_equal(mixed, again)


def test_redundant_spec_replaces_states_by_sensor_tags(table: pd.DataFrame) -> None:
    _, mixing = redundant_sensors(table, ["a", "b"], n_sensors=8, seed=0)
    twin = redundant_spec(parse_spec(SPEC), mixing)
    assert twin.name == "pair-sensors8"
    assert twin.predicted_names == list(mixing.sensors) and twin.action_names == ["u"]
    assert twin.limits == [] and [o.tag for o in twin.objectives] == ["u"]


def test_unknown_state_is_refused(table: pd.DataFrame) -> None:
    with pytest.raises(DataError, match=r"\['zz'\]"):
        redundant_sensors(table, ["zz"])
