"""Any Gymnasium environment with Box spaces as a worldtwin twin, its spec generated from the spaces.

    from worldtwin.sim.gym_adapter import GymTwinEnv
    env = GymTwinEnv("MountainCarContinuous-v0", obs_names=["position", "velocity"], action_names=["force"])
    env.twin            # the generated spec: one tag per observation and action element, plus 'reward'

Generated spec: observation elements become ``observation`` tags (``obs_0``, ``obs_1``, ... unless
named), action elements ``action`` tags (``act_0``, ...) bounded by the action space, and the wrapped
env's reward becomes a ``kpi`` tag ``reward`` with a ``maximize`` objective, so the twin's reward equals
the wrapped reward. Finite space bounds become tag ranges. The sample period is the env's ``dt`` when
it has one (classic control, MuJoCo), else 1 s unless given.

Only one-dimensional ``Box`` spaces fit a plant's vector of tags; other spaces raise a clear
:class:`~worldtwin.errors.SimulationError` that says how to adapt the env.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from worldtwin.errors import SimulationError, SpecError
from worldtwin.sim.env import TwinEnv
from worldtwin.spec.checks import check_twin
from worldtwin.spec.schema import Twin

REWARD_TAG = "reward"


def spec_from_spaces(
    observation_space: gym.Space[Any],
    action_space: gym.Space[Any],
    *,
    name: str,
    obs_names: Sequence[str] | None = None,
    action_names: Sequence[str] | None = None,
    units: Mapping[str, str] | None = None,
    sample_period: float = 1.0,
    description: str = "",
) -> Twin:
    """A twin spec describing an env with these spaces (see the module docstring for the mapping)."""
    obs_box = _vector_box(observation_space, "observation", name)
    act_box = _vector_box(action_space, "action", name)
    obs = _names(obs_names, obs_box.shape[0], "obs", "obs_names")
    act = _names(action_names, act_box.shape[0], "act", "action_names")
    units = dict(units or {})
    if not np.all(np.isfinite(act_box.low)) or not np.all(np.isfinite(act_box.high)):
        raise SimulationError(
            f"{name}: the action space {act_box} has infinite bounds; a twin's actions need "
            "finite bounds. Wrap the env with gymnasium.wrappers.ClipAction or a rescaling wrapper"
        )
    tags: list[dict[str, Any]] = []
    for i, tag in enumerate(obs):
        tags.append(
            {
                "name": tag,
                "unit": units.get(tag, ""),
                "kind": "observation",
                "range": _finite_range(obs_box.low[i], obs_box.high[i]),
            }
        )
    tags.append(
        {"name": REWARD_TAG, "kind": "kpi", "description": "Reward of the wrapped env for the last step"}
    )
    actions = []
    for i, tag in enumerate(act):
        lo, hi = float(act_box.low[i]), float(act_box.high[i])
        tags.append({"name": tag, "unit": units.get(tag, ""), "kind": "action", "range": [lo, hi]})
        actions.append({"tag": tag, "bounds": [lo, hi]})
    data = {
        "metadata": {"name": _spec_name(name), "title": f"Gymnasium {name}", "description": description},
        "sample_period": sample_period,
        "tags": [{k: v for k, v in tag.items() if v is not None} for tag in tags],
        "actions": actions,
        "objectives": [{"kind": "maximize", "tag": REWARD_TAG}],
    }
    twin = Twin.model_validate(data)
    problems = check_twin(twin)
    if problems:
        raise SpecError(problems, source=f"spec generated for {name}")
    return twin


class GymTwinEnv(TwinEnv):
    """A Gymnasium env (an instance, or an id for ``gymnasium.make``) behind the worldtwin contract."""

    def __init__(
        self,
        env: gym.Env[Any, Any] | str,
        *,
        obs_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
        units: Mapping[str, str] | None = None,
        sample_period: float | None = None,
        max_episode_steps: int | None = None,
        env_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(env, str):
            try:
                inner = gym.make(env, disable_env_checker=True, **dict(env_kwargs or {}))
            except gym.error.Error as exc:
                raise SimulationError(f"gymnasium cannot make {env!r}: {exc}") from None
        else:
            inner = env
        label = inner.spec.id if inner.spec is not None else type(inner.unwrapped).__name__
        if sample_period is None:
            dt = getattr(inner.unwrapped, "dt", None)
            sample_period = float(dt) if isinstance(dt, int | float) and dt > 0 else 1.0
        if max_episode_steps is None and inner.spec is not None:
            max_episode_steps = inner.spec.max_episode_steps
        twin = spec_from_spaces(
            inner.observation_space,
            inner.action_space,
            name=label,
            obs_names=obs_names,
            action_names=action_names,
            units=units,
            sample_period=sample_period,
            description=f"Gymnasium env {label} wrapped by worldtwin.sim.gym_adapter",
        )
        super().__init__(twin, max_episode_steps=max_episode_steps)
        self.inner = inner
        self._obs_names = [t.name for t in twin.tags if t.kind == "observation"]
        self._action_dtype = inner.action_space.dtype
        self._inner_terminated = False

    def _reset(self, options: dict[str, Any] | None) -> dict[str, float]:
        seed = int(self.np_random.integers(2**31 - 1))
        obs, _ = self.inner.reset(seed=seed, options=options)
        self._inner_terminated = False
        return self._tags(obs, 0.0)

    def _advance(self, action: np.ndarray) -> dict[str, float]:
        obs, reward, terminated, _, _ = self.inner.step(action.astype(self._action_dtype))
        self._inner_terminated = bool(terminated)
        return self._tags(obs, float(reward))

    def _terminated(self, tags: dict[str, float]) -> bool:
        return self._inner_terminated

    def _tags(self, obs: Any, reward: float) -> dict[str, float]:
        values = np.asarray(obs, dtype=np.float64).reshape(-1)
        return {**dict(zip(self._obs_names, values.tolist(), strict=True)), REWARD_TAG: reward}

    def close(self) -> None:
        self.inner.close()
        super().close()


def _vector_box(space: gym.Space[Any], role: str, name: str) -> spaces.Box:
    if not isinstance(space, spaces.Box):
        hint = (
            "flatten it with gymnasium.wrappers.FlattenObservation"
            if role == "observation"
            else "use a continuous-action variant of the env, or wrap it to take a Box action"
        )
        raise SimulationError(
            f"{name}: the {role} space is {space}, but a twin needs a Box {role} space "
            f"(one tag per element); {hint}"
        )
    if len(space.shape) != 1:
        raise SimulationError(
            f"{name}: the {role} space has shape {space.shape}, but a twin needs a 1-D vector; "
            "flatten it with gymnasium.wrappers.FlattenObservation (observations) or a "
            "reshaping action wrapper"
        )
    return space


def _names(given: Sequence[str] | None, size: int, prefix: str, option: str) -> list[str]:
    if given is None:
        return [f"{prefix}_{i}" for i in range(size)]
    names = list(given)
    if len(names) != size:
        raise SimulationError(
            f"{option} has {len(names)} names {names}, but the space has {size} elements; "
            f"give exactly {size} names"
        )
    return names


def _finite_range(low: float, high: float) -> list[float] | None:
    return [float(low), float(high)] if np.isfinite(low) and np.isfinite(high) and low < high else None


def _spec_name(label: str) -> str:
    """A spec metadata name from an env id: 'Pendulum-v1' -> 'gym-pendulum-v1'."""
    slug = re.sub(r"[^a-z0-9_\-]+", "-", label.lower()).strip("-_")
    return f"gym-{slug or 'env'}"
