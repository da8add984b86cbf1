"""Machines and accumulation conveyors of a packaging line, as SimPy processes over plain counters.

Every item is an individual DES entity: each machine takes one item from its input, processes it
(one ``timeout``), and puts it on its output. The hot loop avoids SimPy resources and interrupts:

- a conveyor is a FIFO of product runs (``[product, count]``), so an item is its product code;
- a machine waits on its own ``wake`` event only when it must (input empty, output full), and the
  neighbour that changes the conveyor succeeds that event — no event per item beyond the timeout;
- failures are counted down on the machine's own running clock, so a failure that falls inside an
  item's processing splits that one timeout — no separate failure process, no ``Interrupt``.

State time is accumulated only when the state changes; :meth:`Station.flush` closes the open
segment when the line is sampled.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Generator

import numpy as np
import simpy

from worldtwin.sim.des import draws
from worldtwin.sim.des.config import (
    BLOCKED,
    CHANGEOVER,
    DOWN,
    MAINTENANCE,
    RUNNING,
    STARVED,
    STATES,
    StationConfig,
)


class Conveyor:
    """A finite FIFO buffer between two machines, holding runs of items of one product each."""

    __slots__ = ("capacity", "consumer", "level", "producer", "runs")

    def __init__(self, capacity: float, product: int, level: int = 0) -> None:
        self.capacity = capacity
        self.level: float = level
        self.runs: deque[list[int]] = deque([[product, level]] if level else [])
        self.producer: Station | None = None
        self.consumer: Station | None = None

    def head(self) -> int:
        """Product of the next item out."""
        return self.runs[0][0]

    def push(self, product: int) -> None:
        runs = self.runs
        if runs and runs[-1][0] == product:
            runs[-1][1] += 1
        else:
            runs.append([product, 1])
        self.level += 1
        consumer = self.consumer
        if consumer is not None and consumer.wake is not None:
            consumer.wake_up()

    def pop(self) -> int:
        head = self.runs[0]
        head[1] -= 1
        if head[1] == 0:
            self.runs.popleft()
        self.level -= 1
        producer = self.producer
        if producer is not None and producer.wake is not None:
            producer.wake_up()
        return head[0]


class Orders(Conveyor):
    """The filler's endless supply of empty containers, in lots of one product each.

    When a lot is used up, the next lot is of ``next_product`` (set by the planner at any time).
    """

    __slots__ = ("lot_remaining", "lot_size", "next_product", "product", "taken")

    def __init__(self, product: int, lot_size: int, lot_remaining: int) -> None:
        super().__init__(math.inf, product)
        self.level = math.inf
        self.product = product
        self.lot_size = lot_size
        self.lot_remaining = lot_remaining
        self.next_product = product
        self.taken = 0

    def head(self) -> int:
        return self.product

    def pop(self) -> int:
        product = self.product
        self.taken += 1
        self.lot_remaining -= 1
        if self.lot_remaining == 0:
            self.product = self.next_product
            self.lot_remaining = self.lot_size
        return product


class Shipping(Conveyor):
    """Where finished items leave the line; never full."""

    __slots__ = ("received",)

    def __init__(self) -> None:
        super().__init__(math.inf, 0)
        self.received = 0

    def push(self, product: int) -> None:
        self.received += 1


class Station:
    """One machine: a SimPy process that moves items from ``upstream`` to ``downstream``."""

    def __init__(
        self,
        env: simpy.Environment,
        config: StationConfig,
        cycle_factors: list[float],
        upstream: Conveyor,
        downstream: Conveyor,
        rng: np.random.Generator,
        *,
        product: int,
        age_s: float = 0.0,
    ) -> None:
        self.env = env
        self.config = config
        self.cycle_factors = cycle_factors
        self.upstream = upstream
        self.downstream = downstream
        upstream.consumer = self
        downstream.producer = self
        self.feeder: Station | None = None
        """The machine before this one; lets a starved machine change over before the new product arrives."""

        streams = rng.spawn(6)
        self._noise = draws.gamma_around_one(streams[0], config.cycle_cv)
        self._jam_gap = draws.exponential(streams[1], config.jam_mtbf_s)
        self._jam_repair = draws.exponential(streams[2], config.jam_mttr_s)
        self._unit_exp = draws.exponential(streams[3], 1.0)
        self._breakdown_repair = draws.lognormal(
            streams[4], config.breakdown_mttr_s, config.breakdown_repair_cv
        )
        self._reject = draws.uniform(streams[5])
        self._weibull_scale = draws.weibull_scale(config.breakdown_mtbf_s, config.breakdown_shape)

        self.setup = product
        """Product the machine is set up for."""
        self.target = product
        """Product the machine is set up for or changing over to."""
        self.holding: int | None = None
        self.pm_requested = False
        self.wake: simpy.Event | None = None

        self.state = STARVED
        self.state_since = env.now
        self.time_in_state = [0.0] * len(STATES)
        self.good = 0
        self.rejected = 0
        self.jams = 0
        self.breakdowns = 0
        self.maintenances = 0
        self.changeovers = 0

        self.clock = 0.0
        """Running seconds since the start; failures are scheduled on this clock, not on the wall clock."""
        self.renewed_at = -age_s
        """Clock reading at the last breakdown repair or preventive maintenance (before the start: an age)."""
        self.speed = config.nominal_speed_per_min
        self._cycle_s = 60.0 / self.speed
        self._stress = 1.0
        self.jam_at = next(self._jam_gap)
        self.wear_at = self._residual_life(age_s)
        self.fail_at = min(self.jam_at, self.wear_at)
        self.process = env.process(self._run())

    @property
    def age_s(self) -> float:
        """Running seconds since the last breakdown repair or preventive maintenance."""
        return self.clock - self.renewed_at

    # --- control ---------------------------------------------------------------------------------

    def set_speed(self, items_per_min: float) -> None:
        """Change the speed set-point; it applies from the next item on.

        Jams come ``(speed / nominal)^jam_speed_exponent`` times as often per running second, so the
        running time left to the next jam is rescaled by the ratio of old to new stress.
        """
        stress = (items_per_min / self.config.nominal_speed_per_min) ** self.config.jam_speed_exponent
        self.jam_at = self.clock + max(self.jam_at - self.clock, 0.0) * self._stress / stress
        self.fail_at = min(self.jam_at, self.wear_at)
        self.speed = items_per_min
        self._cycle_s = 60.0 / items_per_min
        self._stress = stress

    def request_maintenance(self) -> bool:
        """Ask for preventive maintenance after the current item. False when one is pending or under way."""
        if self.pm_requested or self.state == MAINTENANCE:
            return False
        self.pm_requested = True
        self.wake_up()
        return True

    def wake_up(self) -> None:
        """Make a waiting machine look at its conveyors again."""
        event = self.wake
        if event is not None:
            self.wake = None
            event.succeed()

    # --- accounting ------------------------------------------------------------------------------

    def _enter(self, state: int) -> None:
        now = self.env.now
        self.time_in_state[self.state] += now - self.state_since
        self.state = state
        self.state_since = now

    def flush(self) -> None:
        """Close the open state segment at the current time (before reading ``time_in_state``)."""
        self._enter(self.state)

    def _residual_life(self, age_s: float) -> float:
        """Clock reading of the next breakdown of a machine that survived ``age_s`` (Weibull, conditional)."""
        shape, scale = self.config.breakdown_shape, self._weibull_scale
        life = scale * ((age_s / scale) ** shape + next(self._unit_exp)) ** (1.0 / shape)
        return self.clock + life - age_s

    def _renew(self) -> None:
        """As good as new for breakdowns (after a repair or a preventive maintenance)."""
        self.renewed_at = self.clock
        self.wear_at = self._residual_life(0.0)
        self.fail_at = min(self.jam_at, self.wear_at)

    # --- the process -----------------------------------------------------------------------------

    def _sleep(self) -> simpy.Event:
        self.wake = self.env.event()
        return self.wake

    def _run(self) -> Generator[simpy.Event, None, None]:
        env, config = self.env, self.config
        upstream, downstream = self.upstream, self.downstream
        noise, reject = self._noise, self._reject
        reject_fraction, factors = config.reject_fraction, self.cycle_factors
        while True:
            if self.pm_requested:
                self.pm_requested = False
                self._enter(MAINTENANCE)
                yield env.timeout(config.pm_duration_s)
                self.maintenances += 1
                self._renew()
                continue
            if upstream.level == 0:
                feeder = self.feeder
                if feeder is not None and feeder.target != self.setup and feeder.holding is None:
                    yield from self._change_over(feeder.target)
                    continue
                self._enter(STARVED)
                yield self._sleep()
                continue
            product = upstream.head()
            if product != self.setup:
                yield from self._change_over(product)
                continue

            self.holding = upstream.pop()
            if self.state != RUNNING:
                self._enter(RUNNING)
            work = self._cycle_s * factors[product] * next(noise)
            if self.clock + work >= self.fail_at:
                work = yield from self._fail_during(work)
            yield env.timeout(work)
            self.clock += work

            if reject_fraction and next(reject) < reject_fraction:
                self.rejected += 1
                self.holding = None
                continue
            while downstream.level >= downstream.capacity:
                self._enter(BLOCKED)
                yield self._sleep()
            downstream.push(product)
            self.holding = None
            self.good += 1

    def _change_over(self, product: int) -> Generator[simpy.Event, None, None]:
        self.target = product
        self._enter(CHANGEOVER)
        consumer = self.downstream.consumer
        if consumer is not None:
            consumer.wake_up()  # it may change over too, in parallel, once it has run out of the old product
        yield self.env.timeout(self.config.changeover_s)
        self.setup = product
        self.changeovers += 1

    def _fail_during(self, work: float) -> Generator[simpy.Event, None, float]:
        """Run through the jams and breakdowns that fall inside ``work`` seconds; return the work left."""
        env = self.env
        while self.clock + work >= self.fail_at:
            run = max(self.fail_at - self.clock, 0.0)
            yield env.timeout(run)
            work -= run
            self.clock += run
            self._enter(DOWN)
            if self.jam_at <= self.wear_at:
                self.jams += 1
                self.jam_at = self.clock + next(self._jam_gap) / self._stress
                self.fail_at = min(self.jam_at, self.wear_at)
                yield env.timeout(next(self._jam_repair))
            else:
                self.breakdowns += 1
                yield env.timeout(next(self._breakdown_repair))
                self._renew()
            self._enter(RUNNING)
        return work


def link(stations: list[Station]) -> None:
    """Tell each machine which machine feeds it."""
    for before, after in itertools.pairwise(stations):
        after.feeder = before
