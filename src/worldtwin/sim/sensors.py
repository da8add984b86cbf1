"""A plant seen through many redundant noisy sensors: each sensor a random linear mixture of its states.

Real plants often measure a few underlying states through dozens of correlated, noisy instruments
(thermocouple arrays, spectra, soft sensors). This generator turns any trajectory table into such a
view — the setting where a latent world model should pay off against an observation-space model::

    mixed, mixing = redundant_sensors(table, states=["Ca", "T"], n_sensors=128, noise=0.1, seed=0)
    spec = redundant_spec(twin, mixing)           # a twin spec with tags s000…s127 plus the same actions

Sensor ``i`` reads ``Σ_j W[i, j] · (x_j − mean_j) / std_j + noise · ε`` with ``W`` drawn from
N(0, 1/n_states) (so each sensor has about unit variance before noise) and ``ε ~ N(0, 1)`` white,
independent per sensor and sample. Actions, known inputs, ``episode`` and ``time`` pass through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from worldtwin.errors import DataError
from worldtwin.spec.schema import Metadata, Tag, Twin


@dataclass(frozen=True)
class SensorMixing:
    """How the sensors were made: enough to regenerate them or to recover the states."""

    states: tuple[str, ...]
    sensors: tuple[str, ...]
    weights: np.ndarray  # (n_sensors, n_states)
    mean: np.ndarray  # (n_states,)
    std: np.ndarray  # (n_states,)
    noise: float

    def apply(self, states: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(T, n_states) state values → (T, n_sensors) noisy sensor readings."""
        clean = ((states - self.mean) / self.std) @ self.weights.T
        return clean + self.noise * rng.standard_normal(clean.shape)


def redundant_sensors(
    frame: pd.DataFrame,
    states: Sequence[str],
    *,
    n_sensors: int = 128,
    noise: float = 0.1,
    seed: int = 0,
    prefix: str = "s",
) -> tuple[pd.DataFrame, SensorMixing]:
    """Replace the ``states`` columns of a trajectory table by ``n_sensors`` noisy linear mixtures."""
    missing = [s for s in states if s not in frame.columns]
    if missing:
        raise DataError(f"state column(s) {missing} are not in the table; columns are {list(frame.columns)}")
    if n_sensors < 1 or noise < 0:
        raise DataError(f"need n_sensors >= 1 and noise >= 0, got {n_sensors} and {noise}")
    rng = np.random.default_rng(seed)
    values = frame[list(states)].to_numpy(dtype=np.float64)
    std = values.std(axis=0)
    width = len(str(n_sensors - 1))
    mixing = SensorMixing(
        states=tuple(states),
        sensors=tuple(f"{prefix}{i:0{width}d}" for i in range(n_sensors)),
        weights=rng.standard_normal((n_sensors, len(states))) / np.sqrt(len(states)),
        mean=values.mean(axis=0),
        std=np.where(std > 1e-12, std, 1.0),
        noise=noise,
    )
    readings = pd.DataFrame(mixing.apply(values, rng), columns=list(mixing.sensors), index=frame.index)
    return pd.concat([frame.drop(columns=list(states)), readings], axis=1), mixing


def redundant_spec(twin: Twin, mixing: SensorMixing, *, name: str | None = None) -> Twin:
    """The twin spec of the sensor view: the sensor tags replace the mixed states; the rest is kept."""
    kept = [t for t in twin.tags if t.name not in mixing.states]
    sensors = [
        Tag(name=s, description=f"noisy linear mixture of {', '.join(mixing.states)}") for s in mixing.sensors
    ]
    limits = [limit for limit in twin.limits if limit.tag not in mixing.states]
    objectives = [o for o in twin.objectives if o.tag not in mixing.states]
    metadata = Metadata(
        name=name or f"{twin.metadata.name}-sensors{len(mixing.sensors)}",
        title=f"{twin.metadata.title or twin.metadata.name} seen through {len(mixing.sensors)} noisy sensors",
        description=twin.metadata.description,
    )
    document = twin.model_dump(mode="json") | {
        "metadata": metadata.model_dump(mode="json"),
        "tags": [t.model_dump(mode="json") for t in kept + sensors],
        "limits": [limit.model_dump(mode="json") for limit in limits],
        "objectives": [o.model_dump(mode="json") for o in objectives],
        "sources": [],
    }
    return Twin.model_validate(document)  # validated again, like every spec edit
