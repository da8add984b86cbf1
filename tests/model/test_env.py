"""The learned model as a Gymnasium environment."""

from __future__ import annotations

import numpy as np

from worldtwin.model import WorldModel
from worldtwin.sim import check_twin_env

from .plant import ANGLE, DRIVE, RATE


def test_dream_env_passes_the_twin_conformance_check(pendulum_model: WorldModel) -> None:
    check_twin_env(lambda: pendulum_model.as_env(max_episode_steps=50))
    check_twin_env(lambda: pendulum_model.as_env(max_episode_steps=50, member="sample"))


def test_dream_env_follows_the_model_forecast(pendulum_model: WorldModel) -> None:
    env = pendulum_model.as_env(max_episode_steps=30)
    obs, info = env.reset(seed=3)
    assert set(info["tags"]) == {ANGLE, RATE, DRIVE}
    trace = [obs]
    for _ in range(30):
        obs, _, terminated, truncated, info = env.step(np.array([1.0]))
        trace.append(obs)
    assert truncated and not terminated
    assert np.isfinite(trace).all()
    assert np.ptp(np.asarray(trace)[:, 0]) > 0.05  # the arm moves under a steady torque
