"""Collect trajectory tables from external plant simulators; run with .venv-external/bin/python.

    .venv-external/bin/python benchmarks/external/collect.py pcgym-cstr out.parquet --episodes 40 --steps 300
    .venv-external/bin/python benchmarks/external/collect.py industrial-benchmark out.parquet --episodes 40

Runs in the separate venv made by ``benchmarks/external/setup.sh`` (pcgym needs numpy < 2.4; the
Industrial Benchmark needs the old ``gym``), so it imports nothing from worldtwin. It writes the
trajectory-table schema (``episode``, ``time`` in seconds, one column per tag; row k holds the
observation at t_k and the action applied during [t_k, t_k+1)) as Parquet, with the collection
settings in the footer under the ``worldtwin`` key, like ``worldtwin.telemetry.write_table``.

Excitation (informative, not per-step random): every action follows an amplitude-modulated random
step signal — a level drawn uniformly inside the action bounds, held for a random number of steps
— starting from a random initial state. Both simulators draw their internal noise from numpy's
global generator, so each episode seeds it (``np.random.seed``) before it runs; that is the
simulators' API, not ours.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def random_steps(
    rng: np.random.Generator, steps: int, low: float, high: float, hold: tuple[int, int]
) -> np.ndarray:
    """An amplitude-modulated random step signal: uniform levels in [low, high], random hold lengths."""
    out = np.empty(steps)
    k = 0
    while k < steps:
        length = int(rng.integers(hold[0], hold[1] + 1))
        out[k : k + length] = rng.uniform(low, high)
        k += length
    return out


def pcgym_cstr(episodes: int, steps: int, seed: int) -> tuple[pd.DataFrame, dict]:
    from pcgym import make_env

    tsim = 26.0 / 120 * steps  # the pcgym docs' CSTR example: 120 steps over 26 min
    settings = {
        "simulator": "pcgym 0.1.8 model 'cstr', integration_method casadi",
        "dt_min": 26.0 / 120,
        "Tc": "random steps, levels U(295, 302) K, hold U{3..25} steps",
        "x0": "Ca ~ U(0.75, 0.95) kmol/m3, T ~ U(318, 332) K",
        "noise": "pcgym noise=True, noise_percentage=0.001 (Gaussian, relative to the state)",
    }
    rng = np.random.default_rng(seed)
    rows = []
    for episode in range(episodes):
        np.random.seed(seed * 1000 + episode)
        x0 = np.array([rng.uniform(0.75, 0.95), rng.uniform(318, 332), 0.85])
        params = {
            "N": steps + 1,
            "tsim": tsim * (steps + 1) / steps,
            "SP": {"Ca": [0.85] * (steps + 1)},
            "o_space": {"low": np.array([0.0, 250.0, 0.0]), "high": np.array([1.5, 450.0, 1.5])},
            "a_space": {"low": np.array([295.0]), "high": np.array([302.0])},
            "x0": x0,
            "r_scale": {"Ca": 1.0},
            "model": "cstr",
            "normalise_a": False,
            "normalise_o": False,
            "noise": True,
            "noise_percentage": 0.001,
            "integration_method": "casadi",
        }
        env = make_env(params)
        obs, _ = env.reset()
        tc = random_steps(rng, steps, 295.0, 302.0, (3, 25))
        for k in range(steps):
            rows.append((episode, k * 13.0, float(obs[0]), float(obs[1]), float(tc[k])))
            obs, *_ = env.step(np.array([tc[k]]))
    return pd.DataFrame(rows, columns=["episode", "time", "Ca", "T", "Tc"]), settings


def industrial_benchmark(episodes: int, steps: int, seed: int) -> tuple[pd.DataFrame, dict]:
    np.float = float  # type: ignore[attr-defined]  # IDS.py calls np.float, removed in numpy 1.24
    from industrial_benchmark_python.IDS import IDS

    settings = {
        "simulator": "industrial-benchmark-python 2.0, IDS(stationary_p=True)",
        "p": "setpoint U{10..100} per episode, constant",
        "actions": "dv, dg, dh: random steps, levels U(-1, 1), hold U{5..40} steps, independent",
        "warmup": "100 steps of the same excitation discarded before recording (fills the cost convolution)",
    }
    rng = np.random.default_rng(seed)
    rows = []
    warmup = 100
    for episode in range(episodes):
        p = int(rng.integers(10, 101))
        plant = IDS(p=p, stationary_p=True, inital_seed=seed * 1000 + episode)
        deltas = np.stack([random_steps(rng, steps + warmup, -1.0, 1.0, (5, 40)) for _ in range(3)], axis=1)
        for k in range(steps + warmup):
            state = plant.visibleState()  # p, v, g, h, f, c, cost, reward
            if k >= warmup:
                rows.append((episode, float(k - warmup), *map(float, state[:6]), *map(float, deltas[k])))
            plant.step(deltas[k])
    columns = ["episode", "time", "p", "v", "g", "h", "f", "c", "dv", "dg", "dh"]
    return pd.DataFrame(rows, columns=columns), settings


PLANTS = {"pcgym-cstr": pcgym_cstr, "industrial-benchmark": industrial_benchmark}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plant", choices=sorted(PLANTS))
    parser.add_argument("out", type=Path)
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    frame, settings = PLANTS[args.plant](args.episodes, args.steps, args.seed)
    meta = {
        "plant": args.plant,
        "episodes": args.episodes,
        "steps": args.steps,
        "seed": args.seed,
        **settings,
    }
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"worldtwin": json.dumps(meta).encode()}
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, args.out, compression="zstd")
    print(f"{args.out}: {len(frame)} rows, {args.episodes} episodes of {args.plant}")


if __name__ == "__main__":
    main()
