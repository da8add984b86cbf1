"""Excitation policies for data collection: informative data that keeps the plant inside its envelope.

A world model learns only what the data shows, so the actions must move the plant across its
operating range and across the frequencies of its dynamics, while a real plant must never be driven
past a hard limit to get there. Every policy here is generic over twin specs, seeded, and respects
action bounds and rate limits. They start from a bump test (:func:`worldtwin.sim.probe.probe_plant`):
gains and time constants set amplitudes, hold times and controller tuning, and the largest safe push
toward each hard limit bounds open-loop moves.

``random-walk``
    Each action wanders around the middle of its safe range (Ornstein–Uhlenbeck: reverts on the
    plant's time constant, stationary std a quarter of the safe range), clipped to the safe range.
``prbs``
    Each action switches between the two ends of its safe range with random hold times between a
    third of and three times the plant's time constant: a generalized binary noise signal (Tulleken,
    Automatica 1990), the PRBS variant whose spectrum is shaped to the plant's bandwidth.
``pid``
    Feedback: each setpoint objective's tag is paired with the action that moves it most and held by
    a PI controller tuned from the bump test (SIMC rules, Skogestad 2003), with setpoint steps
    (ramped) around the objective's target. Closed-loop operation explores regions open-loop moves
    cannot reach safely (an open-loop unstable operating point, say). Unpaired actions random-walk.
    Twins without setpoint objectives get the tag their first action moves most, around its nominal
    value; actions whose step response never settled (a drifting or oscillating plant) are not paired.
``closed-loop-dither``
    ``pid`` with rarer setpoint steps and a binary dither added to every controller output, so
    actions and outputs stay informative while the loop holds the plant near its target.

All policies pass through an :class:`EnvelopeGuard`: when a tag's short-term extrapolation enters
the guard band of a hard limit, actions are pulled toward the side that moves the tag away
(direction from the bump test's gain signs; toward the default when no action moves it).
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from worldtwin.errors import SimulationError
from worldtwin.sim.env import TwinEnv, action_bounds, default_action, max_step_change
from worldtwin.sim.probe import PlantProfile, limit_sides, probe_plant
from worldtwin.spec.schema import Twin

OPEN_LOOP_REACH = 0.3
"""Open-loop moves stay within this fraction of an action's span from its default (and the safe range)."""


class EnvelopeGuard:
    """Pulls actions back when a measured tag heads into the guard band of a hard limit."""

    STRONG = 0.25
    """Only actions moving a tag at least this fraction as much as its strongest action are pulled:
    a weak handle's gain sign, measured at the default operating point, may not hold elsewhere."""

    def __init__(self, twin: Twin, profile: PlantProfile) -> None:
        low, high = action_bounds(twin)
        default = default_action(twin)
        strength = np.abs(profile.normalized_gain(high - low))
        self._lookahead = float(np.clip(np.min(profile.time_constant) / profile.sample_period, 1.0, 5.0))
        self._bands: list[tuple[int, float, float, np.ndarray, np.ndarray]] = []
        for index, limit in limit_sides(twin):
            threshold, bound = profile.guard_band(index, limit)
            if threshold == bound:
                continue
            away = -np.sign(profile.gain[index]) * (1.0 if limit.max is not None else -1.0)
            if strength[index].max() > 0:
                pulled = strength[index] >= self.STRONG * strength[index].max()
                safe_side = np.where(away > 0, high, low)
            else:  # nothing moves this tag: back to the known operating point
                pulled, safe_side = np.ones_like(default, dtype=bool), default
            self._bands.append((index, threshold, bound, pulled, safe_side))

    def __call__(self, obs: np.ndarray, previous: np.ndarray | None, action: np.ndarray) -> np.ndarray:
        """``action`` pulled toward the safe side as far as a tag (now or extrapolated) is into its band."""
        trend = np.zeros_like(obs) if previous is None else obs - previous
        expected = obs + self._lookahead * trend
        strongest, target = 0.0, action
        for index, threshold, bound, pulled, safe_side in self._bands:
            nearest = max if bound > threshold else min  # the reading closer to the limit
            depth = (nearest(obs[index], expected[index]) - threshold) / (bound - threshold)
            if depth > strongest:
                strongest, target = min(depth, 1.0), np.where(pulled, safe_side, action)
        return action + strongest * (target - action)


class ExcitationPolicy(ABC):
    """Base class: maps the measured vector to an action inside bounds, rate limits and the guard."""

    name: ClassVar[str]

    def __init__(self, twin: Twin, profile: PlantProfile, seed: int | None = None) -> None:
        self.twin = twin
        self.profile = profile
        self.low, self.high = action_bounds(twin)
        self.span = self.high - self.low
        self.default = default_action(twin)
        self.max_change = max_step_change(twin)
        self.dt = twin.sample_period
        # Open-loop range: the safe range from the bump test, capped at OPEN_LOOP_REACH of the span.
        self.open_low = self.default - np.minimum(profile.safe_down, OPEN_LOOP_REACH * self.span)
        self.open_high = self.default + np.minimum(profile.safe_up, OPEN_LOOP_REACH * self.span)
        self.guard = EnvelopeGuard(twin, profile)
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        """Start a new episode; ``seed`` makes the excitation reproducible."""
        self.rng = np.random.default_rng(seed)
        self.last = self.default.copy()
        self.previous_obs: np.ndarray | None = None
        self._start()

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        action = self.guard(obs, self.previous_obs, self._propose(obs))
        action = np.clip(action, self.low, self.high)
        action = self.last + np.clip(action - self.last, -self.max_change, self.max_change)
        self._applied(obs, action)
        self.last, self.previous_obs = action, obs
        return action

    @abstractmethod
    def _start(self) -> None:
        """Reset the policy's own state (``self.rng`` is fresh)."""

    @abstractmethod
    def _propose(self, obs: np.ndarray) -> np.ndarray:
        """The action the policy wants before guard, bounds and rate limits."""

    def _applied(self, obs: np.ndarray, action: np.ndarray) -> None:  # noqa: B027 (optional hook)
        """Told what was actually applied (for anti-windup and to follow guard corrections)."""

    # --- shared building blocks --------------------------------------------------------------

    def _holds(self, shortest: float, longest: float) -> np.ndarray:
        """Random hold lengths in steps, one per action, between ``shortest`` and ``longest`` × τ."""
        tau = self.profile.time_constant / self.dt
        lo = np.maximum(np.round(shortest * tau), 1)
        hi = np.maximum(np.round(longest * tau), lo + 1)
        return np.asarray(self.rng.integers(lo, hi + 1))


class RandomWalk(ExcitationPolicy):
    """Mean-reverting random walk inside the open-loop safe range."""

    name = "random-walk"

    def _start(self) -> None:
        self.position = self.default.copy()
        self.centre = 0.5 * (self.open_low + self.open_high)
        self.reversion = np.clip(self.dt / self.profile.time_constant, 0.005, 0.5)
        stationary_std = 0.25 * (self.open_high - self.open_low)
        self.kick = stationary_std * np.sqrt(self.reversion * (2.0 - self.reversion))

    def _propose(self, obs: np.ndarray) -> np.ndarray:
        noise = self.rng.standard_normal(self.position.size)
        step = self.reversion * (self.centre - self.position) + self.kick * noise
        return np.asarray(np.clip(self.position + step, self.open_low, self.open_high))

    def _applied(self, obs: np.ndarray, action: np.ndarray) -> None:
        self.position = action.copy()


class BinaryNoise(ExcitationPolicy):
    """Generalized binary noise between the ends of the open-loop safe range (``prbs``)."""

    name = "prbs"

    def _start(self) -> None:
        self.high_level = self.rng.random(self.default.size) < 0.5
        self.countdown = self._holds(1.0 / 3.0, 3.0)

    def _propose(self, obs: np.ndarray) -> np.ndarray:
        self.countdown -= 1
        switch = self.countdown <= 0
        self.high_level = np.where(switch, ~self.high_level, self.high_level)
        self.countdown = np.where(switch, self._holds(1.0 / 3.0, 3.0), self.countdown)
        return np.where(self.high_level, self.open_high, self.open_low)


@dataclass
class Loop:
    """One PI loop: controlled tag (measured index) paired with an action, tuned by SIMC."""

    tag: int
    action: int
    target: float
    step: float
    time_constant: float
    gain: float
    integral_time: float
    setpoint: float = 0.0
    goal: float = 0.0
    integral: float = 0.0


class PID(ExcitationPolicy):
    """PI loops on the setpoint objectives with ramped setpoint steps; other actions random-walk."""

    name = "pid"
    step_holds = (3.0, 8.0)  # setpoint hold times, in plant time constants
    dither = 0.0  # binary dither on the controller outputs, fraction of span

    def __init__(self, twin: Twin, profile: PlantProfile, seed: int | None = None) -> None:
        self.loops = _pair_loops(twin, profile)
        self._free = RandomWalk(twin, profile)
        super().__init__(twin, profile, seed)

    def _start(self) -> None:
        self._free.reset(int(self.rng.integers(2**31)))
        self.countdown = np.zeros(len(self.loops), dtype=int)
        self.dither_sign = np.where(self.rng.random(self.default.size) < 0.5, 1.0, -1.0)
        self.dither_countdown = self._holds(0.2, 1.0)
        for loop in self.loops:
            loop.setpoint = float(self.profile.nominal[loop.tag])
            loop.goal = loop.target
            loop.integral = float(self.default[loop.action])

    def _propose(self, obs: np.ndarray) -> np.ndarray:
        action = self._free._propose(obs)
        for k, loop in enumerate(self.loops):
            self.countdown[k] -= 1
            if self.countdown[k] <= 0:
                loop.goal = loop.target + loop.step * float(self.rng.uniform(-1.0, 1.0))
                tau = loop.time_constant / self.dt
                self.countdown[k] = int(
                    self.rng.integers(
                        max(int(self.step_holds[0] * tau), 1), max(int(self.step_holds[1] * tau), 2) + 1
                    )
                )
            ramp = loop.step * self.dt / loop.time_constant
            loop.setpoint += float(np.clip(loop.goal - loop.setpoint, -ramp, ramp))
            error = loop.setpoint - obs[loop.tag]
            loop.integral += loop.gain * self.dt / loop.integral_time * error
            action[loop.action] = loop.integral + loop.gain * error
        if self.dither > 0:
            self.dither_countdown -= 1
            flip = self.dither_countdown <= 0
            self.dither_sign = np.where(flip, -self.dither_sign, self.dither_sign)
            self.dither_countdown = np.where(flip, self._holds(0.2, 1.0), self.dither_countdown)
        return action + self._dither()

    def _dither(self) -> np.ndarray:
        return np.asarray(self.dither * self.span * self.dither_sign)

    def _applied(self, obs: np.ndarray, action: np.ndarray) -> None:
        undithered = action - self._dither()
        self._free._applied(obs, undithered)
        for loop in self.loops:  # back-calculation: the integrator follows what was really applied
            loop.integral = float(undithered[loop.action]) - loop.gain * (loop.setpoint - obs[loop.tag])


class ClosedLoopDither(PID):
    """``pid`` with rarer setpoint steps and a binary dither on every controller output."""

    name = "closed-loop-dither"
    step_holds = (10.0, 20.0)
    dither = 0.03


def _pair_loops(twin: Twin, profile: PlantProfile) -> list[Loop]:
    """Pair each setpoint objective's tag (by weight) with the unpaired action that moves it most."""
    low, high = action_bounds(twin)
    span = high - low
    normalized = np.abs(profile.normalized_gain(span))
    measured = list(profile.measured)
    wanted = [
        (measured.index(o.tag), float(o.target if o.target is not None else 0.0))
        for o in sorted(twin.objectives, key=lambda o: -o.weight)
        if o.kind == "setpoint" and o.tag in measured
    ]
    if not wanted and span.size:
        candidates = [i for i, name in enumerate(measured) if twin.tag(name).kind != "disturbance"]
        if candidates:
            best = max(candidates, key=lambda i: normalized[i, 0])
            wanted = [(best, float(profile.nominal[best]))]
    loops: list[Loop] = []
    used: set[int] = set()
    for tag, target in wanted:
        options = [
            j for j in range(span.size) if j not in used and profile.settled[j] and normalized[tag, j] > 1e-3
        ]
        if not options:
            continue
        j = max(options, key=lambda a: normalized[tag, a])
        used.add(j)
        process_gain = float(profile.gain[tag, j])
        tau = float(profile.response_time[tag, j])
        delay = 0.5 * profile.sample_period  # a sample-and-hold loop's effective delay (half rule)
        closed_loop = max(delay, tau / 20.0)
        target, step = _setpoint_band(twin, profile, tag, target)
        loops.append(
            Loop(
                tag=tag,
                action=j,
                target=target,
                step=step,
                time_constant=tau,
                gain=tau / (process_gain * (closed_loop + delay)),
                integral_time=min(tau, 4.0 * (closed_loop + delay)),
            )
        )
    return loops


def _setpoint_band(twin: Twin, profile: PlantProfile, tag: int, target: float) -> tuple[float, float]:
    """(target, step) such that setpoints target ± step stay clear of the guard bands of the tag's limits.

    Steps are 10 % of the tag's scale, or less where a guard band is nearer; a target inside a guard
    band moves halfway back toward the nominal value.
    """
    nominal = float(profile.nominal[tag])
    low_guard, high_guard = -np.inf, np.inf
    for index, limit in limit_sides(twin):
        if index == tag:
            threshold, _ = profile.guard_band(index, limit)
            if limit.max is not None:
                high_guard = min(high_guard, threshold)
            else:
                low_guard = max(low_guard, threshold)
    if target > high_guard:
        target = nominal + 0.5 * (high_guard - nominal)
    if target < low_guard:
        target = nominal + 0.5 * (low_guard - nominal)
    room = min(high_guard - target, target - low_guard)
    return target, float(min(0.1 * profile.scale[tag], 0.5 * room))


POLICIES: dict[str, type[ExcitationPolicy]] = {
    cls.name: cls for cls in (RandomWalk, BinaryNoise, PID, ClosedLoopDither)
}


def policy_class(name: str) -> type[ExcitationPolicy]:
    """The policy registered as ``name``; a did-you-mean :class:`SimulationError` otherwise."""
    if name in POLICIES:
        return POLICIES[name]
    close = difflib.get_close_matches(name, list(POLICIES), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise SimulationError(f"unknown excitation policy {name!r}; {hint}choose one of {', '.join(POLICIES)}")


def make_policy(
    name: str, env: TwinEnv, *, seed: int = 0, profile: PlantProfile | None = None
) -> ExcitationPolicy:
    """Build an excitation policy for ``env``; bump-tests the env first unless ``profile`` is given.

    The bump test resets and steps ``env``; reset it before collecting.
    """
    cls = policy_class(name)
    if profile is None:
        profile = probe_plant(env, seed=seed)
    return cls(env.twin, profile, seed=seed)
