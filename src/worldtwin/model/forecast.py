"""What every forecaster returns, and the protocol the world model and its baselines share.

``Forecast`` holds one DataFrame per statistic (mean, lower, upper), indexed like the future
actions it was asked about, one column per predicted tag, in engineering units. Baselines in the
evaluation implement the same :class:`Forecaster` protocol, so the evaluation treats the world
model and its peers identically.

The convention is the trajectory table split at "now": ``history`` is the table up to and including
row t_n (whose actions are applied during [t_n, t_n+1), so they drive the first forecast step), and
``future`` is the next H rows t_n+1 … t_n+H with their ``time``, action and known-input columns.
Forecast row j is the prediction for future row j's time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pandas as pd


@dataclass(frozen=True)
class Forecast:
    """Mean prediction and a central band (``level``, e.g. 0.9) over the forecast horizon."""

    mean: pd.DataFrame
    lower: pd.DataFrame
    upper: pd.DataFrame
    level: float = 0.9

    @property
    def horizon(self) -> int:
        return len(self.mean)

    def to_frame(self) -> pd.DataFrame:
        """Long-to-wide view: columns ``<tag>``, ``<tag>_lower``, ``<tag>_upper``."""
        parts = [self.mean, self.lower.add_suffix("_lower"), self.upper.add_suffix("_upper")]
        return pd.concat(parts, axis=1)


class Forecaster(Protocol):
    """Anything that forecasts tags from a history window and the future actions/known inputs."""

    def forecast(self, history: pd.DataFrame, future: pd.DataFrame) -> Forecast: ...
