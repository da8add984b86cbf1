from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from worldtwin.errors import SimulationError
from worldtwin.sim import check_twin_env, make
from worldtwin.sim.gym_adapter import GymTwinEnv, spec_from_spaces


def test_pendulum_spec_comes_from_its_spaces() -> None:
    env = make("gym/pendulum-v1")
    twin = env.twin
    assert twin.tag_names == ["cos_theta", "sin_theta", "omega", "reward", "torque"]
    assert twin.tag("omega").range == (-8.0, 8.0) and twin.tag("omega").unit == "rad/s"
    assert twin.action("torque").bounds == (-2.0, 2.0)
    assert twin.tag("reward").kind == "kpi" and twin.objectives[0].kind == "maximize"
    assert twin.sample_period == pytest.approx(0.05)  # Pendulum's dt
    assert env.max_episode_steps == 200  # from gymnasium's registration


def test_reward_and_dynamics_pass_through_unchanged() -> None:
    env = make("gym/pendulum-v1")
    obs, _ = env.reset(seed=4)
    inner = gym.make("Pendulum-v1")
    inner.reset(seed=0)
    inner.unwrapped.state = np.array([np.arctan2(obs[1], obs[0]), obs[2]])  # start where the twin starts
    for torque in np.linspace(-2, 2, 25):
        obs, reward, *_ = env.step(np.array([torque]))
        expected_obs, expected_reward, *_ = inner.step(np.array([torque], dtype=np.float32))
        np.testing.assert_allclose(obs[:3], expected_obs, rtol=1e-5, atol=1e-6)
        assert reward == pytest.approx(expected_reward, rel=1e-6)
        assert obs[3] == pytest.approx(expected_reward, rel=1e-6)  # the reward tag


def test_episode_is_truncated_at_the_wrapped_time_limit() -> None:
    env = make("gym/pendulum-v1")
    env.reset(seed=0)
    truncated = False
    steps = 0
    while not truncated:
        *_, truncated, _ = env.step(np.array([0.0]))
        steps += 1
    assert steps == 200


def test_any_box_env_is_adapted_with_default_names() -> None:
    env = GymTwinEnv("MountainCarContinuous-v0")
    assert env.twin.tag_names == ["obs_0", "obs_1", "reward", "act_0"]
    assert env.twin.sample_period == 1.0  # no dt attribute: one second per step
    check_twin_env(lambda: GymTwinEnv("MountainCarContinuous-v0"))


class _DictObservation(gym.Env[Any, np.ndarray]):
    observation_space = spaces.Dict({"level": spaces.Box(0, 1, (1,))})
    action_space = spaces.Box(-1, 1, (1,))


@pytest.mark.parametrize(
    ("observation_space", "action_space", "message"),
    [
        (spaces.Box(-1, 1, (3,)), spaces.Discrete(2), "Discrete.*continuous-action variant"),
        (spaces.Dict({"x": spaces.Box(0, 1, (1,))}), spaces.Box(-1, 1, (1,)), "Dict.*FlattenObservation"),
        (spaces.Box(0, 1, (4, 4)), spaces.Box(-1, 1, (1,)), r"shape \(4, 4\).*1-D"),
        (spaces.Box(-1, 1, (2,)), spaces.Box(-np.inf, np.inf, (1,)), "infinite bounds"),
    ],
)
def test_unsupported_spaces_get_clear_errors(observation_space, action_space, message) -> None:
    with pytest.raises(SimulationError, match=message):
        spec_from_spaces(observation_space, action_space, name="Odd-v0")


def test_discrete_env_is_refused_when_wrapped() -> None:
    with pytest.raises(SimulationError, match="CartPole-v1: the action space is Discrete"):
        GymTwinEnv("CartPole-v1")


def test_dict_env_instance_is_refused() -> None:
    with pytest.raises(SimulationError, match="observation space is Dict"):
        GymTwinEnv(_DictObservation())


def test_wrong_number_of_names_is_reported() -> None:
    with pytest.raises(SimulationError, match=r"obs_names has 2 names.*exactly 3"):
        GymTwinEnv("Pendulum-v1", obs_names=["a", "b"])


def test_unknown_gym_id_is_reported() -> None:
    with pytest.raises(SimulationError, match="gymnasium cannot make 'NoSuchEnv-v0'"):
        GymTwinEnv("NoSuchEnv-v0")
