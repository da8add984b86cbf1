"""The TwinEnv base: spaces from the spec, action constraints, reward, episode bookkeeping."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from worldtwin.errors import SimulationError
from worldtwin.sim.env import TwinEnv
from worldtwin.spec import Twin


class Tank(TwinEnv):
    """Level rises with inflow and falls with valve opening; deterministic but for a seeded start."""

    def _reset(self, options: dict[str, Any] | None) -> dict[str, float]:
        self.level = 2.0 + 0.1 * float(self.np_random.standard_normal())
        return self._measure()

    def _advance(self, action: np.ndarray) -> dict[str, float]:
        self.level += 0.001 * (50.0 - action[0])
        return self._measure()

    def _measure(self) -> dict[str, float]:
        return {"level": self.level, "inflow": 50.0, "analyzer": 1.0}


def test_spaces_follow_spec_order(tank_spec: Twin) -> None:
    env = Tank(tank_spec)
    assert env.observation_space.shape == (3,)
    np.testing.assert_array_equal(env.action_space.low, [5.0])
    np.testing.assert_array_equal(env.action_space.high, [95.0])


def test_step_before_reset_is_an_error(tank_spec: Twin) -> None:
    with pytest.raises(SimulationError, match="before reset"):
        Tank(tank_spec).step(np.array([50.0]))


def test_actions_are_clipped_to_bounds_and_rate(tank_spec: Twin) -> None:
    env = Tank(tank_spec)
    env.reset(seed=0)
    # default 50, max_rate 1 %/s over a 10 s period: at most 10 per step
    *_, info = env.step(np.array([200.0]))
    assert info["action_applied"].tolist() == [60.0]
    assert info["tags"]["valve"] == 60.0
    for _ in range(10):
        *_, info = env.step(np.array([200.0]))
    assert info["action_applied"].tolist() == [95.0]


@pytest.mark.parametrize("action", [np.array([np.nan]), np.array([1.0, 2.0])])
def test_bad_actions_are_refused(tank_spec: Twin, action: np.ndarray) -> None:
    env = Tank(tank_spec)
    env.reset(seed=0)
    with pytest.raises(SimulationError):
        env.step(action)


def test_reward_from_objectives_and_truncation(tank_spec: Twin) -> None:
    env = Tank(tank_spec, max_episode_steps=3)
    _, info = env.reset(seed=1)
    assert info["time"] == 0.0
    _, reward, terminated, truncated, info = env.step(np.array([50.0]))
    level = info["tags"]["level"]
    expected = -(((level - 2.5) / 5.0) ** 2) - 0.1 * 50.0 / 100.0
    assert reward == pytest.approx(expected)
    assert info["time"] == 10.0 and not terminated and not truncated
    env.step(np.array([50.0]))
    *_, truncated, _ = env.step(np.array([50.0]))
    assert truncated
    with pytest.raises(SimulationError):
        env.step(np.array([50.0]))
