"""Choose the world model's defaults by measurement: one factor at a time from the default, per plant.

For each plant (benchmarks/plants.py) it logs training and test episodes (different seeds), trains
each variant, and scores open-loop forecasts of the test episodes at horizons 1, 10 and 50 (NRMSE:
RMSE over the test standard deviation, mean over tags) and the 90 % band coverage, next to
persistence and least-squares ARX on the same windows. "plain" / "anchored" / "model" are three
decodings of the same trained model: the readout alone, anchored on the last observation, and the
per-tag-and-horizon mix fitted on validation data (``anchored: auto``, the default).

    python benchmarks/wm_sweep.py                 # the full sweep (about an hour on 2 cores)
    python benchmarks/wm_sweep.py --quick         # tiny data and steps: checks that it runs
    python benchmarks/wm_sweep.py --plants cstr --variants default,transformer
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from plants import PLANTS
from wm_eval import score
from worldtwin.model import TrainConfig, train

VARIANTS: dict[str, dict[str, object]] = {
    "default": {},
    "transformer": {"predictor": "transformer", "context": 3},
    "mlp-context3": {"context": 3},
    "lambda=0": {"sigreg_weight": 0.0},
    "lambda=0.1": {"sigreg_weight": 0.1},
    "latent=16": {"latent_dim": 16},
    "latent=64": {"latent_dim": 64},
    "one-step": {"rollout_steps": 1},
}
TRAIN_KEYS = {"context"}
HORIZONS = (1, 10, 50)


def run(
    plant: str, variant: str, seed: int, *, episodes: int, steps: int, max_steps: int
) -> dict[str, object]:
    train_df, twin = PLANTS[plant](episodes, steps, seed=seed)
    test_df, _ = PLANTS[plant](max(episodes // 4, 4), steps, seed=seed + 1000)
    options = VARIANTS[variant]
    model = twin.model.model_copy(update={k: v for k, v in options.items() if k not in TRAIN_KEYS})
    config = TrainConfig(
        max_steps=max_steps, seed=seed, **{k: v for k, v in options.items() if k in TRAIN_KEYS}
    )
    started = time.perf_counter()
    wm = train(train_df, twin, config, model=model)
    seconds = time.perf_counter() - started
    result = score(wm, train_df, test_df, horizon=max(HORIZONS))
    return {
        "plant": plant,
        "variant": variant,
        "seed": seed,
        "train_seconds": seconds,
        "steps": wm.info["curves"]["records"][-1]["step"],
        "best_step": wm.info["curves"]["best_step"],
        "rows": len(train_df),
        "windows": result.windows,
        "nrmse": {k: {h: v[h - 1] for h in HORIZONS} for k, v in result.nrmse.items()},
        "coverage": {h: result.coverage[h - 1] for h in HORIZONS},
    }


def table(results: list[dict[str, object]]) -> str:
    lines = [
        f"{'plant':8} {'variant':13} {'h':>3} {'model':>7} {'plain':>7} {'anchor':>7} {'persist':>7} "
        f"{'ARX':>7} {'model/ARX':>9} {'cover':>6} {'train s':>7}"
    ]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in results:
        groups.setdefault((str(r["plant"]), str(r["variant"])), []).append(r)  # type: ignore[arg-type]
    for (plant, variant), runs in groups.items():
        for h in HORIZONS:
            med = {k: statistics.median(r["nrmse"][k][h] for r in runs) for k in runs[0]["nrmse"]}
            cover = statistics.median(r["coverage"][h] for r in runs)
            secs = statistics.median(r["train_seconds"] for r in runs)
            lines.append(
                f"{plant:8} {variant:13} {h:3d} {med['model']:7.3f} {med['plain']:7.3f} "
                f"{med['anchored']:7.3f} {med['persistence']:7.3f} {med['arx']:7.3f} "
                f"{med['model'] / med['arx']:9.2f} {cover:6.2f} {secs:7.0f}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and few steps (a smoke test)")
    parser.add_argument("--plants", default="cstr,thermal,tanks", help=f"some of {list(PLANTS)}")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--steps", type=int, default=200, help="rows per episode")
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "wm_sweep.json"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.episodes, args.steps, args.max_steps = 12, 120, 60
        args.out = str(Path(args.out).with_name(Path(args.out).stem + "_quick.json"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": " ".join(["python", *sys.argv]),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    results: list[dict[str, object]] = []
    for plant in args.plants.split(","):
        for variant in args.variants.split(","):
            for seed in map(int, args.seeds.split(",")):
                r = run(
                    plant, variant, seed, episodes=args.episodes, steps=args.steps, max_steps=args.max_steps
                )
                r["load_average"] = list(os.getloadavg())
                results.append(r)
                nrmse = r["nrmse"]
                print(
                    f"{plant} {variant} seed {seed}: h50 model {nrmse['model'][50]:.3f} "  # type: ignore[index]
                    f"ARX {nrmse['arx'][50]:.3f} ({r['train_seconds']:.0f} s)",
                    flush=True,
                )  # type: ignore[index]
                # written after every run, so a long sweep that is stopped keeps what it measured
                out.write_text(
                    json.dumps({"meta": meta, "results": results}, indent=1) + "\n", encoding="utf-8"
                )
    print(table(results))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
