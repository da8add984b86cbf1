"""World model vs baselines on built-in and external plants: forecasts, bands, fault detection.

    python benchmarks/world_model_eval.py                 # every available plant (tens of minutes on 2 cores)
    python benchmarks/world_model_eval.py --quick         # a tiny smoke run (tests call this)
    python benchmarks/world_model_eval.py --plants pcgym-cstr,sensors --markdown docs/results.md

Per plant: make data (informative excitation, documented below) → split by episode (70/15/15) →
fit the world model (when this build has one) and the baselines on train, tune/early-stop/calibrate
on validation → score everyone on the same origins of the test episodes (NRMSE at h = 1, 10, 50,
90 % band coverage and width) → fault-detection AUROC on the CSTRs → a table of ratios against ARX
and persistence, JSON in ``benchmarks/results/``.

Plants:
  cstr                  built-in ``worldtwin/cstr-v1`` (skipped, and said so, while not registered)
  packaging             built-in packaging line (same)
  pcgym-cstr            pcgym 0.1.8 CSTR, collected in .venv-external (benchmarks/external/setup.sh)
  industrial-benchmark  Siemens Industrial Benchmark, collected in .venv-external
  sensors               a CSTR seen through 128 noisy linear mixtures of its states (worldtwin.sim.sensors)
  tanks                 a two-tank ODE defined here (the --quick smoke plant)
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from worldtwin.model.eval_report import detection_rows, forecast_rows, markdown, plot_evaluation
from worldtwin.model.eval_suite import compare, fit_baselines, zscore_detector
from worldtwin.model.eval_windows import Roles, split_episodes
from worldtwin.model.evaluate import SurpriseScorer, evaluate_detection
from worldtwin.model.forecast import Forecaster
from worldtwin.model.obs_mlp import RolloutMLPConfig
from worldtwin.sim.sensors import redundant_sensors, redundant_spec
from worldtwin.spec.loading import load_spec, parse_spec
from worldtwin.spec.schema import Twin

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL = ROOT / "benchmarks" / "external"
CACHE = ROOT / "benchmarks" / ".cache"
RESULTS = ROOT / "benchmarks" / "results"
BUILTIN_IDS = {"cstr": "worldtwin/cstr-v1", "packaging": "worldtwin/packaging-line-v1"}
FAULT_PLANTS = ("cstr", "pcgym-cstr", "tanks")
SUBTLE = {"drift": 0.2, "spike": 0.2, "bias": 0.1}
"""A harder fault set (× tag std; stuck-at has no size): separates scorers that all reach 1.0 by default."""


@dataclass
class Plant:
    name: str
    twin: Twin
    data: pd.DataFrame
    how: str
    baselines: list[str] = field(default_factory=lambda: ["persistence", "arx", "mlp", "darts"])
    arx_orders: tuple[int, ...] = (1, 2, 3, 5, 8)
    darts: dict[str, Any] | None = None


class UnavailableError(Exception):
    """A plant cannot be built in this checkout (said in the results, never silently dropped)."""


# --- data -------------------------------------------------------------------------------------------


def random_steps(
    rng: np.random.Generator, steps: int, low: float, high: float, hold: tuple[int, int]
) -> np.ndarray:
    """Amplitude-modulated random steps: uniform levels in [low, high] held for random lengths."""
    out = np.empty(steps)
    k = 0
    while k < steps:
        length = int(rng.integers(hold[0], hold[1] + 1))
        out[k : k + length] = rng.uniform(low, high)
        k += length
    return out


def packaging_plan(twin: Twin, rng: np.random.Generator, steps: int) -> tuple[np.ndarray, str]:
    """Speeds step around the line's range, maintenance pulsed rarely, the next product changes now and then.

    Uniform random ``pm`` values would request maintenance every other minute (docs/packaging-line.md)."""
    plan = np.zeros((steps, len(twin.action_names)))
    for i, name in enumerate(twin.action_names):
        low, high = twin.action(name).bounds
        if name.endswith(".speed"):
            plan[:, i] = random_steps(rng, steps, low + 0.4 * (high - low), high, (10, 60))
        elif name.endswith(".pm"):
            plan[:, i] = (rng.random(steps) < 1 / 240).astype(float)  # about one request per machine in 4 h
        else:  # line.next_product
            plan[:, i] = np.round(random_steps(rng, steps, -0.49, 2.49, (30, 120)))
    how = (
        "speeds random steps, levels uniform in the upper 60 % of their bounds, held 10–60 min; pm pulses "
        "with probability 1/240 per minute per machine; next product a random code held 30–120 min"
    )
    return plan, how


def builtin_plant(name: str, episodes: int, steps: int, seed: int) -> Plant:
    import worldtwin
    from worldtwin.sim.collect import collect

    twin_id = BUILTIN_IDS[name]
    if twin_id not in worldtwin.registered():
        raise UnavailableError(f"{twin_id} is not registered in this build (arrives with the built-in twins)")
    twin = worldtwin.spec_of(twin_id)
    if name == "cstr":
        # Open-loop steps would run the reactor away from its unstable operating point into the trip.
        data = collect(twin_id, episodes=episodes, steps=steps, policy="closed-loop-dither", seed=seed)
        excitation = (
            "worldtwin.sim.collect policy 'closed-loop-dither': PI loops tuned from a bump test hold T "
            "with rare ramped setpoint steps around 350 K, a binary dither on every controller output, "
            "unpaired actions random-walk (worldtwin.sim.policies)"
        )
    else:
        data, excitation = packaging_data(twin_id, twin, episodes, steps, seed)
    how = (
        f"{episodes} episodes × {steps} steps of {twin_id}; {excitation}; actions pass the env's bounds "
        "and rate limits, the applied values are recorded"
    )
    big = len(twin.predicted_names) > 10  # one boosted-tree regressor per tag and step would take hours
    return Plant(name, twin, data, how, darts={"regressor": "linear"} if big else None)


def packaging_data(
    twin_id: str, twin: Twin, episodes: int, steps: int, seed: int
) -> tuple[pd.DataFrame, str]:
    import worldtwin

    env = worldtwin.make(twin_id)
    rng = np.random.default_rng(seed)
    rows = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed * 1000 + episode)
        plan, excitation = packaging_plan(twin, rng, steps)
        for k in range(steps):
            next_obs, _, terminated, truncated, step_info = env.step(plan[k])
            measured = dict(zip(twin.measured_names, obs, strict=True))
            applied = dict(zip(twin.action_names, step_info["action_applied"], strict=True))
            rows.append({"episode": episode, "time": k * twin.sample_period, **measured, **applied})
            obs = next_obs
            if terminated or truncated:
                break
    env.close()
    return pd.DataFrame(rows), f"reset(seed=1000·seed+episode); {excitation}"


def external_plant(name: str, episodes: int, steps: int, seed: int) -> Plant:
    python = ROOT / ".venv-external" / "bin" / "python"
    if not python.exists():
        raise UnavailableError("no .venv-external; run benchmarks/external/setup.sh first")
    out = CACHE / f"{name}-e{episodes}-s{steps}-seed{seed}.parquet"
    if not out.exists():
        command = [
            str(python),
            str(EXTERNAL / "collect.py"),
            name,
            str(out),
            "--episodes",
            str(episodes),
            "--steps",
            str(steps),
            "--seed",
            str(seed),
        ]
        subprocess.run(command, check=True, capture_output=True, text=True)
    spec_file = {"pcgym-cstr": "pcgym_cstr.yaml", "industrial-benchmark": "industrial_benchmark.yaml"}[name]
    import pyarrow.parquet as pq

    meta = json.loads((pq.read_schema(out).metadata or {}).get(b"worldtwin", b"{}"))
    how = f"{episodes} episodes × {steps} steps via benchmarks/external/collect.py: " + "; ".join(
        f"{k}: {v}" for k, v in meta.items() if k not in ("plant", "episodes", "steps")
    )
    return Plant(name, load_spec(EXTERNAL / spec_file), pd.read_parquet(out), how)


TANKS_SPEC = """
spec_version: 1
metadata: {name: tanks, title: Two cascaded tanks}
sample_period: 1 s
tags:
  - {name: h1, unit: m}
  - {name: h2, unit: m}
  - {name: q, unit: m^3/s, kind: action, range: [0.3, 1.0]}
actions:
  - {tag: q, bounds: [0.3, 1.0]}
"""


def tanks_plant(episodes: int, steps: int, seed: int) -> Plant:
    rng = np.random.default_rng(seed)
    rows = []
    for episode in range(episodes):
        h = rng.uniform(0.5, 1.5, size=2)
        inflow = random_steps(rng, steps, 0.3, 1.0, (5, 25))
        for k in range(steps):
            rows.append((episode, float(k), *(h + 0.01 * rng.standard_normal(2)), inflow[k]))
            out1, out2 = 0.6 * np.sqrt(h[0]), 0.6 * np.sqrt(h[1])
            h = np.maximum(h + 0.2 * np.array([inflow[k] - out1, out1 - out2]), 1e-3)
    how = (
        f"{episodes} episodes × {steps} steps, inflow random steps U(0.3, 1.0) held 5–25 steps, noise 0.01 m"
    )
    return Plant(
        "tanks", parse_spec(TANKS_SPEC), pd.DataFrame(rows, columns=["episode", "time", "h1", "h2", "q"]), how
    )


def sensors_plant(base: Plant, n_sensors: int, seed: int) -> Plant:
    known = set(base.twin.known_input_names)
    states = [n for n in base.twin.names("observation") if n not in known]
    data, mixing = redundant_sensors(base.data, states, n_sensors=n_sensors, noise=0.3, seed=seed)
    how = (
        f"{base.name} data ({base.how.split(':')[0]}) seen through {n_sensors} sensors: each a random linear "
        f"mixture of the standardised states {states} plus white noise σ=0.3 (sensor std ≈ 1)"
    )
    return Plant(
        "sensors",
        redundant_spec(base.twin, mixing),
        data,
        how,
        baselines=["persistence", "arx", "mlp"],
        arx_orders=(1, 2, 3, 5),
    )


# --- the world model (when this build has one) -----------------------------------------------------


def world_model(train: pd.DataFrame, validation: pd.DataFrame, twin: Twin, args: argparse.Namespace) -> Any:
    """Train the default world model on train+validation (it holds out its own share), or None without one."""
    model_package = importlib.import_module("worldtwin.model")
    train_config, train_world_model = (getattr(model_package, n, None) for n in ("TrainConfig", "train"))
    if train_config is None or train_world_model is None:
        return None
    wanted = {"seed": args.seed, "max_seconds": args.wm_seconds, "max_steps": 60 if args.quick else None}
    known = {f.name for f in dataclasses.fields(train_config)}
    config = train_config(**{k: v for k, v in wanted.items() if k in known and v is not None})
    return train_world_model(pd.concat([train, validation], ignore_index=True), twin, config)


# --- one plant --------------------------------------------------------------------------------------


def run_plant(plant: Plant, args: argparse.Namespace) -> dict[str, Any]:
    roles = Roles.from_spec(plant.twin)
    train, validation, test = split_episodes(plant.data, seed=args.seed)
    horizons = (1, 10, 50) if not args.quick else (1, 5, 10)
    started = time.perf_counter()
    mlp = RolloutMLPConfig(
        max_epochs=args.mlp_epochs,
        patience=6,
        max_seconds=args.mlp_seconds,
        seed=args.seed,
        ensemble=1 if args.quick else 3,
    )
    fit_seconds: dict[str, float] = {}
    models: dict[str, Forecaster] = {}
    wm = world_model(train, validation, plant.twin, args)
    if wm is not None:
        models["world model"] = wm
    clock = time.perf_counter()

    def timed(name: str) -> None:
        nonlocal clock
        fit_seconds[name] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()

    baselines = [b for b in plant.baselines if b in args.baselines]
    fitted = fit_baselines(
        baselines,
        train,
        validation,
        roles,
        horizon=max(horizons),
        seed=args.seed,
        mlp=mlp,
        darts_options={"regressor": "linear"} if args.quick else plant.darts,
        arx_orders=plant.arx_orders,
        on_fitted=timed,
    )
    models.update(fitted)
    detectors: dict[str, SurpriseScorer] = {}
    if plant.name in FAULT_PLANTS:
        if wm is not None and hasattr(wm, "surprise"):
            detectors["world model"] = wm  # type: ignore[assignment]
        for name in ("mlp", "arx"):
            if name in fitted:
                fitted[name].surprise_steps = (1, 10)
                detectors[name] = fitted[name]
        detectors["zscore"] = zscore_detector(train, roles)
    result = compare(
        models,
        test,
        roles,
        horizons=horizons,
        origins=args.origins,
        seed=args.seed,
        detectors=detectors or None,
        calibrated=[name for name in detectors if name != "zscore"],
        detection_window=25 if args.quick else 50,
    )
    print(f"\n## {plant.name} — {plant.twin.metadata.title}")
    print(f"data: {plant.how}")
    print(
        f"episodes train/val/test: {train.episode.nunique()}/{validation.episode.nunique()}/"
        f"{test.episode.nunique()}, "
        f"world model: {'yes' if wm is not None else 'not in this build'}"
    )
    print(markdown(*forecast_rows(result.forecasts)))
    plot = None
    if args.plots:
        plot = plot_evaluation(result.forecasts, args.plots / f"eval-{plant.name}.png").resolve()
        print(f"plot: {plot}")
    subtle = None
    if result.detection:
        print(markdown(*detection_rows(result.detection)))
        print("two-sided (|log mean surprise|):")
        print(markdown(*detection_rows(result.detection, two_sided=True)))
        subtle = evaluate_detection(
            detectors,
            test,
            roles,
            window=25 if args.quick else 50,
            warmup=32,
            magnitudes=SUBTLE,
            calibrated=[name for name in detectors if name != "zscore"],
            seed=args.seed,
        )
        print(f"subtle faults {SUBTLE} (× tag std):")
        print(markdown(*detection_rows(subtle)))
        print(markdown(*detection_rows(subtle, two_sided=True)))
    return {
        "plant": plant.name,
        "title": plant.twin.metadata.title,
        "data": plant.how,
        "episodes": {
            "train": int(train.episode.nunique()),
            "validation": int(validation.episode.nunique()),
            "test": int(test.episode.nunique()),
        },
        "targets": list(roles.targets),
        "inputs": list(roles.inputs),
        "world_model": wm is not None,
        "fit_seconds": fit_seconds,
        "seconds": round(time.perf_counter() - started, 1),
        **result.to_dict(),
        "detection_subtle": None if subtle is None else {"magnitudes": SUBTLE, **subtle.to_dict()},
        "plot": str(plot) if plot else None,
    }


def build(name: str, args: argparse.Namespace, cache: dict[str, Plant]) -> Plant:
    episodes, steps = (6, 80) if args.quick else (args.episodes, args.steps)
    if name in cache:
        return cache[name]
    if name in BUILTIN_IDS:
        plant = builtin_plant(name, episodes, steps, args.seed)
    elif name in ("pcgym-cstr", "industrial-benchmark"):
        plant = external_plant(name, episodes, steps if name == "pcgym-cstr" else steps + 100, args.seed)
    elif name == "tanks":
        plant = tanks_plant(episodes, steps, args.seed)
    elif name == "sensors":
        base = None
        for candidate in ("tanks",) if args.quick else ("cstr", "pcgym-cstr", "tanks"):
            try:
                base = build(candidate, args, cache)
                break
            except UnavailableError:
                continue
        assert base is not None  # tanks always builds
        plant = sensors_plant(base, 16 if args.quick else args.sensors, args.seed)
    else:
        raise SystemExit(f"unknown plant {name!r}")
    cache[name] = plant
    return plant


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and training: a smoke run for tests")
    parser.add_argument(
        "--plants", default=None, help="comma-separated plants (default: all; --quick: tanks,sensors)"
    )
    parser.add_argument("--baselines", default="persistence,arx,mlp,darts")
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--sensors", type=int, default=128)
    parser.add_argument("--origins", type=int, default=200)
    parser.add_argument("--mlp-epochs", type=int, default=40)
    parser.add_argument(
        "--mlp-seconds", type=float, default=240.0, help="training budget of the MLP ensemble"
    )
    parser.add_argument("--wm-seconds", type=float, default=None, help="training budget of the world model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--json", type=Path, default=None, help="default: benchmarks/results/world_model_eval[_quick].json"
    )
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables as Markdown here")
    parser.add_argument(
        "--plots", type=Path, default=None, help="write eval-<plant>.png (fans, error vs horizon) here"
    )
    parser.add_argument("--render", type=Path, default=None, help="only rewrite --markdown from this JSON")
    args = parser.parse_args(argv)
    if args.render:
        report = json.loads(args.render.read_text(encoding="utf-8"))
        write_markdown(report, args.markdown or ROOT / "docs" / "results.md")
        return report
    args.baselines = args.baselines.split(",")
    if args.quick:
        args.origins, args.mlp_epochs, args.mlp_seconds = 20, 2, 20.0
    names = (
        args.plants
        or ("tanks,sensors" if args.quick else "cstr,packaging,pcgym-cstr,industrial-benchmark,sensors")
    ).split(",")
    import torch

    torch.set_num_threads(1)  # small models; more threads only contend on shared machines (see obs_mlp)
    command = " ".join(["python benchmarks/world_model_eval.py", *(sys.argv[1:] if argv is None else argv)])
    report: dict[str, Any] = {
        "command": command,
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "torch": torch.__version__,
        },
        "plants": [],
        "unavailable": {},
    }
    cache: dict[str, Plant] = {}
    for name in names:
        try:
            plant = build(name, args, cache)
        except UnavailableError as exc:
            report["unavailable"][name] = str(exc)
            print(f"\n## {name}: not run — {exc}")
            continue
        report["plants"].append(run_plant(plant, args))
    out = args.json or RESULTS / ("world_model_eval_quick.json" if args.quick else "world_model_eval.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"\nJSON: {out}")
    if args.markdown:
        write_markdown(report, args.markdown)
        print(f"Markdown: {args.markdown}")
    return report


def write_markdown(report: dict[str, Any], path: Path) -> None:
    """The results page: one section per plant with forecast and detection tables, and the command."""
    from worldtwin.model.evaluate import DetectionEvaluation

    lines = [
        "# World model evaluation: results",
        "",
        f"Produced by `{report['command']}` (Python {report['machine']['python']}, "
        f"{report['machine']['cpu_count']} CPU cores, torch {report['machine']['torch']}). Raw numbers: "
        "`benchmarks/results/world_model_eval.json`. Definitions: `docs/evaluation.md`.",
        "",
    ]
    for name, why in report["unavailable"].items():
        lines.append(f"- **{name}**: not run — {why}")
    for plant in report["plants"]:
        fc = plant["forecasts"]
        lines += [
            "",
            f"## {plant['plant']} — {plant['title']}",
            "",
            f"Data: {plant['data']}.",
            "",
            f"Episodes train/validation/test: {plant['episodes']['train']}/{plant['episodes']['validation']}/"
            f"{plant['episodes']['test']}; {fc['origins']} forecast origins on the test episodes; targets "
            f"{', '.join(plant['targets'][:8])}{' …' if len(plant['targets']) > 8 else ''}; inputs "
            f"{', '.join(plant['inputs'])}. World model: "
            f"{'included' if plant['world_model'] else 'not in this build'}.",
            "",
        ]
        evaluation = _evaluation_from(fc)
        lines.append(markdown(*forecast_rows(evaluation)))
        if plant.get("plot"):
            picture = os.path.relpath(plant["plot"], path.parent.resolve())
            lines += ["", f"![{plant['plant']}: forecast fans and error vs horizon]({picture})"]
        for key, label in (("detection", "Fault detection"), ("detection_subtle", "Subtle faults")):
            found = plant.get(key)
            if not found:
                continue
            detection = DetectionEvaluation(
                found["window"], found["windows"], found["auroc"], found.get("two_sided", {})
            )
            sizes = f"sizes × tag std {found['magnitudes']}" if "magnitudes" in found else "default sizes"
            lines += [
                "",
                f"{label} ({sizes}; {found['windows']} windows of {found['window']} samples), "
                "AUROC of the mean surprise over a window:",
                "",
                markdown(*detection_rows(detection)),
            ]
            if detection.two_sided:
                lines += ["", "Two-sided, AUROC of |log(mean surprise)| (scores calibrated to ≈ 1):", ""]
                lines.append(markdown(*detection_rows(detection, two_sided=True)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _evaluation_from(fc: dict[str, Any]) -> Any:
    """Rebuild a score-only ForecastEvaluation from its JSON (for the Markdown tables)."""
    from worldtwin.model.evaluate import ForecastEvaluation, ModelScores

    horizons = tuple(int(h) for h in fc["horizons"])
    evaluation = ForecastEvaluation(
        horizons, tuple(fc["targets"]), fc["level"], [], np.ones(0), np.zeros(0), np.zeros(0)
    )
    for name, s in fc["models"].items():
        evaluation.scores[name] = ModelScores(
            nrmse={int(h): v for h, v in s["nrmse"].items()},
            coverage=s["coverage"],
            coverage_by_horizon={int(h): v for h, v in s["coverage_by_horizon"].items()},
            width=s["width"],
            seconds=s["forecast_seconds"],
        )
    return evaluation


if __name__ == "__main__":
    main()
