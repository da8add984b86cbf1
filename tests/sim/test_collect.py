from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import worldtwin
from worldtwin.errors import SimulationError, UnknownTwinError
from worldtwin.sim import make
from worldtwin.sim.collect import collect, episode_seeds
from worldtwin.telemetry.table import check_table


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return collect("worldtwin/cstr-v1", episodes=2, steps=120, policy="prbs", seed=3)


def test_table_layout(frame: pd.DataFrame) -> None:
    spec = worldtwin.spec_of("worldtwin/cstr-v1")
    assert list(frame.columns) == ["episode", "time", *spec.tag_names]
    assert len(frame) == 240 and frame["episode"].tolist() == [0] * 120 + [1] * 120
    np.testing.assert_allclose(frame["time"].iloc[:3], [0.0, 6.0, 12.0])
    check_table(frame, spec.tag_names, source="collected")


def test_rows_hold_observations_and_the_action_applied_until_the_next_row(frame: pd.DataFrame) -> None:
    """Replaying the recorded actions from the episode's seed reproduces every recorded observation."""
    env = make("worldtwin/cstr-v1")
    measured, actions = env.twin.measured_names, env.twin.action_names
    _, seeds = episode_seeds(3, 2)
    for episode, (env_seed, _) in enumerate(seeds):
        rows = frame[frame["episode"] == episode]
        obs, _ = env.reset(seed=env_seed)
        for k in range(len(rows)):
            np.testing.assert_allclose(obs, rows[measured].iloc[k].to_numpy(), rtol=1e-12)
            obs, *_ = env.step(rows[actions].iloc[k].to_numpy())


def test_same_seed_same_table_other_seed_other_table(frame: pd.DataFrame) -> None:
    again = collect("worldtwin/cstr-v1", episodes=2, steps=120, policy="prbs", seed=3)
    pd.testing.assert_frame_equal(frame, again)
    other = collect("worldtwin/cstr-v1", episodes=2, steps=120, policy="prbs", seed=4)
    assert not np.allclose(frame["T"], other["T"])


def test_provenance_travels_with_the_frame(frame: pd.DataFrame) -> None:
    meta = frame.attrs["worldtwin"]
    assert meta["twin"] == "worldtwin/cstr-v1" and meta["policy"] == "prbs" and meta["seed"] == 3
    assert meta["spec_hash"] == worldtwin.spec_of("worldtwin/cstr-v1").spec_hash()
    assert meta["worldtwin_version"] == worldtwin.__version__


def test_env_instances_and_short_episodes() -> None:
    """A wrapped Gymnasium env ends its episodes at its own time limit: those episodes are shorter."""
    env = make("gym/pendulum-v1")
    table = worldtwin.sim.collect(env, episodes=2, steps=300, policy="random-walk", seed=0)
    assert table.groupby("episode").size().tolist() == [200, 200]
    assert table.attrs["worldtwin"]["twin"] == "gym/pendulum-v1"


def test_progress_is_reported_in_full() -> None:
    seen: list[int] = []
    collect("gym/pendulum-v1", episodes=2, steps=250, policy="prbs", seed=0, progress=seen.append)
    assert sum(seen) == 500


def test_bad_requests_are_clear_errors() -> None:
    with pytest.raises(SimulationError, match="unknown excitation policy 'prbss'"):
        collect("worldtwin/cstr-v1", policy="prbss")
    with pytest.raises(SimulationError, match="at least 1"):
        collect("worldtwin/cstr-v1", steps=0)
    with pytest.raises(UnknownTwinError, match="did you mean 'worldtwin/cstr-v1'"):
        collect("worldtwin/cstr-v2")
