"""``worldtwin/packaging-line-v1``: the SimPy bottling line behind the worldtwin environment contract.

Each ``step`` applies the action vector to the line, runs the SimPy environment one sample period
further and returns the tags sampled over that interval (:mod:`worldtwin.sim.des.line`). Actions:

- ``<station>.speed`` (items/min): speed set-point, bounded and rate-limited by the spec; a machine
  takes a new speed from its next item on;
- ``<station>.pm``: a value above 0.5 requests one preventive maintenance on that machine, started
  when it has passed on its current item (at once when it is starved); ignored while one is pending
  or under way, so holding the value high repeats the maintenance only after it has finished;
- ``line.next_product``: rounded to a product code (``-0.5..0.5`` → 0, ...); the filler switches to
  it when the current lot is used up, changing over if it differs from the running product.

``reset`` starts the line from a random state drawn from ``np_random`` (product, conveyor levels,
machine ages, progress of the current lot), runs one sample period at the default actions and returns
that period's sample, so the first observation is as real as every later one. ``options`` may fix
``product`` (int) and ``buffer_levels`` (one int per conveyor).

>>> import worldtwin
>>> env = worldtwin.make("worldtwin/packaging-line-v1")
>>> obs, info = env.reset(seed=0)
>>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
>>> 0 <= info["tags"]["line.throughput"] <= 12000
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from worldtwin.errors import SimulationError
from worldtwin.sim.des.config import BOTTLING_LINE, LineConfig
from worldtwin.sim.des.line import PackagingLine, action_tag_names, measured_tag_names
from worldtwin.sim.env import TwinEnv, action_bounds, default_action
from worldtwin.sim.registry import builtin_spec
from worldtwin.spec.schema import Twin

PM_THRESHOLD = 0.5
OPTIONS = ("product", "buffer_levels")


class PackagingLineEnv(TwinEnv):
    """A discrete-event packaging line as a Gymnasium environment (see the module docstring)."""

    def __init__(
        self,
        twin: Twin | None = None,
        config: LineConfig = BOTTLING_LINE,
        max_episode_steps: int | None = None,
    ) -> None:
        twin = twin if twin is not None else builtin_spec("packaging-line.yaml")
        _check_fit(twin, config)
        super().__init__(twin, max_episode_steps)
        self.config = config
        names = twin.action_names
        self._speed_index = [names.index(f"{s}.speed") for s in config.station_names]
        self._pm_index = [names.index(f"{s}.pm") for s in config.station_names]
        self._product_index = names.index("line.next_product")
        self._line: PackagingLine | None = None

    @property
    def line(self) -> PackagingLine:
        """The running discrete-event model (for inspection: counters, stations, conveyors)."""
        if self._line is None:
            raise SimulationError("the packaging line is built by reset(); call env.reset(seed=...) first")
        return self._line

    def _reset(self, options: dict[str, Any] | None) -> dict[str, float]:
        options = dict(options or {})
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise SimulationError(f"unknown reset options {unknown}; this twin takes {list(OPTIONS)}")
        config, rng = self.config, self.np_random
        product = int(options.get("product", rng.integers(len(config.products))))
        levels = options.get("buffer_levels")
        if levels is None:
            levels = [int(rng.integers(0, capacity // 2 + 1)) for capacity in config.buffer_capacities]
        ages = [float(rng.uniform(0.0, station.breakdown_mtbf_s)) for station in config.stations]
        lot_remaining = int(rng.integers(1, config.lot_size + 1))
        self._line = PackagingLine(
            config,
            rng,
            product=product,
            buffer_levels=[int(v) for v in levels],
            ages_s=ages,
            lot_remaining=lot_remaining,
        )
        return self._advance(default_action(self.twin))

    def _advance(self, action: np.ndarray) -> dict[str, float]:
        line = self.line
        line.set_speeds(action[self._speed_index].tolist())
        for station, index in enumerate(self._pm_index):
            if action[index] > PM_THRESHOLD:
                line.request_maintenance(station)
        line.set_next_product(round(float(action[self._product_index])))
        line.run(self.twin.sample_period)
        return line.sample()


def _check_fit(twin: Twin, config: LineConfig) -> None:
    """The spec must name exactly the tags the line produces and takes, with speeds the machines can run."""
    problems = []
    produced, taken = measured_tag_names(config), action_tag_names(config)
    missing = [name for name in produced if name not in twin.measured_names]
    extra = [name for name in twin.measured_names if name not in produced]
    if missing or extra:
        problems.append(
            f"measured tags missing from the spec: {missing}; spec tags the line does not produce: {extra}"
        )
    if sorted(twin.action_names) != sorted(taken):
        problems.append(f"spec actions {twin.action_names} differ from the line's actions {taken}")
    else:
        low, high = action_bounds(twin)
        for station in config.stations:
            index = twin.action_names.index(f"{station.name}.speed")
            if low[index] < station.min_speed_per_min or high[index] > station.max_speed_per_min:
                problems.append(
                    f"{station.name}.speed bounds [{low[index]:g}, {high[index]:g}] reach outside what the "
                    f"machine runs, [{station.min_speed_per_min:g}, {station.max_speed_per_min:g}] items/min"
                )
    if problems:
        raise SimulationError(
            f"spec {twin.name!r} does not fit the packaging line configuration: "
            + "; ".join(problems)
            + "; edit the spec or the LineConfig so they agree"
        )
