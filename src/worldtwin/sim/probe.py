"""Bump tests: what an excitation policy needs to know about a plant before it moves it.

A control engineer about to excite a plant first bumps each handle and watches: which tags respond,
which way, how much and how fast, and how far a handle can go before the plant nears a hard limit.
:func:`probe_plant` does that on any twin (physics, FMU, wrapped Gymnasium env):

1. a **baseline** run at the default action and one **bump** run per action (a small step,
   ``amplitude`` × its span), from the same seed; their difference is the step response, free of
   disturbances and noise where the twin draws the same random numbers whatever the action (the
   physics twins do; a discrete-event twin keeps some noise in it). From it: the
   steady-state gain matrix and each action's dominant time constant (63 % rise). The horizon doubles
   until the responses settle (or the step budget is spent);
2. for each hard limit, a **push** toward it: all actions stepped together in the direction that
   drives the limited tag toward its limit, with growing amplitude, until a run enters the guard
   band of any limit: the second half of the way from the tag's extreme in the baseline run to the
   limit. A quarter of the largest safe push bounds how far open-loop excitation may move each
   action from its default in that direction (a wide margin: the push saw one realization of the
   disturbances, and a disturbance can move a fold). This catches what a local gain cannot:
   an exothermic reactor that ignites beyond a fold, a tank that overflows after a long push.
   A limit that default operation already reaches has no band and bounds nothing: the probe cannot
   tell a safe move from an unsafe one there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worldtwin.sim.env import TwinEnv, action_bounds, default_action
from worldtwin.spec.schema import HardLimit, Twin

PUSH_AMPLITUDES = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0)
"""Fractions of each action's span tried, in order, when pushing toward a limit."""
GUARD_FRACTION = 0.5
"""A limit's guard band starts this fraction of the way from the tag's baseline extreme to the limit."""
SAFETY_MARGIN = 0.25
"""Open-loop excitation goes at most this fraction of the largest safe push."""


@dataclass(frozen=True)
class PlantProfile:
    """Step-response facts about a plant around its default action (arrays in spec tag order)."""

    measured: tuple[str, ...]
    """Measured tag names (rows of ``gain``, entries of ``nominal`` and ``scale``)."""
    nominal: np.ndarray
    """Mean measured values over the last quarter of the baseline run (the default operating point)."""
    baseline_low: np.ndarray
    """Lowest reading of each measured tag in the baseline run (default action)."""
    baseline_high: np.ndarray
    """Highest reading of each measured tag in the baseline run (default action)."""
    scale: np.ndarray
    """A typical size of each measured tag: its range width, else its baseline magnitude."""
    gain: np.ndarray
    """(n_measured, n_actions): steady change of each tag per unit change of each action."""
    response_time: np.ndarray
    """(n_measured, n_actions): seconds until each tag's step response reached 63 % of its final value
    (the run length where a tag did not respond)."""
    time_constant: np.ndarray
    """(n_actions,): the response time of the tag each action moves most (its dominant time constant)."""
    settled: np.ndarray
    """(n_actions,): whether each action's step response settled within the probe (else its gains
    and time constant describe a plant that drifts or oscillates, and feedback cannot be tuned from them)."""
    safe_up: np.ndarray
    """(n_actions,): how far above its default each action may go in open loop (action units)."""
    safe_down: np.ndarray
    """(n_actions,): how far below its default each action may go in open loop (action units)."""
    sample_period: float

    def normalized_gain(self, span: np.ndarray) -> np.ndarray:
        """Gains in 'fraction of tag scale per fraction of action span' (dimensionless, comparable)."""
        return np.asarray(self.gain * span[None, :] / self.scale[:, None])

    def guard_band(self, index: int, limit: HardLimit) -> tuple[float, float]:
        """(threshold, limit value) of a one-sided limit on measured tag ``index``; see :func:`guard_band`."""
        return guard_band(limit, self.baseline_low[index], self.baseline_high[index])


def guard_band(limit: HardLimit, low: float, high: float) -> tuple[float, float]:
    """(threshold, limit value): where a one-sided limit's guard band starts, and the limit itself.

    ``low``/``high``: the tag's extremes at the default action; the band starts ``GUARD_FRACTION`` of
    the way from the extreme nearer the limit to the limit (no band when default operation already
    reaches the limit).
    """
    bound = limit.max if limit.max is not None else limit.min
    assert bound is not None  # a HardLimit always has min or max (spec checks)
    start = high if limit.max is not None else low
    if (limit.max is not None and start >= bound) or (limit.max is None and start <= bound):
        return bound, bound
    return start + GUARD_FRACTION * (bound - start), bound


def limit_sides(twin: Twin) -> list[tuple[int, HardLimit]]:
    """Each one-sided limit as (measured index, limit); a two-sided limit appears twice."""
    names = twin.measured_names
    out = []
    for limit in twin.limits:
        if limit.tag not in names:
            continue
        for side in ("min", "max"):
            if getattr(limit, side) is not None:
                other = "max" if side == "min" else "min"
                out.append((names.index(limit.tag), limit.model_copy(update={other: None})))
    return out


def probe_plant(
    env: TwinEnv,
    *,
    seed: int = 0,
    amplitude: float = 0.05,
    horizon: int = 64,
    max_horizon: int = 1024,
    budget: int = 8192,
) -> PlantProfile:
    """Bump-test ``env`` (it is reset and stepped; reset it again afterwards). See the module docstring.

    The bump runs last ``horizon`` steps, doubled until the responses settle, up to ``max_horizon``
    and while one round of runs (baseline plus one per action) stays within ``budget`` steps.
    """
    twin = env.twin
    low, high = action_bounds(twin)
    span = high - low
    default = default_action(twin)
    n_act = default.size
    bumps = np.where(default + amplitude * span <= high, amplitude * span, -amplitude * span)

    while True:
        baseline = _run(env, seed, np.tile(default, (horizon, 1)))
        responses = []
        for j in range(n_act):
            bumped = default.copy()
            bumped[j] += bumps[j]
            run = _run(env, seed, np.tile(bumped, (horizon, 1)))
            length = min(len(run), len(baseline))
            responses.append(run[:length] - baseline[:length])
        scale = _scale(twin, baseline)
        cut_short = min(len(r) for r in responses) < horizon + 1
        exhausted = horizon >= max_horizon or (n_act + 1) * 2 * horizon > budget
        if cut_short or exhausted or all(_settled(r, scale) for r in responses):
            break
        horizon *= 2

    gain, response_time, time_constant = _step_facts(responses, bumps, scale, twin.sample_period, horizon)
    safe_up, safe_down = high - default, default - low
    for index, limit in limit_sides(twin):
        threshold, bound = guard_band(limit, baseline[:, index].min(), baseline[:, index].max())
        direction = np.sign(gain[index]) * (1.0 if limit.max is not None else -1.0)
        direction[np.abs(gain[index] * span) < 1e-6 * scale[index]] = 0.0
        if threshold == bound or not direction.any():
            continue  # default operation already reaches this limit, or no action moves its tag
        reach = _safe_push(env, seed, twin, default, (low, high), direction, baseline, horizon)
        safe_up = np.where(direction > 0, np.minimum(safe_up, SAFETY_MARGIN * reach), safe_up)
        safe_down = np.where(direction < 0, np.minimum(safe_down, SAFETY_MARGIN * reach), safe_down)

    return PlantProfile(
        measured=tuple(twin.measured_names),
        nominal=baseline[(3 * len(baseline)) // 4 :].mean(axis=0),  # an average: some plants never settle
        baseline_low=baseline.min(axis=0),
        baseline_high=baseline.max(axis=0),
        scale=scale,
        gain=gain,
        response_time=response_time,
        time_constant=time_constant,
        settled=np.array([_settled(r, scale) for r in responses]),
        safe_up=np.asarray(safe_up),
        safe_down=np.asarray(safe_down),
        sample_period=twin.sample_period,
    )


def _step_facts(
    responses: list[np.ndarray], bumps: np.ndarray, scale: np.ndarray, period: float, horizon: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gain matrix, 63 % response times and each action's dominant time constant from step responses.

    A tag that did not respond gets the run's duration as response time; an action that moved
    nothing gets a quarter of it as time constant.
    """
    n_measured, duration = scale.size, horizon * period
    gain = np.zeros((n_measured, len(responses)))
    response_time = np.full((n_measured, len(responses)), duration)
    time_constant = np.full(len(responses), duration / 4.0)
    for j, response in enumerate(responses):
        final = _final(response)
        gain[:, j] = final / bumps[j]
        for i in np.flatnonzero(np.abs(final) / scale > 1e-9):
            reached = np.flatnonzero(np.abs(response[:, i]) >= 0.63 * abs(final[i]))
            response_time[i, j] = max(int(reached[0]) if reached.size else len(response), 1) * period
        strongest = int(np.argmax(np.abs(final) / scale))
        if abs(final[strongest]) / scale[strongest] > 1e-9:
            time_constant[j] = response_time[strongest, j]
    return gain, response_time, time_constant


def _safe_push(
    env: TwinEnv,
    seed: int,
    twin: Twin,
    default: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    direction: np.ndarray,
    baseline: np.ndarray,
    horizon: int,
) -> np.ndarray:
    """Per action, the largest move from the default along ``direction`` that kept clear of guard bands."""
    low, high = bounds
    extremes = baseline.min(axis=0), baseline.max(axis=0)
    bands = [(i, *guard_band(limit, extremes[0][i], extremes[1][i])) for i, limit in limit_sides(twin)]
    bands = [(i, threshold, bound) for i, threshold, bound in bands if threshold != bound]
    reach = np.zeros_like(default)
    for fraction in PUSH_AMPLITUDES:
        target = np.clip(default + fraction * (high - low) * direction, low, high)
        run = _run(env, seed, np.tile(target, (horizon, 1)))
        if any(_entered(run[:, i], threshold, bound) for i, threshold, bound in bands):
            break
        reach = np.abs(target - default)
        if np.allclose(target, np.where(direction > 0, high, np.where(direction < 0, low, target))):
            break  # every pushed action sits at its bound: nothing further to try
    return reach


def _entered(values: np.ndarray, threshold: float, bound: float) -> bool:
    """True when ``values`` reached the guard band that starts at ``threshold`` (``bound``: the limit)."""
    return bool(np.any(values >= threshold) if bound >= threshold else np.any(values <= threshold))


def _run(env: TwinEnv, seed: int, actions: np.ndarray) -> np.ndarray:
    """Measured vectors from reset through each action (stops early when the episode ends)."""
    obs, _ = env.reset(seed=seed)
    rows = [obs]
    for action in actions:
        obs, _, terminated, truncated, _ = env.step(action)
        rows.append(obs)
        if terminated or truncated:
            break
    return np.asarray(rows, dtype=np.float64)


def _scale(twin: Twin, baseline: np.ndarray) -> np.ndarray:
    sizes = []
    for i, name in enumerate(twin.measured_names):
        tag_range = twin.tag(name).range
        if tag_range is not None:
            sizes.append(tag_range[1] - tag_range[0])
        else:
            sizes.append(max(float(np.ptp(baseline[:, i])), float(np.abs(baseline[:, i]).max()), 1e-6))
    return np.asarray(sizes)


def _final(response: np.ndarray) -> np.ndarray:
    tail = max(len(response) // 10, 1)
    return np.asarray(response[-tail:].mean(axis=0))


def _settled(response: np.ndarray, scale: np.ndarray) -> bool:
    """True when the strongest response changed less than 10 % over the last quarter of the run."""
    final = _final(response)
    strongest = int(np.argmax(np.abs(final) / scale))
    size = abs(final[strongest])
    if size / scale[strongest] < 1e-9:
        return True
    earlier = response[(3 * len(response)) // 4, strongest]
    return bool(abs(final[strongest] - earlier) <= 0.1 * size)
