"""Bring irregular, multi-rate samples onto the twin's fixed time grid.

The grid is every multiple of Δt since the epoch (so two calls with the same Δt line up). The value
of a tag at grid time t depends on its resample method (``Tag.resample`` in the spec):

* ``mean`` — the average of the readings in (t − Δt, t]: only what was measured up to t, so row k of
  a trajectory never sees the effect of the action applied during [t_k, t_k+1).
* ``last`` — the newest reading at or before t.
* ``interpolate`` — linear between the readings on either side of t (the one after t is used, so
  this method looks ahead by up to one reading).

A tag slower than the grid (an analyzer every 5 min on a 10 s grid) holds its last reading, but only
while it is fresh: a reading older than ``hold`` (1.5 × the tag's own sample period, so until just
after the next reading was due) is stale and the value is NaN — a missed reading is a gap in the
trajectory, never an invented value. ``interpolate`` does not bridge readings further apart than ``hold``.
All times are int64 microseconds since the epoch, UTC.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from worldtwin.telemetry.table import EPISODE, TIME

Method = Literal["mean", "last", "interpolate"]


def time_grid(start_us: int, end_us: int, dt_us: int) -> np.ndarray:
    """Multiples of ``dt_us`` in [start, end)."""
    if dt_us <= 0:
        raise ValueError(f"dt must be positive, got {dt_us} µs")
    first = -(-start_us // dt_us) * dt_us
    return np.arange(first, end_us, dt_us, dtype=np.int64)


def resample(
    times: np.ndarray, values: np.ndarray, grid: np.ndarray, *, dt_us: int, method: Method, hold_us: int
) -> np.ndarray:
    """One tag's readings (``times`` sorted µs) on ``grid``; NaN where nothing fresh is known."""
    out = np.full(len(grid), np.nan)
    if len(times) == 0 or len(grid) == 0:
        return out
    last = np.searchsorted(times, grid, side="right") - 1
    fresh = last >= 0
    fresh[fresh] = grid[fresh] - times[last[fresh]] <= hold_us
    out[fresh] = values[last[fresh]]  # hold the newest reading: final for "last", the fallback otherwise
    if method == "mean":
        bucket = -((grid[0] - times) // dt_us)  # ceil((t - g0) / dt): reading t falls in (g_k - dt, g_k]
        inside = (bucket >= 0) & (bucket < len(grid))
        counts = np.bincount(bucket[inside], minlength=len(grid))
        sums = np.bincount(bucket[inside], weights=values[inside], minlength=len(grid))
        filled = counts > 0
        out[filled] = sums[filled] / counts[filled]
    elif method == "interpolate":
        following = last + 1
        between = (last >= 0) & (following < len(times))
        left, right = last[between], following[between]
        close = times[right] - times[left] <= hold_us
        left, right = left[close], right[close]
        where = np.flatnonzero(between)[close]
        weight = (grid[where] - times[left]) / (times[right] - times[left])
        out[where] = values[left] + weight * (values[right] - values[left])
    elif method != "last":
        raise ValueError(f"unknown resample method {method!r}; expected mean, last or interpolate")
    return out


def split_episodes(frame: pd.DataFrame, tags: list[str], *, min_length: int = 2) -> pd.DataFrame:
    """Keep the rows where every tag has a value; each unbroken run of grid rows becomes an episode.

    Runs shorter than ``min_length`` rows are dropped. The result is a trajectory table
    (``episode``, ``time``, tags) ready for training.
    """
    complete = frame[tags].notna().all(axis=1).to_numpy() if tags else np.ones(len(frame), bool)
    starts = complete & ~np.concatenate([[False], complete[:-1]])
    run = np.cumsum(starts)
    lengths = np.bincount(run[complete], minlength=run.max(initial=0) + 1)
    keep = complete & (lengths[run] >= min_length)
    out = frame.loc[keep].copy()
    _, episode = np.unique(run[keep], return_inverse=True)
    out.insert(0, EPISODE, episode.astype(np.int64))
    return out.reset_index(drop=True)[[EPISODE, TIME, *tags]]
