"""Choose the surprise look-back by measurement: AUROC of ``wm.surprise(df, horizon=h)`` for sensor faults.

Trains a model on the benchmark CSTR (or loads one with ``--model``), logs fresh test episodes, and
injects one fault per episode into one sensor from row 100: stuck-at (the reading freezes for 60
rows), drift (an offset growing to half the tag's standard deviation over 60 rows) or spikes (5
isolated readings off by 3 standard deviations). AUROC compares the surprise of the faulty rows with
that of every row of the fault-free episodes (per-row detection, no smoothing).

    python benchmarks/wm_surprise.py                     # trains, then scores horizons 1, 5, 10, 20
    python benchmarks/wm_surprise.py --model models/cstr # reuse a trained model
    python benchmarks/wm_surprise.py --quick             # tiny: checks that it runs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).parent))
from plants import cstr
from worldtwin.model import TrainConfig, WorldModel, train

FAULTS = ("stuck", "drift", "spike")


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Probability that a faulty row scores above a fault-free one (Mann–Whitney), ignoring NaN rows."""
    positive, negative = positive[np.isfinite(positive)], negative[np.isfinite(negative)]
    ranks = rankdata(np.concatenate([positive, negative]))
    wins = ranks[: len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(wins / (len(positive) * len(negative)))


def inject(
    frame: pd.DataFrame, tag: str, fault: str, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """A copy of ``frame`` with one fault per episode in ``tag``, and the mask of faulty rows."""
    faulty, mask = frame.copy(), np.zeros(len(frame), dtype=bool)
    scale = frame[tag].std()
    for rows in frame.groupby("episode").indices.values():
        segment = rows[100:160]
        if fault == "stuck":
            faulty.iloc[segment, faulty.columns.get_loc(tag)] = frame[tag].iloc[rows[100]]
        elif fault == "drift":
            faulty.iloc[segment, faulty.columns.get_loc(tag)] += np.linspace(0, 0.5 * scale, len(segment))
        else:
            segment = rng.choice(rows[100:190], 5, replace=False)
            faulty.iloc[segment, faulty.columns.get_loc(tag)] += 3 * scale * rng.choice([-1, 1], len(segment))
        mask[segment] = True
    return faulty, mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default=None, help="a trained model directory of the benchmark CSTR")
    parser.add_argument("--horizons", default="1,5,10,20")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "wm_surprise.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    horizons = [int(h) for h in args.horizons.split(",")]
    if args.model:
        wm = WorldModel.load(args.model)
    else:
        episodes, max_steps = (12, 20) if args.quick else (80, 1200)
        frame, twin = cstr(episodes, 200, seed=0)
        wm = train(frame, twin, TrainConfig(max_steps=max_steps, eval_every=10 if args.quick else 100))
    test, _ = cstr(4 if args.quick else 20, 200, seed=2000)
    rng = np.random.default_rng(0)
    results: dict[str, dict[str, dict[int, float]]] = {}
    for tag in wm.predicted_names:
        nominal = {h: wm.surprise(test, horizon=h).to_numpy() for h in horizons}
        for fault in FAULTS:
            faulty, mask = inject(test, tag, fault, rng)
            results.setdefault(tag, {})[fault] = {
                h: auroc(wm.surprise(faulty, horizon=h).to_numpy()[mask], nominal[h]) for h in horizons
            }
    print(f"{'tag':6} {'fault':6} " + " ".join(f"{'h=' + str(h):>7}" for h in horizons))
    for tag, by_fault in results.items():
        for fault, by_h in by_fault.items():
            print(f"{tag:6} {fault:6} " + " ".join(f"{by_h[h]:7.3f}" for h in horizons))
    out = Path(args.out)
    if args.quick:
        out = out.with_name(out.stem + "_quick.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": " ".join(["python", *sys.argv]),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average_end": list(os.getloadavg()),
    }
    out.write_text(json.dumps({"meta": meta, "auroc": results}, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
