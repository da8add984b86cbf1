"""Small plant simulators for world-model benchmarks, written here so the benchmarks stand alone.

Each returns a trajectory table (``episode``, ``time``, tags) logged under piecewise-constant random
actions (an excitation policy: random levels held for random times) and a twin spec for it.

- ``cstr``: exothermic CSTR (the classic Seborg et al. example: A → B, Arrhenius kinetics), coolant
  temperature as the action; strongly nonlinear near ignition.
- ``thermal``: a building zone with a wall (two thermal masses), heater power as the action, outdoor
  temperature as a known-ahead input and occupancy gains on a shift schedule (calendar-driven).
- ``tanks``: two coupled tanks with square-root outflows, two pumps as actions.

- ``builtin-cstr``, ``builtin-thermal``: the project's registered twins under their random-walk
  excitation policy (``worldtwin.sim.collect``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from worldtwin.spec.schema import Action, Metadata, ModelConfig, Tag, Twin


def excitation(
    rng: np.random.Generator,
    episodes: int,
    steps: int,
    low: np.ndarray,
    high: np.ndarray,
    hold: tuple[int, int] = (5, 40),
) -> np.ndarray:
    """Random levels held for random durations: (episodes, steps, n_actions)."""
    out = np.empty((episodes, steps, len(low)))
    for e in range(episodes):
        t = 0
        while t < steps:
            length = int(rng.integers(*hold))
            out[e, t : t + length] = rng.uniform(low, high)
            t += length
    return out


def simulate(
    step: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    state0: np.ndarray,
    actions: np.ndarray,
    known: np.ndarray | None = None,
) -> np.ndarray:
    """Roll ``step(state, action, known)`` over (episodes, steps); returns states (episodes, steps, n)."""
    states = np.empty((*actions.shape[:2], state0.shape[-1]))
    state = state0
    for t in range(actions.shape[1]):
        states[:, t] = state
        state = step(state, actions[:, t], None if known is None else known[:, t])
    return states


def table(columns: dict[str, np.ndarray], period: float, start: float = 0.0) -> pd.DataFrame:
    episodes, steps = next(iter(columns.values())).shape
    frame = {
        "episode": np.repeat(np.arange(episodes), steps),
        "time": np.tile(start + period * np.arange(steps), episodes),
    }
    return pd.DataFrame(frame | {k: v.reshape(-1) for k, v in columns.items()})


def cstr(episodes: int, steps: int, seed: int) -> tuple[pd.DataFrame, Twin]:
    rng = np.random.default_rng(seed)
    dt, sub = 0.05, 25  # min per row, RK4 substeps

    def rates(x: np.ndarray, tc: np.ndarray) -> np.ndarray:
        ca, temp = x[:, 0], x[:, 1]
        k = 7.2e10 * np.exp(-8750.0 / temp)
        dca = (1.0 - ca) - k * ca
        dtemp = (350.0 - temp) + 5e4 / (1000 * 0.239) * k * ca + 5e4 / (100 * 1000 * 0.239) * (tc - temp)
        return np.stack([dca, dtemp], axis=1)

    def step(x: np.ndarray, u: np.ndarray, _: np.ndarray | None) -> np.ndarray:
        h = dt / sub
        for _ in range(sub):
            k1 = rates(x, u[:, 0])
            k2 = rates(x + h / 2 * k1, u[:, 0])
            k3 = rates(x + h / 2 * k2, u[:, 0])
            k4 = rates(x + h * k3, u[:, 0])
            x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return x

    tc = excitation(rng, episodes, steps, np.array([292.0]), np.array([303.0]))
    x0 = np.stack([rng.uniform(0.4, 0.9, episodes), rng.uniform(320, 355, episodes)], axis=1)
    x = simulate(step, x0, tc)
    noise = rng.normal(size=x.shape) * np.array([0.005, 0.2])
    frame = table(
        {"Ca": x[..., 0] + noise[..., 0], "T": x[..., 1] + noise[..., 1], "Tc": tc[..., 0]}, dt * 60
    )
    twin = Twin(
        metadata=Metadata(name="bench-cstr"),
        sample_period=dt * 60,
        tags=[
            Tag(name="Ca", unit="mol/L", range=(0, 1.2)),
            Tag(name="T", unit="K", range=(280, 460)),
            Tag(name="Tc", unit="K", kind="action", range=(285, 310)),
        ],
        actions=[Action(tag="Tc", bounds=(292, 303))],
    )
    return frame, twin


def thermal(episodes: int, steps: int, seed: int) -> tuple[pd.DataFrame, Twin]:
    rng = np.random.default_rng(seed)
    dt = 300.0  # s per row
    start = rng.uniform(0, 7 * 86400, episodes).round(-2)  # each episode starts at a random time of the week
    clock = start[:, None] + dt * np.arange(steps)[None]
    day = 2 * np.pi * clock / 86400
    outdoor = (
        5
        + 6 * np.sin(day - 2.0)
        + rng.normal(0, 1, (episodes, 1))
        + np.cumsum(rng.normal(0, 0.05, (episodes, steps)), axis=1)
    )
    hour = np.mod(clock / 3600, 24)
    occupancy = ((hour >= 6) & (hour < 22)).astype(float) * 2.0  # kW of gains while shifts run

    def step(x: np.ndarray, u: np.ndarray, d: np.ndarray | None) -> np.ndarray:
        assert d is not None
        room, wall = x[:, 0], x[:, 1]
        d_room = (u[:, 0] + d[:, 1] - 0.35 * (room - wall) - 0.05 * (room - d[:, 0])) / 2.5  # kW / (kWh/K)
        d_wall = (0.35 * (room - wall) - 0.12 * (wall - d[:, 0])) / 12.0
        return x + dt / 3600 * np.stack([d_room, d_wall], axis=1)

    heater = excitation(rng, episodes, steps, np.array([0.0]), np.array([8.0]), hold=(3, 24))
    x0 = np.stack([rng.uniform(15, 23, episodes), rng.uniform(12, 20, episodes)], axis=1)
    x = simulate(step, x0, heater, np.stack([outdoor, occupancy], axis=-1))
    frame = table(
        {
            "T_room": x[..., 0] + rng.normal(0, 0.05, x[..., 0].shape),
            "T_wall": x[..., 1],
            "heater": heater[..., 0],
            "T_out": outdoor,
        },
        dt,
    )
    frame["time"] = np.concatenate([c for c in clock])
    twin = Twin(
        metadata=Metadata(name="bench-thermal"),
        sample_period=dt,
        tags=[
            Tag(name="T_room", unit="degC", range=(0, 40)),
            Tag(name="T_wall", unit="degC", range=(0, 40)),
            Tag(name="heater", unit="kW", kind="action", range=(0, 8)),
            Tag(name="T_out", unit="degC", kind="disturbance", known_ahead=True, range=(-20, 35)),
        ],
        actions=[Action(tag="heater", bounds=(0, 8))],
        model=ModelConfig(calendar=["time_of_day"]),
    )
    return frame, twin


def tanks(episodes: int, steps: int, seed: int) -> tuple[pd.DataFrame, Twin]:
    rng = np.random.default_rng(seed)
    dt = 2.0

    def step(x: np.ndarray, u: np.ndarray, _: np.ndarray | None) -> np.ndarray:
        q1, q2 = 0.6 * np.sqrt(x[:, 0]), 0.8 * np.sqrt(x[:, 1])  # tank 1 drains into tank 2
        dh1 = (u[:, 0] - q1) / 1.5  # m/s over a 1.5 m² cross-section
        dh2 = (u[:, 1] + q1 - q2) / 2.0
        return np.maximum(x + dt * np.stack([dh1, dh2], axis=1), 0.0)

    pumps = excitation(rng, episodes, steps, np.array([0.2, 0.0]), np.array([1.6, 1.0]))
    x0 = rng.uniform(0.5, 4.0, (episodes, 2))
    x = simulate(step, x0, pumps)
    frame = table(
        {
            "h1": x[..., 0] + rng.normal(0, 0.01, x[..., 0].shape),
            "h2": x[..., 1] + rng.normal(0, 0.01, x[..., 1].shape),
            "pump1": pumps[..., 0],
            "pump2": pumps[..., 1],
        },
        dt,
    )
    twin = Twin(
        metadata=Metadata(name="bench-tanks"),
        sample_period=dt,
        tags=[
            Tag(name="h1", unit="m", range=(0, 12)),
            Tag(name="h2", unit="m", range=(0, 12)),
            Tag(name="pump1", unit="m^3/s", kind="action", range=(0, 2)),
            Tag(name="pump2", unit="m^3/s", kind="action", range=(0, 2)),
        ],
        actions=[Action(tag="pump1", bounds=(0.2, 1.6)), Action(tag="pump2", bounds=(0, 1.0))],
    )
    return frame, twin


def builtin(twin_id: str) -> Callable[[int, int, int], tuple[pd.DataFrame, Twin]]:
    """A registered worldtwin twin logged under its random-walk excitation policy."""

    def make(episodes: int, steps: int, seed: int) -> tuple[pd.DataFrame, Twin]:
        from worldtwin.sim import collect, spec_of

        return collect(twin_id, episodes=episodes, steps=steps, policy="random-walk", seed=seed), spec_of(
            twin_id
        )

    return make


PLANTS = {
    "cstr": cstr,
    "thermal": thermal,
    "tanks": tanks,
    "builtin-cstr": builtin("worldtwin/cstr-v1"),
    "builtin-thermal": builtin("worldtwin/thermal-storage-v1"),
}
