"""Conformance check for twins: Gymnasium's ``check_env`` plus what a plant twin must also promise.

Run over every registered twin in CI (``tests/sim/test_conformance.py``) and available to authors of
new twins as ``worldtwin.sim.check_twin_env(lambda: MyEnv(...))``.

Beyond ``check_env`` it verifies:
- ``step`` before ``reset`` raises :class:`~worldtwin.errors.SimulationError`;
- observation and action spaces match the spec (sizes, tag order, action bounds);
- ``info["tags"]`` carries every spec tag, consistent with the observation vector;
- determinism: two fresh instances reset with the same seed and driven by the same actions produce
  identical trajectories, and a re-seeded reset reproduces the first trajectory;
- observations stay finite under random actions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from gymnasium.spaces import Box
from gymnasium.utils.env_checker import check_env

from worldtwin.errors import SimulationError
from worldtwin.sim.env import TwinEnv, action_bounds


class ConformanceError(AssertionError):
    """A twin breaks the environment contract; the message says which promise and how."""


def _rollout(env: TwinEnv, seed: int, actions: np.ndarray) -> np.ndarray:
    obs, _ = env.reset(seed=seed)
    frames = [obs]
    for action in actions:
        obs, _, terminated, truncated, _ = env.step(action)
        frames.append(obs)
        if terminated or truncated:
            break
    return np.asarray(frames)


def check_twin_env(make_env: Callable[[], TwinEnv], *, seed: int = 7, steps: int = 40) -> None:
    """Raise :class:`ConformanceError` unless the env honours the worldtwin contract."""
    env = make_env()
    try:
        try:
            env.step(env.action_space.sample())
        except SimulationError:
            pass
        else:
            raise ConformanceError("step() before reset() must raise SimulationError")

        twin = env.twin
        if env.observation_space.shape != (len(twin.measured_names),):
            raise ConformanceError(
                f"observation space {env.observation_space.shape} != "
                f"({len(twin.measured_names)},) measured tags"
            )
        low, high = action_bounds(twin)
        space = env.action_space
        if not (
            isinstance(space, Box) and np.array_equal(space.low, low) and np.array_equal(space.high, high)
        ):
            raise ConformanceError("action space bounds differ from the spec's action bounds")

        with warnings.catch_warnings():
            # Plant observations are unbounded by design and plant actions live in engineering units;
            # gymnasium's advice to bound and normalise spaces does not apply to twins.
            for advice in ("infinity", "symmetric and normalized"):
                warnings.filterwarnings("ignore", message=f".*{advice}", category=UserWarning)
            try:
                check_env(env, skip_render_check=True)
            except AssertionError as exc:
                raise ConformanceError(f"gymnasium check_env: {exc}") from exc

        obs, info = env.reset(seed=seed)
        missing = set(twin.tag_names) - set(info.get("tags", {}))
        if missing:
            raise ConformanceError(f"info['tags'] lacks spec tags: {sorted(missing)}")
        from_info = np.asarray([info["tags"][name] for name in twin.measured_names])
        if not np.allclose(from_info, obs):
            raise ConformanceError("info['tags'] disagrees with the observation vector")

        rng = np.random.default_rng(seed)
        actions = rng.uniform(low, high, size=(steps, low.size))
        first = _rollout(env, seed, actions)
        again = _rollout(env, seed, actions)
        other_env = make_env()
        try:
            fresh = _rollout(other_env, seed, actions)
        finally:
            other_env.close()
        if not np.all(np.isfinite(first)):
            raise ConformanceError("observations became NaN/Inf under in-bounds random actions")
        if first.shape != again.shape or not np.array_equal(first, again):
            raise ConformanceError("reset(seed=s) twice on one instance gave different trajectories")
        if first.shape != fresh.shape or not np.array_equal(first, fresh):
            raise ConformanceError("two fresh instances with the same seed gave different trajectories")
    finally:
        env.close()
