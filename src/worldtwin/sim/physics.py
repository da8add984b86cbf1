"""The shell shared by physics twins: a pure, batch-vectorised transition under a thin ``TwinEnv``.

A physics twin is written as three pure functions over numpy arrays with a leading batch axis:

- ``initial_state(params, rng, batch) -> state``          shape ``(B, n_state)``
- ``transition(state, action, params, rng) -> state``     one sample period, its own fixed-step integrator
- ``observe(state, action, params, rng) -> {tag: (B,)}``  what the instruments read (noise included)

plus a frozen parameters dataclass. :class:`PhysicsTwinEnv` runs them with batch 1 behind the Gymnasium
contract; batched rollouts, benchmarks and tests call the functions directly with any batch size.
Every random draw goes through the ``rng`` passed in, so a seed reproduces a trajectory exactly, and
twins draw the same numbers whatever the action is (the excitation policies' bump test relies on it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from worldtwin.errors import Problem, SpecError
from worldtwin.sim.env import TwinEnv
from worldtwin.spec.schema import Twin

ParamsT = TypeVar("ParamsT")
Array = np.ndarray
Rows = slice | np.ndarray
Derivative = Callable[[Array, Rows], Array]
"""``derivative(x, rows)``: dx/dt of the batch members ``rows`` (slice or indices) whose states are ``x``."""


def rk4(
    derivative: Derivative,
    x: Array,
    duration: float,
    substeps: int,
    stiffness: Derivative | None = None,
    safety: float = 0.5,
) -> Array:
    """Integrate ``dx/dt = derivative(x, rows)`` over ``duration`` with the classical Runge–Kutta scheme.

    Steps are ``duration / substeps`` long. When ``stiffness(x, rows)`` is given (an estimate of the
    fastest rate of each batch member, in 1/time) a member's step also stays below ``safety /
    stiffness``, so a runaway (an exothermic ignition, say) is integrated stably instead of blowing
    up; members that need no shorter step take exactly ``substeps`` steps, and once they are done
    only the members still running are stepped, so one runaway does not slow a whole batch down.
    Deterministic: the steps depend on the state only.
    """
    nominal = duration / substeps
    if stiffness is None:
        for _ in range(substeps):
            x = _rk4_step(_for_rows(derivative, slice(None)), x, nominal)
        return x
    x = np.array(x, dtype=np.float64)
    remaining = np.full(x.shape[0], float(duration))
    rows = np.arange(x.shape[0])
    while rows.size:
        part = x[rows]
        limit = safety / np.maximum(stiffness(part, rows), 1e-300)
        h = np.minimum(np.minimum(nominal, limit), remaining[rows])
        x[rows] = _rk4_step(_for_rows(derivative, rows), part, h[:, None])
        remaining[rows] -= h
        rows = rows[remaining[rows] > 1e-9 * duration]
    return x


def _for_rows(derivative: Derivative, rows: Rows) -> Callable[[Array], Array]:
    return lambda x: derivative(x, rows)


def _rk4_step(derivative: Callable[[Array], Array], x: Array, h: Array | float) -> Array:
    k1 = derivative(x)
    k2 = derivative(x + 0.5 * h * k1)
    k3 = derivative(x + 0.5 * h * k2)
    k4 = derivative(x + h * k3)
    return x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def ar1_step(value: Array, mean: Array | float, decay: float, std: Array | float, noise: Array) -> Array:
    """One exact step of an Ornstein–Uhlenbeck process sampled every Δt: ``decay = exp(-Δt/τ)``.

    ``std`` is the stationary standard deviation; ``noise`` holds standard normal draws.
    """
    return mean + decay * (value - mean) + std * np.sqrt(1.0 - decay * decay) * noise


class PhysicsTwinEnv(TwinEnv, Generic[ParamsT]):
    """A ``TwinEnv`` that steps a pure transition function with batch size 1.

    Subclasses set the class attributes ``state_names`` (documentation and checks), ``measured``
    (the tag names ``observe`` returns), ``actions`` (the action tags ``transition`` expects, in order)
    and implement the three static functions.
    """

    state_names: ClassVar[tuple[str, ...]] = ()
    measured: ClassVar[tuple[str, ...]] = ()
    actions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, twin: Twin, params: ParamsT, max_episode_steps: int | None = None) -> None:
        _check_tags(twin, type(self).__name__, self.measured, self.actions)
        super().__init__(twin, max_episode_steps=max_episode_steps)
        self.params = params
        self.state: Array = np.zeros((1, len(self.state_names)))
        self._trips = [limit for limit in twin.limits if limit.severity == "trip"]

    # --- the pure functions a twin provides ----------------------------------------------------

    @staticmethod
    def initial_state(params: Any, rng: np.random.Generator, batch: int) -> Array:
        raise NotImplementedError

    @staticmethod
    def transition(state: Array, action: Array, params: Any, rng: np.random.Generator) -> Array:
        raise NotImplementedError

    @staticmethod
    def observe(state: Array, action: Array, params: Any, rng: np.random.Generator) -> Mapping[str, Array]:
        raise NotImplementedError

    # --- the shell -----------------------------------------------------------------------------

    def _reset(self, options: dict[str, Any] | None) -> dict[str, float]:
        self.state = self.initial_state(self.params, self.np_random, 1)
        return self._measure(self._default_action[None, :])

    def _advance(self, action: np.ndarray) -> dict[str, float]:
        batch_action = action[None, :]
        self.state = self.transition(self.state, batch_action, self.params, self.np_random)
        return self._measure(batch_action)

    def _terminated(self, tags: dict[str, float]) -> bool:
        """A measured value past a trip limit ends the episode, as the plant's interlock would."""
        return any(
            (limit.max is not None and tags[limit.tag] > limit.max)
            or (limit.min is not None and tags[limit.tag] < limit.min)
            for limit in self._trips
        )

    def _measure(self, action: Array) -> dict[str, float]:
        readings = self.observe(self.state, action, self.params, self.np_random)
        return {name: float(readings[name][0]) for name in self.measured}


def _check_tags(twin: Twin, owner: str, measured: tuple[str, ...], actions: tuple[str, ...]) -> None:
    """The spec handed to a physics twin must name exactly the tags its equations produce and consume."""
    problems = []
    if tuple(twin.action_names) != actions:
        problems.append(
            Problem(
                ("tags",),
                f"{owner} is driven by the actions {list(actions)} in this order",
                value=twin.action_names,
                expected=str(list(actions)),
                hint="declare these action tags, in this order, in the spec",
            )
        )
    if set(twin.measured_names) != set(measured):
        problems.append(
            Problem(
                ("tags",),
                f"{owner} measures exactly the tags {sorted(measured)}",
                value=sorted(twin.measured_names),
                expected=str(sorted(measured)),
                hint="start from the built-in spec and keep its tag names",
            )
        )
    if problems:
        raise SpecError(problems, source=f"spec of {twin.name!r} for {owner}")
