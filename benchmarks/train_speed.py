"""How long the default world model takes to train on 50k transitions, and what its parts cost.

Trains the default model (spec defaults, ``TrainConfig()``) to completion on 50,000 logged CSTR
transitions, then runs peers for a fixed number of steps in the same process to compare the cost of
a step: one predictor instead of five, the transformer predictor. The CPU is shared, so the load
average is recorded beside every run; compare ratios within one run of this script, not absolute
times across machines.

    python benchmarks/train_speed.py                # the budget check (≤ 5 min on 2 cores)
    python benchmarks/train_speed.py --threads 0    # torch's own thread count instead of TrainConfig's 1
    python benchmarks/train_speed.py --quick        # seconds: checks that it runs
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
from plants import cstr
from worldtwin.model import TrainConfig, train
from worldtwin.spec.schema import Twin

BUDGET_S = 300.0


def timed(frame: pd.DataFrame, twin: Twin, config: TrainConfig, **model: object) -> dict[str, float | str]:
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    steps_done: list[float] = []

    def tick(step: int, total: int, metrics: dict[str, float]) -> None:
        steps_done.append(time.perf_counter())

    wm = train(
        frame, twin, config, model=twin.model.model_copy(update=model) if model else None, progress=tick
    )
    seconds = time.perf_counter() - started
    gaps = [b - a for a, b in itertools.pairwise(steps_done)]
    return {
        "seconds": seconds,
        "steps": len(steps_done),
        "ms_per_step": 1000 * statistics.median(gaps),
        "stopped": wm.info["curves"]["stopped"],
        "val_nrmse_h50": wm.info["metrics"]["nrmse"][min(50, wm.info["metrics"]["horizon"]) - 1],
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5k transitions, a few steps")
    parser.add_argument(
        "--threads", type=int, default=1, help="TrainConfig.threads of the default runs (0: torch's choice)"
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_speed.json"))
    args = parser.parse_args()
    episodes, steps, peer_steps = (12, 101, 4) if args.quick else (250, 201, 150)
    frame, twin = cstr(episodes, steps, seed=0)
    transitions = len(frame) - episodes
    threads = args.threads or None
    full = (
        TrainConfig(max_steps=10, eval_every=5, horizon=16, threads=threads)
        if args.quick
        else TrainConfig(threads=threads)
    )
    peer = TrainConfig(max_steps=peer_steps, eval_every=10 * peer_steps, threads=threads)
    runs = {
        "default (to completion)": timed(frame, twin, full),
        "default, fixed steps": timed(frame, twin, peer),
        "ensemble=1": timed(frame, twin, peer, ensemble=1),
        "2 torch threads": timed(frame, twin, dataclasses.replace(peer, threads=2)),
        "transformer": timed(
            frame,
            twin,
            dataclasses.replace(peer, context=3),
            predictor="transformer",
        ),
    }
    base = float(runs["default, fixed steps"]["ms_per_step"])
    print(
        f"{transitions} transitions, {full.threads or torch.get_num_threads()} torch thread(s) unless noted, "
        f"budget {BUDGET_S:.0f} s"
    )
    print(f"{'run':26} {'seconds':>8} {'steps':>6} {'ms/step':>8} {'step ratio':>10} {'load':>10}")
    for name, r in runs.items():
        print(
            f"{name:26} {r['seconds']:8.1f} {r['steps']:6d} {r['ms_per_step']:8.1f} "
            f"{float(r['ms_per_step']) / base:10.2f} {r['load_before']:4.1f}→{r['load_after']:4.1f}"
        )
    total = float(runs["default (to completion)"]["seconds"])
    verdict = "within" if total <= BUDGET_S else "OVER"
    print(
        f"default model: {total:.0f} s ({verdict} the {BUDGET_S:.0f} s budget), "
        f"stopped by {runs['default (to completion)']['stopped']}"
    )
    out = Path(args.out)
    if args.quick:
        out = out.with_name(out.stem + "_quick.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": " ".join(["python", *sys.argv]),
        "transitions": transitions,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "budget_s": BUDGET_S,
    }
    out.write_text(json.dumps({"meta": meta, "runs": runs}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
