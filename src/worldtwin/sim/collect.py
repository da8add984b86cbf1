"""Collect trajectory tables from a twin under an excitation policy.

    import worldtwin.sim
    frame = worldtwin.sim.collect("worldtwin/cstr-v1", episodes=4, steps=2000, policy="prbs", seed=0)

The result is a trajectory table (see :mod:`worldtwin.telemetry.table`): columns ``episode``, ``time``
[s since the episode's start], then every spec tag in spec order. Row k holds the measurements at
t_k and the action applied during [t_k, t_k+1) (after bounds and rate limits). An episode that ends
early (a trip, a time limit) simply has fewer rows. ``frame.attrs["worldtwin"]`` holds the provenance
written into Parquet metadata: twin id, spec hash, policy, seed, sizes and the worldtwin version.

Seeds: one ``numpy.random.SeedSequence(seed)`` spawns the bump-test seed and, per episode, the env's
and the policy's seeds, so the same call always returns the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from worldtwin.errors import SimulationError
from worldtwin.sim.env import TwinEnv
from worldtwin.sim.policies import make_policy, policy_class
from worldtwin.sim.registry import make
from worldtwin.telemetry.table import EPISODE, TIME

ProgressCallback = Callable[[int], None]
"""Called with the number of steps just simulated (for progress bars)."""


def collect(
    twin: str | TwinEnv,
    *,
    episodes: int = 1,
    steps: int = 1000,
    policy: str = "random-walk",
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> pd.DataFrame:
    """Simulate ``episodes`` × ``steps`` samples of ``twin`` (an id or a ``TwinEnv``) under ``policy``."""
    if episodes < 1 or steps < 1:
        raise SimulationError(
            f"episodes and steps must be at least 1 (got episodes={episodes}, steps={steps})"
        )
    policy_class(policy)  # an unknown name fails before any simulation
    env = make(twin) if isinstance(twin, str) else twin
    try:
        probe_seed, seeds = episode_seeds(seed, episodes)
        excitation = make_policy(policy, env, seed=probe_seed)
        spec = env.twin
        columns: dict[str, list[Any]] = {EPISODE: [], TIME: [], **{name: [] for name in spec.tag_names}}
        measured, actions = spec.measured_names, spec.action_names
        for episode, (env_seed, policy_seed) in enumerate(seeds):
            obs, info = env.reset(seed=env_seed)
            excitation.reset(policy_seed)
            done = 0
            for _ in range(steps):
                now, tags = info["time"], info["tags"]
                obs, _, terminated, truncated, info = env.step(excitation(obs))
                columns[EPISODE].append(episode)
                columns[TIME].append(now)
                for name in measured:
                    columns[name].append(tags[name])
                for name, value in zip(actions, info["action_applied"], strict=True):
                    columns[name].append(float(value))
                done += 1
                if progress is not None and done % 100 == 0:
                    progress(100)
                if terminated or truncated:
                    break
            if progress is not None:
                progress(steps - done // 100 * 100)
    finally:
        if isinstance(twin, str):
            env.close()
    frame = pd.DataFrame(columns)
    frame.attrs["worldtwin"] = provenance(twin, env, policy=policy, seed=seed, episodes=episodes, steps=steps)
    return frame


def provenance(twin: str | TwinEnv, env: TwinEnv, **details: Any) -> dict[str, Any]:
    """Metadata stored with a simulated table: what made it, from which spec, how."""
    from worldtwin import __version__

    twin_id = twin if isinstance(twin, str) else (env.registry_id or env.twin.name)
    return {
        "twin": twin_id,
        "spec_hash": env.twin.spec_hash(),
        "source": "simulation",
        **details,
        "worldtwin_version": __version__,
    }


def episode_seeds(seed: int, episodes: int) -> tuple[int, list[tuple[int, int]]]:
    """The bump-test seed and, per episode, the (env, policy) seeds that :func:`collect` uses."""
    probe, *per_episode = np.random.SeedSequence(seed).spawn(episodes + 1)
    pairs = (sequence.spawn(2) for sequence in per_episode)
    return _draw(probe), [(_draw(env_seq), _draw(policy_seq)) for env_seq, policy_seq in pairs]


def _draw(sequence: np.random.SeedSequence) -> int:
    return int(sequence.generate_state(1)[0])
