"""The environment contract every twin honours: a Gymnasium ``Env`` whose spaces come from its spec.

``TwinEnv`` does the parts that are the same for every plant — spaces in spec tag order, action
validation, bounds and rate limits, the reward from the spec's objectives, episode time and the
``info["tags"]`` mapping — so a twin only writes :meth:`TwinEnv._reset` and :meth:`TwinEnv._advance`.

Observation: every non-action tag in spec order (``twin.measured_names``), in engineering units.
Action: every action tag in spec order, clipped to its bounds and rate limit before it reaches the
plant; what was actually applied is in ``info["action_applied"]``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from worldtwin.errors import SimulationError
from worldtwin.sim.reward import objective_reward
from worldtwin.spec.schema import Twin


def action_bounds(twin: Twin) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of the action vector, from action entries or else the tag range."""
    lows, highs = [], []
    for name in twin.action_names:
        try:
            lo, hi = twin.action(name).bounds
        except KeyError:
            tag_range = twin.tag(name).range
            assert tag_range is not None  # guaranteed by spec checks
            lo, hi = tag_range
        lows.append(lo)
        highs.append(hi)
    return np.asarray(lows, dtype=np.float64), np.asarray(highs, dtype=np.float64)


def default_action(twin: Twin) -> np.ndarray:
    """The start-up action vector: each action's default, or the middle of its bounds."""
    low, high = action_bounds(twin)
    values = []
    for i, name in enumerate(twin.action_names):
        try:
            values.append(twin.action(name).start_value)
        except KeyError:
            values.append(0.5 * (low[i] + high[i]))
    return np.asarray(values, dtype=np.float64)


def max_step_change(twin: Twin) -> np.ndarray:
    """Largest change of each action per sample period (inf where no rate limit is set)."""
    changes = []
    for name in twin.action_names:
        try:
            rate = twin.action(name).max_rate
        except KeyError:
            rate = None
        changes.append(np.inf if rate is None else rate * twin.sample_period)
    return np.asarray(changes, dtype=np.float64)


class TwinEnv(gym.Env[np.ndarray, np.ndarray], ABC):
    """Base class of every worldtwin environment. Subclasses implement ``_reset`` and ``_advance``."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium declares it this way)

    def __init__(self, twin: Twin, max_episode_steps: int | None = None) -> None:
        self.twin = twin
        self.max_episode_steps = max_episode_steps
        self.observation_space = spaces.Box(
            -np.inf, np.inf, shape=(len(twin.measured_names),), dtype=np.float64
        )
        low, high = action_bounds(twin)
        self.action_space = spaces.Box(low, high, dtype=np.float64)
        self._max_change = max_step_change(twin)
        self._default_action = default_action(twin)
        self._last_action = self._default_action.copy()
        self._steps = 0
        self._ready = False
        self.registry_id: str | None = None
        """The registry id this env was made from (set by ``worldtwin.make``)."""

    # --- what a twin implements ------------------------------------------------------------------

    @abstractmethod
    def _reset(self, options: dict[str, Any] | None) -> dict[str, float]:
        """Put the plant in its initial state (use ``self.np_random``); return the measured tag values."""

    @abstractmethod
    def _advance(self, action: np.ndarray) -> dict[str, float]:
        """Advance one sample period under ``action`` (already clipped); return the measured tag values."""

    def _terminated(self, tags: dict[str, float]) -> bool:
        """True when the plant reached a state it cannot continue from (a trip). Default: never."""
        return False

    # --- the Gymnasium contract ------------------------------------------------------------------

    @property
    def time(self) -> float:
        """Seconds since the last reset."""
        return self._steps * self.twin.sample_period

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._steps = 0
        self._last_action = self._default_action.copy()
        measured = self._reset(options)
        self._ready = True
        return self._observation(measured), self._info(measured, self._last_action)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if not self._ready:
            raise SimulationError(
                f"{type(self).__name__}.step() called before reset(); call env.reset(seed=...) first"
            )
        applied = self.constrain(action)
        measured = self._advance(applied)
        self._last_action = applied
        self._steps += 1
        tags = self._all_tags(measured, applied)
        reward = objective_reward(self.twin, tags)
        terminated = self._terminated(tags)
        truncated = self.max_episode_steps is not None and self._steps >= self.max_episode_steps
        if terminated or truncated:
            self._ready = False
        return self._observation(measured), reward, terminated, truncated, self._info(measured, applied)

    def constrain(self, action: np.ndarray) -> np.ndarray:
        """Validate an action and bring it inside bounds and rate limits, as the plant's actuators would."""
        values = np.asarray(action, dtype=np.float64).reshape(-1)
        expected = self.action_space.shape[0]  # type: ignore[index]
        if values.shape != (expected,):
            raise SimulationError(
                f"action has {values.size} values, expected {expected} ({', '.join(self.twin.action_names)})"
            )
        if not np.all(np.isfinite(values)):
            raise SimulationError(f"action contains NaN or Inf: {values.tolist()}; send finite set-points")
        low, high = self.action_space.low, self.action_space.high  # type: ignore[attr-defined]
        values = np.clip(values, low, high)
        change = np.clip(values - self._last_action, -self._max_change, self._max_change)
        return np.asarray(self._last_action + change, dtype=np.float64)

    # --- helpers ---------------------------------------------------------------------------------

    def _all_tags(self, measured: dict[str, float], applied: np.ndarray) -> dict[str, float]:
        tags = {name: float(measured[name]) for name in self.twin.measured_names}
        tags.update({name: float(v) for name, v in zip(self.twin.action_names, applied, strict=True)})
        return tags

    def _observation(self, measured: dict[str, float]) -> np.ndarray:
        return np.asarray([measured[name] for name in self.twin.measured_names], dtype=np.float64)

    def _info(self, measured: dict[str, float], applied: np.ndarray) -> dict[str, Any]:
        return {
            "tags": self._all_tags(measured, applied),
            "action_applied": applied.copy(),
            "time": self.time,
        }
