"""The conformance checker must catch broken twins, not only pass good ones."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from worldtwin.sim.checker import ConformanceError, check_twin_env
from worldtwin.spec import Twin

from .test_env import Tank

_global_counter = itertools.count()


class Unseeded(Tank):
    """Uses global state instead of the seeded generator: not reproducible."""

    def _reset(self, options: dict[str, Any] | None) -> dict[str, float]:
        self.level = 2.0 + 0.01 * next(_global_counter)
        return self._measure()


class LyingInfo(Tank):
    def _info(self, measured: dict[str, float], applied: np.ndarray) -> dict[str, Any]:
        info = super()._info(measured, applied)
        info["tags"]["level"] += 1.0
        return info


class Exploding(Tank):
    def _advance(self, action: np.ndarray) -> dict[str, float]:
        self.level = float("inf")
        return self._measure()


def test_good_twin_passes(tank_spec: Twin) -> None:
    check_twin_env(lambda: Tank(tank_spec, max_episode_steps=100))


@pytest.mark.parametrize(
    ("cls", "message"),
    [(Unseeded, "same seed"), (LyingInfo, "disagrees"), (Exploding, "NaN/Inf")],
)
def test_broken_twins_fail(tank_spec: Twin, cls: type[Tank], message: str) -> None:
    with pytest.raises(ConformanceError, match=message):
        check_twin_env(lambda: cls(tank_spec, max_episode_steps=100))
