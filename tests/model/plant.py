"""A small nonlinear plant written for the tests: a damped pendulum with a drive and an optional known load.

Tag names are deliberately unusual (dots, colons, dashes) to show nothing depends on them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from worldtwin.spec.schema import Action, Metadata, ModelConfig, Tag, Twin

ANGLE, RATE, DRIVE, LOAD = "arm.angle:pv", "arm-rate", "drive_cmd", "load.ext"
PERIOD = 0.1


def pendulum_table(episodes: int, steps: int, seed: int, *, load: bool = False) -> pd.DataFrame:
    """Damped pendulum driven by a torque (action) and, optionally, a known external load."""
    rng = np.random.default_rng(seed)
    rows = []
    for episode in range(episodes):
        angle, rate = rng.uniform(-1, 1), rng.uniform(-1, 1)
        drive = np.repeat(rng.uniform(-1.5, 1.5, steps // 10 + 1), 10)[:steps]
        external = 0.5 * np.sin(0.07 * np.arange(steps) + rng.uniform(0, 6)) if load else np.zeros(steps)
        for t in range(steps):
            rows.append(
                (
                    episode,
                    t * PERIOD,
                    angle + rng.normal(0, 0.01),
                    rate + rng.normal(0, 0.01),
                    drive[t],
                    external[t],
                )
            )
            for _ in range(5):  # semi-implicit Euler substeps
                rate += PERIOD / 5 * (-2.0 * np.sin(angle) - 0.4 * rate + drive[t] + external[t])
                angle += PERIOD / 5 * rate
    frame = pd.DataFrame(rows, columns=["episode", "time", ANGLE, RATE, DRIVE, LOAD])
    return frame if load else frame.drop(columns=[LOAD])


def pendulum_spec(*, load: bool = False, **model: object) -> Twin:
    tags = [
        Tag(name=ANGLE, unit="rad", range=(-4, 4)),
        Tag(name=RATE, unit="rad/s", range=(-6, 6)),
        Tag(name=DRIVE, unit="N*m", kind="action", range=(-2, 2)),
    ]
    if load:
        tags.append(Tag(name=LOAD, unit="N*m", kind="disturbance", known_ahead=True, range=(-1, 1)))
    defaults: dict[str, object] = {"latent_dim": 8, "ensemble": 3, "rollout_steps": 8}
    return Twin(
        metadata=Metadata(name="pendulum"),
        sample_period=PERIOD,
        tags=tags,
        actions=[Action(tag=DRIVE, bounds=(-1.5, 1.5))],
        model=ModelConfig(**(defaults | model)),
    )


def tiny_config(**overrides: object):
    from worldtwin.model import TrainConfig

    defaults: dict[str, object] = {
        "max_steps": 300,
        "batch_size": 64,
        "eval_every": 50,
        "horizon": 24,
        "width": 32,
        "eval_windows": 128,
        "calibration_windows": 2048,
    }
    return TrainConfig(**(defaults | overrides))
