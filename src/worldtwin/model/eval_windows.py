"""Trajectory tables → arrays of forecast windows, shared by the evaluation and its baselines.

Column roles come from the twin spec: **targets** are the tags a forecaster predicts
(``twin.predicted_names``); **inputs** are the columns known over the forecast horizon — the actions
and the known-ahead disturbances (``twin.action_names + twin.known_input_names``).

The forecast contract (see :class:`worldtwin.model.forecast.Forecaster`) as used throughout the
evaluation: at an *origin* row ``k`` of an episode the forecaster receives the history rows ``…, k``
(every column, so the action ``u_k`` applied during ``[t_k, t_k+1)`` is known) and the future rows
``k+1, …, k+H`` holding only ``time`` and the input columns. It returns the targets at rows
``k+1, …, k+H``. Step ``h`` of a forecast therefore depends on ``u_k, …, u_{k+h-1}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from worldtwin.errors import DataError
from worldtwin.spec.schema import Twin
from worldtwin.telemetry.table import EPISODE, TIME, check_table, iter_episodes


@dataclass(frozen=True)
class Roles:
    """Which columns are forecast (targets) and which are known over the horizon (inputs)."""

    targets: tuple[str, ...]
    inputs: tuple[str, ...]

    @classmethod
    def from_spec(cls, twin: Twin) -> Roles:
        return cls(tuple(twin.predicted_names), tuple(twin.action_names) + tuple(twin.known_input_names))

    @property
    def columns(self) -> tuple[str, ...]:
        return self.targets + self.inputs


@dataclass(frozen=True)
class Episode:
    """One episode: targets ``y`` (T, ny), inputs ``u`` (T, nu), times (T,); ``frame`` keeps the rows."""

    id: object
    y: np.ndarray
    u: np.ndarray
    time: np.ndarray
    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Windows:
    """A batch of forecast windows: history of ``L`` rows ending at the origin, then ``H`` future rows.

    Shapes: ``y_hist`` (B, L, ny), ``u_hist`` (B, L, nu), ``u_future`` (B, H, nu), ``y_future`` (B, H, ny).
    """

    y_hist: np.ndarray
    u_hist: np.ndarray
    u_future: np.ndarray
    y_future: np.ndarray

    def __len__(self) -> int:
        return len(self.y_hist)

    def take(self, index: np.ndarray) -> Windows:
        return Windows(self.y_hist[index], self.u_hist[index], self.u_future[index], self.y_future[index])


def to_episodes(frame: pd.DataFrame, roles: Roles, *, source: str = "data") -> list[Episode]:
    """Split a trajectory table into episodes of float arrays (checked: numeric, finite, ordered time)."""
    check_table(frame, roles.columns, source=source)
    episodes = []
    for episode_id, part in iter_episodes(frame):
        episodes.append(
            Episode(
                episode_id,
                part[list(roles.targets)].to_numpy(dtype=np.float64),
                part[list(roles.inputs)].to_numpy(dtype=np.float64).reshape(len(part), len(roles.inputs)),
                part[TIME].to_numpy(),
                part,
            )
        )
    return episodes


def origins(episodes: Sequence[Episode], history: int, horizon: int) -> list[tuple[int, int]]:
    """Every valid ``(episode index, origin row)``: ``history`` rows behind it and ``horizon`` ahead."""
    found = []
    for e, episode in enumerate(episodes):
        found += [(e, k) for k in range(history - 1, len(episode) - horizon)]
    return found


def spread_origins(
    episodes: Sequence[Episode], history: int, horizon: int, count: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """``count`` origins drawn without replacement, spread over all episodes (all of them if fewer)."""
    every = origins(episodes, history, horizon)
    if not every:
        longest = max((len(e) for e in episodes), default=0)
        raise DataError(
            f"no episode is long enough for a forecast window: need {history + horizon} rows "
            f"({history} history + {horizon} horizon), the longest episode has {longest}; "
            "use longer episodes or a shorter --horizons"
        )
    if count >= len(every):
        return every
    picked = np.sort(rng.choice(len(every), size=count, replace=False))
    return [every[i] for i in picked]


def make_windows(
    episodes: Sequence[Episode], at: Sequence[tuple[int, int]], history: int, horizon: int
) -> Windows:
    """Cut windows at the given ``(episode index, origin row)`` pairs."""
    y_hist, u_hist, u_future, y_future = [], [], [], []
    for e, k in at:
        ep = episodes[e]
        y_hist.append(ep.y[k - history + 1 : k + 1])
        u_hist.append(ep.u[k - history + 1 : k + 1])
        u_future.append(ep.u[k + 1 : k + 1 + horizon])
        y_future.append(ep.y[k + 1 : k + 1 + horizon])
    return Windows(np.stack(y_hist), np.stack(u_hist), np.stack(u_future), np.stack(y_future))


def all_windows(episodes: Sequence[Episode], history: int, horizon: int, stride: int = 1) -> Windows:
    """Every window (every ``stride``-th origin) of every episode."""
    return make_windows(episodes, origins(episodes, history, horizon)[::stride], history, horizon)


def split_episodes(
    frame: pd.DataFrame, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), *, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split a table into train/validation/test by whole episodes (shuffled with ``seed``): no leakage.

    Every part with a non-zero fraction gets at least one episode.
    """
    if EPISODE not in frame.columns:
        raise DataError("the table has no 'episode' column; an honest split needs several episodes")
    ids = frame[EPISODE].drop_duplicates().to_numpy()
    needed = 1 + sum(1 for f in fractions[1:] if f > 0)
    if len(ids) < needed:
        raise DataError(f"the table has {len(ids)} episode(s); need at least {needed} to split by episode")
    ids = np.random.default_rng(seed).permutation(ids)
    n_val = max(1, round(fractions[1] * len(ids)))
    n_test = max(1, round(fractions[2] * len(ids))) if fractions[2] > 0 else 0
    n_train = len(ids) - n_val - n_test
    if n_train < 1:
        raise DataError(f"{len(ids)} episodes leave none for training; record more episodes")
    parts = (ids[:n_train], ids[n_train : n_train + n_val], ids[n_train + n_val :])
    return tuple(frame[frame[EPISODE].isin(set(p.tolist()))].reset_index(drop=True) for p in parts)
