"""A packaging line: machines in series joined by finite conveyors, run in SimPy and sampled into tags.

:class:`PackagingLine` owns one ``simpy.Environment``. The twin calls :meth:`PackagingLine.run` for one
sample period and then :meth:`PackagingLine.sample`, which turns what happened in that interval into
tag values (names from :func:`measured_tag_names`):

- ``<station>.<state>``: fraction of the interval spent in each state of :data:`STATES`;
- ``<station>.state``: the state code at the sample instant (0 running ... 5 maintenance);
- ``<station>.rate``: good items the machine passed on, per hour, over the interval;
- ``<station>.power``: mean electrical power over the interval, ``Σ_state P_state × t_state / Δt``;
- ``<station>.age``: running hours since the last breakdown repair or preventive maintenance;
- ``<station>.product``: product code the machine is set up for, or changing over to;
- ``buffer<k>.level``: items on the k-th conveyor at the sample instant;
- ``line.*``: throughput and scrap (items/h), WIP, power, cumulative energy, energy per good item,
  the product of the lot being filled and the items left in that lot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import simpy

from worldtwin.errors import SimulationError
from worldtwin.sim.des.config import RUNNING, STATES, LineConfig
from worldtwin.sim.des.station import Conveyor, Orders, Shipping, Station, link

LINE_TAGS: tuple[str, ...] = (
    "line.throughput",
    "line.scrap",
    "line.wip",
    "line.power",
    "line.energy",
    "line.specific_energy",
    "line.product",
    "line.lot_remaining",
)
STATION_TAGS: tuple[str, ...] = (*STATES, "state", "rate", "power", "age", "product")


def measured_tag_names(config: LineConfig) -> list[str]:
    """Every tag :meth:`PackagingLine.sample` reports, in a fixed order."""
    names = [f"{station}.{tag}" for station in config.station_names for tag in STATION_TAGS]
    names += [f"buffer{k}.level" for k in range(1, len(config.buffer_capacities) + 1)]
    return names + list(LINE_TAGS)


def action_tag_names(config: LineConfig) -> list[str]:
    """The actions the line takes: a speed and a maintenance trigger per station, and the next product."""
    speeds = [f"{station}.speed" for station in config.station_names]
    return [*speeds, *(f"{station}.pm" for station in config.station_names), "line.next_product"]


class PackagingLine:
    """The discrete-event model of one packaging line, from one random generator."""

    def __init__(
        self,
        config: LineConfig,
        rng: np.random.Generator,
        *,
        product: int = 0,
        buffer_levels: Sequence[int] | None = None,
        ages_s: Sequence[float] | None = None,
        lot_remaining: int | None = None,
    ) -> None:
        n_stations = len(config.stations)
        levels = list(buffer_levels) if buffer_levels is not None else [0] * (n_stations - 1)
        ages = list(ages_s) if ages_s is not None else [0.0] * n_stations
        _check_start(config, product, levels, ages, lot_remaining)
        self.config = config
        self.env = simpy.Environment()
        self.orders = Orders(product, config.lot_size, lot_remaining or config.lot_size)
        self.buffers = [
            Conveyor(capacity, product, level)
            for capacity, level in zip(config.buffer_capacities, levels, strict=True)
        ]
        self.shipping = Shipping()
        chain: list[Conveyor] = [self.orders, *self.buffers, self.shipping]
        cycle_factors = [p.cycle_factor for p in config.products]
        self.stations = [
            Station(
                self.env, station, cycle_factors, chain[i], chain[i + 1], stream, product=product, age_s=age
            )
            for i, (station, stream, age) in enumerate(
                zip(config.stations, rng.spawn(n_stations), ages, strict=True)
            )
        ]
        link(self.stations)
        self.initial_wip = sum(levels)
        self.energy_kwh = 0.0
        self._sampled_at = 0.0
        self._seen_time = [list(s.time_in_state) for s in self.stations]
        self._seen_good = [0] * n_stations
        self._seen_completed = 0
        self._seen_scrap = 0

    # --- control ---------------------------------------------------------------------------------

    def set_speeds(self, items_per_min: Sequence[float]) -> None:
        for station, speed in zip(self.stations, items_per_min, strict=True):
            if speed != station.speed:
                station.set_speed(float(speed))

    def request_maintenance(self, index: int) -> bool:
        """Ask station ``index`` for preventive maintenance; False if one is already pending or under way."""
        return self.stations[index].request_maintenance()

    def set_next_product(self, product: int) -> None:
        """The product of the next lot, taken when the current lot is used up."""
        self.orders.next_product = int(min(max(product, 0), len(self.config.products) - 1))

    def run(self, seconds: float) -> None:
        """Advance the simulation by ``seconds``."""
        self.env.run(until=self.env.now + seconds)

    # --- material balance ------------------------------------------------------------------------

    @property
    def started(self) -> int:
        """Items the filler has taken since the start."""
        return self.orders.taken

    @property
    def completed(self) -> int:
        """Good items that left the line."""
        return self.shipping.received

    @property
    def scrapped(self) -> int:
        return sum(s.rejected for s in self.stations)

    @property
    def wip(self) -> int:
        """Items on conveyors or inside machines."""
        return int(sum(b.level for b in self.buffers)) + sum(s.holding is not None for s in self.stations)

    # --- sampling --------------------------------------------------------------------------------

    def sample(self) -> dict[str, float]:
        """Tag values over the interval since the previous sample (see the module docstring)."""
        now = self.env.now
        interval = now - self._sampled_at
        if interval <= 0:
            raise SimulationError(
                f"sample() at t={now} s needs simulated time since the last sample; run() first"
            )
        per_hour = 3600.0 / interval
        tags: dict[str, float] = {}
        line_energy_kj = 0.0
        for i, station in enumerate(self.stations):
            station.flush()
            spent = [t - seen for t, seen in zip(station.time_in_state, self._seen_time[i], strict=True)]
            self._seen_time[i] = list(station.time_in_state)
            power = dict(station.config.power_kw)
            power["running"] = station.config.running_power_kw(station.speed)
            energy_kj = sum(power[name] * spent[code] for code, name in enumerate(STATES))
            line_energy_kj += energy_kj
            name = station.config.name
            for code, state in enumerate(STATES):
                tags[f"{name}.{state}"] = spent[code] / interval
            tags[f"{name}.state"] = float(station.state)
            tags[f"{name}.rate"] = (station.good - self._seen_good[i]) * per_hour
            tags[f"{name}.power"] = energy_kj / interval
            tags[f"{name}.age"] = station.age_s / 3600.0
            tags[f"{name}.product"] = float(station.target)
            self._seen_good[i] = station.good
        for k, buffer in enumerate(self.buffers, start=1):
            tags[f"buffer{k}.level"] = float(buffer.level)

        good = self.completed - self._seen_completed
        scrap = self.scrapped - self._seen_scrap
        self._seen_completed, self._seen_scrap = self.completed, self.scrapped
        self.energy_kwh += line_energy_kj / 3600.0
        tags["line.throughput"] = good * per_hour
        tags["line.scrap"] = scrap * per_hour
        tags["line.wip"] = float(self.wip)
        tags["line.power"] = line_energy_kj / interval
        tags["line.energy"] = self.energy_kwh
        tags["line.specific_energy"] = line_energy_kj / 3.6 / max(good, 1.0)
        tags["line.product"] = float(self.orders.product)
        tags["line.lot_remaining"] = float(self.orders.lot_remaining)
        self._sampled_at = now
        return tags

    def state_fractions(self) -> np.ndarray:
        """Cumulative share of time each station spent in each state since the start, (stations, states)."""
        for station in self.stations:
            station.flush()
        spent = np.asarray([s.time_in_state for s in self.stations])
        return spent / np.maximum(spent.sum(axis=1, keepdims=True), 1e-12)

    def running_seconds(self) -> np.ndarray:
        """Running time of each station since the start, seconds."""
        for station in self.stations:
            station.flush()
        return np.asarray([s.time_in_state[RUNNING] for s in self.stations])


def _check_start(
    config: LineConfig, product: int, levels: list[int], ages: list[float], lot_remaining: int | None
) -> None:
    problems = []
    if not 0 <= product < len(config.products):
        problems.append(f"product {product} is not one of 0..{len(config.products) - 1}")
    if len(levels) != len(config.buffer_capacities):
        problems.append(f"{len(levels)} buffer levels given for {len(config.buffer_capacities)} buffers")
    problems += [
        f"buffer{k} level {level} outside 0..{capacity} items"
        for k, (level, capacity) in enumerate(zip(levels, config.buffer_capacities, strict=False), start=1)
        if not 0 <= level <= capacity
    ]
    if len(ages) != len(config.stations):
        problems.append(f"{len(ages)} machine ages given for {len(config.stations)} stations")
    problems += [f"machine age {age} s is negative" for age in ages if age < 0]
    if lot_remaining is not None and not 1 <= lot_remaining <= config.lot_size:
        problems.append(f"lot_remaining {lot_remaining} outside 1..{config.lot_size} items")
    if problems:
        raise SimulationError("cannot start the packaging line: " + "; ".join(problems))
