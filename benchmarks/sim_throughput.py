"""How fast every registered twin simulates: scalar ``env.step``, batched, and peers in the same process.

For each twin in the registry (new twins are picked up automatically):

- ``env.step``: the twin through the Gymnasium contract, one step at a time (batch 1);

All modes of a twin get the same actions: a mean-reverting walk around the default action (normal
operation).
- ``batched``: for physics twins the pure vectorised ``transition`` on a batch of 1024 states
  (labelled ``transition``); for the others a ``gymnasium.vector.SyncVectorEnv`` of the twin
  (labelled ``SyncVectorEnv``: a Python loop over copies, so it shows the cost, not a speed-up);
- peers, where one is meaningful: ``scipy solve_ivp`` stepping the same CSTR equations one sample
  period at a time (DOP853, rtol 1e-8: about the accuracy of the twin's RK4, see ``accuracy``),
  the CSTR ``transition`` at batch 1 (the cost of the env shell), and the raw ``gymnasium``
  Pendulum-v1 under the adapter.

Reported: median steps per wall-clock second over the repeats, simulated hours per wall-clock
second (steps/s × sample period, the figure that matters for discrete-event twins), and each row's
ratio to the twin's own ``env.step``. Writes ``benchmarks/results/sim_throughput.json``.

    python benchmarks/sim_throughput.py            # full run
    python benchmarks/sim_throughput.py --quick    # seconds; used by the test suite
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from scipy.integrate import solve_ivp

import worldtwin
from worldtwin.sim import make, registered
from worldtwin.sim.cstr import CSTRParams, reactor_rates
from worldtwin.sim.env import TwinEnv, action_bounds, default_action
from worldtwin.sim.physics import PhysicsTwinEnv

RESULTS = Path(__file__).parent / "results" / "sim_throughput.json"
BATCH = 1024
SEED = 0


@dataclass(frozen=True)
class Settings:
    scalar_steps: int
    batch_steps: int
    vector_batch: int
    vector_steps: int
    peer_steps: int
    repeats: int


FULL = Settings(
    scalar_steps=2000, batch_steps=300, vector_batch=BATCH, vector_steps=3, peer_steps=300, repeats=5
)
QUICK = Settings(scalar_steps=100, batch_steps=3, vector_batch=16, vector_steps=2, peer_steps=20, repeats=1)


def median_rate(run: Callable[[], int], repeats: int) -> float:
    """Median of (steps done / wall seconds) over ``repeats`` calls of ``run``."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        steps = run()
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


def actions_for(env: TwinEnv, count: int, batch: int | None = None) -> np.ndarray:
    """The same actions for every peer of a twin: normal operation around the default action, a
    mean-reverting walk with a stationary spread of 3 % of each action's span (clipped to bounds),
    rather than random set-points that would trip a reactor or keep a packaging line in maintenance."""
    rng = np.random.default_rng(SEED)
    low, high = action_bounds(env.twin)
    shape = (low.size,) if batch is None else (batch, low.size)
    offset = np.zeros(shape)
    walk = []
    for _ in range(count):
        offset = 0.95 * offset + 0.01 * (high - low) * rng.standard_normal(shape)
        walk.append(np.clip(default_action(env.twin) + offset, low, high))
    return np.asarray(walk)


def scalar_env_step(twin_id: str, steps: int) -> Callable[[], int]:
    env = make(twin_id)
    actions = actions_for(env, steps)

    def run() -> int:
        env.reset(seed=SEED)
        done = 0
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            done += 1
            if terminated or truncated:
                env.reset(seed=SEED + done)
        return done

    return run


def batched_transition(env: PhysicsTwinEnv[Any], batch: int, steps: int) -> Callable[[], int]:
    actions = actions_for(env, steps, batch)

    def run() -> int:
        rng = np.random.default_rng(SEED)
        state = env.initial_state(env.params, rng, batch)
        for action in actions:
            state = env.transition(state, action, env.params, rng)
        return batch * steps

    return run


def vector_env(twin_id: str, batch: int, steps: int) -> Callable[[], int]:
    vector = gymnasium.vector.SyncVectorEnv([lambda: make(twin_id) for _ in range(batch)])
    actions = actions_for(make(twin_id), steps, batch)

    def run() -> int:
        vector.reset(seed=SEED)
        for action in actions:
            vector.step(action)
        return batch * steps

    return run


def cstr_solve_ivp(steps: int, rtol: float = 1e-8) -> Callable[[], int]:
    """The CSTR's equations stepped by scipy's adaptive DOP853, one sample period per call (noise off)."""
    params = CSTRParams().noiseless()
    env = make("worldtwin/cstr-v1")
    actions = actions_for(env, steps)

    def run() -> int:
        x = np.array([0.8773, 324.48])
        for tc, q in actions:

            def rhs(_t: float, y: np.ndarray, tc: float = tc, q: float = q) -> list[float]:
                return [float(v) for v in reactor_rates(y[0], y[1], 1.0, 350.0, tc, q, params)]

            x = solve_ivp(rhs, (0.0, params.sample_minutes), x, method="DOP853", rtol=rtol, atol=1e-10).y[
                :, -1
            ]
        return steps

    return run


def cstr_accuracy(steps: int) -> dict[str, float]:
    """Worst relative state error against solve_ivp at rtol 1e-11, for the twin's RK4 and the peer."""
    from worldtwin.sim.cstr import transition

    params = CSTRParams().noiseless()
    actions = actions_for(make("worldtwin/cstr-v1"), steps)
    start = np.array([0.8773, 324.48])
    errors: dict[str, float] = {}
    for label, rtol in (("reference", 1e-11), ("solve_ivp rtol 1e-8", 1e-8)):
        x, path = start.copy(), []
        for tc, q in actions:

            def rhs(_t: float, y: np.ndarray, tc: float = tc, q: float = q) -> list[float]:
                return [float(v) for v in reactor_rates(y[0], y[1], 1.0, 350.0, tc, q, params)]

            x = solve_ivp(rhs, (0.0, params.sample_minutes), x, method="DOP853", rtol=rtol, atol=1e-12).y[
                :, -1
            ]
            path.append(x)
        errors[label] = np.asarray(path)  # type: ignore[assignment]
    state = np.concatenate([start, [1.0, 350.0, 1.0, 350.0]])[None, :]
    twin_path = []
    rng = np.random.default_rng(0)
    for action in actions:
        state = transition(state, action[None, :], params, rng)
        twin_path.append(state[0, :2].copy())
    reference = np.asarray(errors.pop("reference"))
    worst = {
        label: float(np.max(np.abs(np.asarray(path) - reference) / np.abs(reference)))
        for label, path in errors.items()
    }
    worst["twin RK4"] = float(np.max(np.abs(np.asarray(twin_path) - reference) / np.abs(reference)))
    return worst


def raw_pendulum(steps: int) -> Callable[[], int]:
    env = gymnasium.make("Pendulum-v1")
    actions = actions_for(make("gym/pendulum-v1"), steps).astype(np.float32)

    def run() -> int:
        env.reset(seed=SEED)
        for i, action in enumerate(actions):
            _, _, _, truncated, _ = env.step(action)
            if truncated:
                env.reset(seed=SEED + i)
        return steps

    return run


def measure(twin_id: str, settings: Settings) -> list[dict[str, Any]]:
    env = make(twin_id)
    period = env.twin.sample_period
    rows: list[dict[str, Any]] = []

    def add(mode: str, batch: int, run: Callable[[], int]) -> None:
        rate = median_rate(run, settings.repeats)
        rows.append(
            {
                "twin": twin_id,
                "mode": mode,
                "batch": batch,
                "steps_per_s": rate,
                "sim_hours_per_s": rate * period / 3600.0,
            }
        )

    add("env.step", 1, scalar_env_step(twin_id, settings.scalar_steps))
    if isinstance(env, PhysicsTwinEnv):
        add("transition (numpy)", BATCH, batched_transition(env, BATCH, settings.batch_steps))
        add("transition (numpy)", 1, batched_transition(env, 1, settings.scalar_steps))
    else:
        add(
            "SyncVectorEnv",
            settings.vector_batch,
            vector_env(twin_id, settings.vector_batch, settings.vector_steps),
        )
    if twin_id == "worldtwin/cstr-v1":
        add("peer: scipy solve_ivp DOP853", 1, cstr_solve_ivp(settings.peer_steps))
    if twin_id == "gym/pendulum-v1":
        add("peer: raw gymnasium Pendulum-v1", 1, raw_pendulum(settings.scalar_steps))
    base = rows[0]["steps_per_s"]
    for row in rows:
        row["vs_env_step"] = row["steps_per_s"] / base
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per mode, one repeat (for tests)")
    parser.add_argument("--twins", nargs="*", help="only these twin ids (default: every registered twin)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    twins = args.twins or registered()

    rows = [row for twin_id in twins for row in measure(twin_id, settings)]
    accuracy = cstr_accuracy(settings.peer_steps) if "worldtwin/cstr-v1" in twins else {}

    print(f"simulation throughput, median of {settings.repeats} run(s){' (quick)' if args.quick else ''}")
    print(f"{'twin':<30}{'mode':<34}{'batch':>6}{'steps/s':>13}{'sim h/s':>11}{'vs env.step':>13}")
    for row in rows:
        print(
            f"{row['twin']:<30}{row['mode']:<34}{row['batch']:>6}{row['steps_per_s']:>13,.0f}"
            f"{row['sim_hours_per_s']:>11.3g}{row['vs_env_step']:>12.2f}x"
        )
    for label, error in accuracy.items():
        print(f"CSTR accuracy over {settings.peer_steps} steps vs solve_ivp rtol 1e-11: {label}: {error:.1e}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "benchmark": "sim_throughput",
        "quick": args.quick,
        "settings": settings.__dict__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "worldtwin": worldtwin.__version__,
        "twins": twins,
        "results": rows,
        "cstr_accuracy": accuracy,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
