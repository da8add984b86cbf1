"""How fast the packaging-line twin simulates, against peers run in the same process.

Peers, all simulating the same line (``BOTTLING_LINE``, product 0.5 l, nominal speeds, one seed):

- ``twin env.step``: the registered twin driven through the Gymnasium contract, one step per minute;
- ``line run+sample``: the same SimPy model stepped and sampled each minute, without the Env shell;
- ``line one run``: the same SimPy model run straight through the horizon (no sampling at all);
- ``textbook SimPy``: an idiomatic SimPy version of the line written for this benchmark —
  ``simpy.Store`` conveyors, one breakdown process per machine interrupting it — with the same cycle
  times, jams and breakdowns but no changeovers, state or energy accounting.

Prints a table (median over repeats) with simulated hours per wall-clock second and the ratio to the
twin, and writes ``benchmarks/results/packaging_line.json``.

    python benchmarks/packaging_line.py            # 24 simulated hours, 5 repeats
    python benchmarks/packaging_line.py --quick    # 2 simulated hours, 3 repeats
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable, Generator
from pathlib import Path

import numpy as np
import simpy

from worldtwin.sim import make
from worldtwin.sim.des import BOTTLING_LINE, LineConfig
from worldtwin.sim.des.draws import weibull_scale
from worldtwin.sim.env import default_action
from worldtwin.sim.packaging_line import PackagingLineEnv

SEED = 0
PRODUCT = 1
START_LEVELS = (50, 100, 100)
RESULTS = Path(__file__).parent / "results" / "packaging_line.json"


Run = Callable[[], int]
"""A prepared simulation: calling it simulates the horizon and returns the items shipped."""


def started_twin() -> PackagingLineEnv:
    """The twin after ``reset``: every peer but the textbook one simulates exactly this trajectory."""
    env = make("worldtwin/packaging-line-v1")
    assert isinstance(env, PackagingLineEnv)
    env.reset(seed=SEED, options={"product": PRODUCT, "buffer_levels": list(START_LEVELS)})
    return env


def twin_steps(hours: float) -> Run:
    env = started_twin()
    act = default_action(env.twin)

    def go() -> int:
        for _ in range(round(hours * 60)):
            env.step(act)
        return env.line.completed

    return go


def line_steps(hours: float) -> Run:
    line = started_twin().line

    def go() -> int:
        for _ in range(round(hours * 60)):
            line.run(60.0)
            line.sample()
        return line.completed

    return go


def line_one_run(hours: float) -> Run:
    line = started_twin().line

    def go() -> int:
        line.run(hours * 3600.0)
        return line.completed

    return go


def textbook_simpy(hours: float, config: LineConfig = BOTTLING_LINE) -> Run:
    """The line as SimPy's documentation would write it: Stores, and failures as interrupts."""
    env = simpy.Environment()
    rng = np.random.default_rng(SEED)
    stores = [simpy.Store(env, capacity=c) for c in config.buffer_capacities]
    for store, level in zip(stores, START_LEVELS, strict=True):
        store.items.extend([PRODUCT] * level)
    shipped = [0]
    working = [False] * len(config.stations)
    factor = config.products[PRODUCT].cycle_factor

    def machine(k: int) -> Generator[simpy.Event, None, None]:
        station = config.stations[k]
        shape = 1.0 / station.cycle_cv**2
        while True:
            item = PRODUCT if k == 0 else (yield stores[k - 1].get())
            work = 60.0 / station.nominal_speed_per_min * factor * rng.gamma(shape, 1.0 / shape)
            while work > 0:
                start = env.now
                working[k] = True
                try:
                    yield env.timeout(work)
                    work = 0.0
                except simpy.Interrupt as stop:
                    work -= env.now - start
                    working[k] = False
                    yield env.timeout(stop.cause or 0.0)
                working[k] = False
            if rng.random() < station.reject_fraction:
                continue
            if k == len(config.stations) - 1:
                shipped[0] += 1
            else:
                yield stores[k].put(item)

    def failures(k: int, process: simpy.Process) -> Generator[simpy.Event, None, None]:
        station = config.stations[k]
        scale = weibull_scale(station.breakdown_mtbf_s, station.breakdown_shape)
        next_jam = rng.exponential(station.jam_mtbf_s)
        next_breakdown = scale * rng.weibull(station.breakdown_shape)
        while True:
            gap = min(next_jam, next_breakdown)
            yield env.timeout(gap)
            next_jam, next_breakdown = next_jam - gap, next_breakdown - gap
            if next_jam <= 0:
                repair = rng.exponential(station.jam_mttr_s)
                next_jam = rng.exponential(station.jam_mtbf_s)
            else:
                repair = rng.lognormal(np.log(station.breakdown_mttr_s), 0.5)
                next_breakdown = scale * rng.weibull(station.breakdown_shape)
            if working[k]:  # machines fail only while working (as in SimPy's machine-shop example)
                process.interrupt(repair)

    for k in range(len(config.stations)):
        env.process(failures(k, env.process(machine(k))))

    def go() -> int:
        env.run(until=hours * 3600.0)
        return shipped[0]

    return go


PEERS: dict[str, Callable[[float], Run]] = {
    "twin env.step": twin_steps,
    "line run+sample": line_steps,
    "line one run": line_one_run,
    "textbook SimPy": textbook_simpy,
}


def measure(hours: float, repeats: int) -> dict[str, dict[str, float]]:
    """Median wall time per peer; the peers take turns within each repeat, so load drift hits all alike."""
    walls: dict[str, list[float]] = {name: [] for name in PEERS}
    items: dict[str, int] = {}
    for _ in range(repeats):
        for name, peer in PEERS.items():
            go = peer(hours)
            start = time.perf_counter()
            items[name] = go()
            walls[name].append(time.perf_counter() - start)
    results: dict[str, dict[str, float]] = {}
    for name, times in walls.items():
        wall = statistics.median(times)
        results[name] = {
            "wall_s": wall,
            "sim_hours_per_s": hours / wall,
            "steps_per_s": hours * 60 / wall,
            "items_shipped": items[name],
            "items_per_s": items[name] / wall,
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 simulated hours, 3 repeats (for tests)")
    parser.add_argument("--hours", type=float, help="simulated hours per run (default 24, quick 2)")
    parser.add_argument("--repeats", type=int, help="runs per peer, median reported (default 5, quick 3)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args()
    hours = args.hours or (2.0 if args.quick else 24.0)
    repeats = args.repeats or (3 if args.quick else 5)

    results = measure(hours, repeats)
    twin = results["twin env.step"]["wall_s"]
    print(f"packaging line, {hours:g} simulated hours, median of {repeats} runs")
    print(f"{'peer':<18}{'wall s':>9}{'sim h/s':>10}{'steps/s':>10}{'items/s':>11}{'items':>9}{'vs twin':>9}")
    for name, row in results.items():
        print(
            f"{name:<18}{row['wall_s']:>9.3f}{row['sim_hours_per_s']:>10.2f}{row['steps_per_s']:>10.0f}"
            f"{row['items_per_s']:>11.0f}{row['items_shipped']:>9.0f}{twin / row['wall_s']:>8.2f}x"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": "packaging_line",
        "hours": hours,
        "repeats": repeats,
        "quick": args.quick,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": results,
        "speed_vs_twin": {name: twin / row["wall_s"] for name, row in results.items()},
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
