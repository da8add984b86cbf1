"""From trajectory tables to the world model's arrays: checks, splits, scaling, conditions, windows.

A :class:`Layout` says which columns the model predicts (``twin.predicted_names``) and which
condition it like actions (``twin.action_names``, ``twin.known_input_names``, calendar features). A
table becomes a list of :class:`Stretch` es — gap-free runs of one episode, scaled — from which
:class:`Windows` draws fixed-length training windows without crossing an episode or a gap.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from worldtwin.errors import DataError
from worldtwin.spec.schema import Twin
from worldtwin.telemetry.table import EPISODE, TIME, check_table, iter_episodes, time_seconds

CALENDAR_WIDTH = {"time_of_day": 2, "day_of_week": 2, "shift": 3}
"""Features per calendar item: sin/cos of the day, sin/cos of the week, one-hot of 8-h shifts (06/14/22 h)."""
GAP_FACTOR = 1.5
"""A time step longer than this many sample periods is a gap: windows never span it."""


@dataclass(frozen=True)
class Layout:
    """Which columns the model reads and predicts, in spec order."""

    predicted: tuple[str, ...]
    actions: tuple[str, ...]
    known: tuple[str, ...]
    calendar: tuple[str, ...]
    sample_period: float

    @classmethod
    def from_spec(cls, twin: Twin) -> Layout:
        return cls(
            tuple(twin.predicted_names),
            tuple(twin.action_names),
            tuple(twin.known_input_names),
            tuple(twin.model.calendar),
            float(twin.sample_period),
        )

    @property
    def inputs(self) -> tuple[str, ...]:
        """Columns that condition the predictor: actions then known inputs."""
        return self.actions + self.known

    @property
    def n_cond(self) -> int:
        return len(self.actions) + 2 * len(self.known) + sum(CALENDAR_WIDTH[c] for c in self.calendar)

    def check(self, frame: pd.DataFrame, source: str, *, inputs_only: bool = False) -> None:
        """Raise :class:`DataError` unless ``frame`` holds finite numeric columns for this layout."""
        columns = list(self.inputs if inputs_only else self.predicted + self.inputs)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            kind = "input (action / known-ahead)" if inputs_only else "tag"
            raise DataError(
                f"{source}: missing {kind} column(s) {missing}; the model was built for "
                f"{columns}. Use data recorded for this twin, or a spec that matches the data"
            )
        if TIME not in frame.columns and (self.calendar or not inputs_only):
            raise DataError(
                f"{source}: no '{TIME}' column; the model needs the sample times"
                + (f" for its calendar features {list(self.calendar)}" if self.calendar else "")
            )
        if TIME in frame.columns:
            check_table(frame, columns, source=source)
        else:
            check_table(frame.assign(**{TIME: np.arange(len(frame), dtype=float)}), columns, source=source)


@dataclass(frozen=True)
class Scaler:
    """Per-column affine map to zero mean, unit variance (fitted on training rows only)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaler:
        """Fit to ``values`` (T, n); a column that never changes keeps unit scale (see :func:`constants`)."""
        mean, std = values.mean(axis=0), values.std(axis=0)
        return cls(mean.astype(np.float64), np.where(flat(mean, std), 1.0, std).astype(np.float64))

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype(np.float32)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64) * self.std + self.mean


def flat(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return std <= 1e-9 * np.maximum(1.0, np.abs(mean))


def constants(values: np.ndarray, names: Sequence[str]) -> list[str]:
    """``name (always value)`` for every column of ``values`` that never changes."""
    mean, std = values.mean(axis=0), values.std(axis=0)
    return [f"{names[int(i)]} (always {mean[i]:g})" for i in np.flatnonzero(flat(mean, std))]


def calendar_features(times: pd.Series, items: Sequence[str]) -> np.ndarray:
    """Calendar features (T, n) of timestamps (wall-clock) or float seconds (since midnight of day 0)."""
    if not items:
        return np.zeros((len(times), 0), dtype=np.float32)
    if pd.api.types.is_datetime64_any_dtype(times):
        stamps = pd.DatetimeIndex(times)
        day_seconds = (stamps.hour * 3600 + stamps.minute * 60 + stamps.second).to_numpy(float)
        weekday = stamps.day_of_week.to_numpy(float)
    else:
        seconds = times.to_numpy(dtype=float)
        day_seconds = np.mod(seconds, 86400.0)
        weekday = np.mod(np.floor(seconds / 86400.0) + 3, 7)  # 1970-01-01 was a Thursday (Monday = 0)
    parts = []
    for item in items:
        if item == "time_of_day":
            angle = 2 * np.pi * day_seconds / 86400.0
            parts += [np.sin(angle), np.cos(angle)]
        elif item == "day_of_week":
            angle = 2 * np.pi * (weekday + day_seconds / 86400.0) / 7.0
            parts += [np.sin(angle), np.cos(angle)]
        else:  # shift: 06-14, 14-22, 22-06
            shift = np.floor(np.mod(day_seconds / 3600.0 - 6.0, 24.0) / 8.0)
            parts += [(shift == k).astype(float) for k in range(3)]
    return np.stack(parts, axis=1).astype(np.float32)


def next_times(times: pd.Series, period: float) -> pd.Series:
    """The time of the following row (the last row gets one sample period more)."""
    following = times.shift(-1)
    last = times.iloc[-1] + (
        pd.Timedelta(seconds=period) if pd.api.types.is_datetime64_any_dtype(times) else period
    )
    following.iloc[-1] = last
    return following.astype(times.dtype)


def conditions(frame: pd.DataFrame, layout: Layout, inputs: Scaler) -> np.ndarray:
    """Condition rows (T, n_cond): row t holds u_t, d_t, d_t+1 and the calendar of t+1 (see jepa.py)."""
    scaled = (
        inputs(frame[list(layout.inputs)].to_numpy(dtype=float))
        if layout.inputs
        else np.zeros((len(frame), 0))
    )
    n_a = len(layout.actions)
    actions, known = scaled[:, :n_a], scaled[:, n_a:]
    known_next = np.concatenate([known[1:], known[-1:]]) if len(known) else known
    times = frame[TIME] if TIME in frame.columns else pd.Series(np.arange(len(frame), dtype=float))
    calendar = calendar_features(
        next_times(times.reset_index(drop=True), layout.sample_period), layout.calendar
    )
    return np.concatenate([actions, known, known_next, calendar], axis=1).astype(np.float32)


@dataclass(frozen=True)
class Stretch:
    """A gap-free run of one episode: scaled tags, condition rows and the original row labels."""

    y: np.ndarray  # (T, n_obs) float32
    cond: np.ndarray  # (T, n_cond) float32
    time: np.ndarray  # (T,) float64 seconds (timestamps: since the epoch)
    index: pd.Index


def pieces(frame: pd.DataFrame, layout: Layout) -> list[pd.DataFrame]:
    """Episodes of ``frame`` cut at gaps longer than GAP_FACTOR sample periods, in order."""
    out = []
    for _, episode in iter_episodes(frame):
        dt = np.diff(time_seconds(episode)) if TIME in episode.columns else np.ones(len(episode) - 1)
        cuts = np.flatnonzero(dt > GAP_FACTOR * layout.sample_period) + 1
        out += [episode.iloc[a:b] for a, b in zip([0, *cuts], [*cuts, len(episode)], strict=True)]
    return out


def stretch(piece: pd.DataFrame, layout: Layout, tags: Scaler, inputs: Scaler) -> Stretch:
    y = tags(piece[list(layout.predicted)].to_numpy(dtype=float))
    time = time_seconds(piece) if TIME in piece.columns else np.arange(len(piece)) * layout.sample_period
    return Stretch(y, conditions(piece, layout, inputs), time, piece.index)


def check_sample_period(frame: pd.DataFrame, layout: Layout, source: str) -> None:
    steps = np.concatenate([np.diff(time_seconds(ep)) for _, ep in iter_episodes(frame)] or [np.zeros(0)])
    if len(steps) == 0:
        return
    median = float(np.median(steps))
    if abs(median - layout.sample_period) > 0.05 * layout.sample_period:
        raise DataError(
            f"{source}: rows are {median:g} s apart (median) but the spec's sample_period is "
            f"{layout.sample_period:g} s; resample the data to the spec's period or fix sample_period"
        )


def fingerprint(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """SHA-256 over the columns a model was trained on (names, values, episode ids): the data's identity."""
    digest = hashlib.sha256()
    for name in [EPISODE, TIME, *columns]:
        if name in frame.columns:
            digest.update(name.encode())
            values = frame[name]
            digest.update(
                values.to_numpy(dtype=float).tobytes()
                if pd.api.types.is_numeric_dtype(values)
                else "\x1f".join(map(str, values)).encode()
            )
    return digest.hexdigest()


class Windows:
    """Fixed-length windows (length ``length`` rows) from stretches, never crossing a stretch's end."""

    def __init__(self, stretches: Sequence[Stretch], length: int) -> None:
        self.length = length
        self.y = torch.from_numpy(np.concatenate([s.y for s in stretches]))  # (T_all, n_obs)
        self.cond = torch.from_numpy(np.concatenate([s.cond for s in stretches]))  # (T_all, n_cond)
        self.time = np.concatenate([s.time for s in stretches])  # (T_all,)
        offsets = np.cumsum([0] + [len(s.y) for s in stretches])
        self.starts = np.concatenate(
            [np.arange(a, b - length + 1) for a, b in itertools.pairwise(offsets)]
        ).astype(np.int64)

    def __len__(self) -> int:
        return len(self.starts)

    def take(self, starts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        rows = torch.from_numpy(starts[:, None] + np.arange(self.length))  # (B, N)
        return self.y[rows], self.cond[rows]  # (B, N, n_obs), (B, N, n_cond)

    def sample(self, rng: np.random.Generator, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.take(rng.choice(self.starts, size=batch))

    def spread(self, count: int) -> np.ndarray:
        """Up to ``count`` window starts evenly spread over all windows (deterministic)."""
        if len(self.starts) <= count:
            return self.starts
        return self.starts[np.linspace(0, len(self.starts) - 1, count).round().astype(np.int64)]


@dataclass(frozen=True)
class Split:
    """Row pieces for fitting (train), model selection (val) and conformal calibration (cal)."""

    train: list[pd.DataFrame]
    val: list[pd.DataFrame]
    cal: list[pd.DataFrame]


def split(
    parts: Sequence[pd.DataFrame],
    rng: np.random.Generator,
    *,
    train_rows: int,
    hold_rows: int,
    val: float = 0.1,
    cal: float = 0.2,
) -> Split:
    """Hold out ``val`` and ``cal`` of the rows, in blocks of ``2 * hold_rows`` rows drawn from all pieces.

    Blocks rather than whole episodes or the last stretch of the log: many independent blocks make the
    calibration representative of the whole record (a few held-out episodes can be unusually easy or
    hard); calibration gets the larger share because band quantiles need the most samples.
    Neighbouring blocks with the same role are joined again, so training windows cross them.
    ``train_rows`` and ``hold_rows`` are the rows of one training and one held-out window.
    """
    blocks = [(i, a) for i, p in enumerate(parts) for a in range(0, len(p), 2 * hold_rows)]
    total = sum(len(p) for p in parts)
    role = {block: "train" for block in blocks}
    held, share = {"cal": 0, "val": 0}, {"cal": cal, "val": val}
    for k in rng.permutation(len(blocks)):
        i, a = blocks[k]
        size = len(parts[i].iloc[a : a + 2 * hold_rows])
        open_roles = [r for r in ("cal", "val") if held[r] < share[r] * total]
        if not open_roles:
            break
        if size >= hold_rows:
            role[blocks[k]] = open_roles[0]
            held[open_roles[0]] += size
    out: dict[str, list[pd.DataFrame]] = {"train": [], "val": [], "cal": []}
    for i, piece in enumerate(parts):
        starts = [a for j, a in blocks if j == i]
        runs = [(starts[0], role[(i, starts[0])])]
        for a in starts[1:]:
            if role[(i, a)] != runs[-1][1]:
                runs.append((a, role[(i, a)]))
        for (a, name), b in zip(runs, [r[0] for r in runs[1:]] + [len(piece)], strict=True):
            out[name].append(piece.iloc[a:b])
    if not out["val"] or not out["cal"] or not any(len(p) >= train_rows for p in out["train"]):
        longest = max((len(p) for p in parts), default=0)
        raise DataError(
            f"too few rows to train and calibrate: {total} rows in {len(parts)} gap-free piece(s), "
            f"the longest {longest}; the model needs {train_rows} rows per training window and "
            f"{hold_rows} per held-out window, with {val:.0%} and {cal:.0%} of the rows held out "
            f"(at least ~{int((train_rows + 4 * hold_rows) / (1 - val - cal))} rows). "
            "Record more data, or lower model.rollout_steps / the calibration horizon"
        )
    return Split(out["train"], out["val"], out["cal"])
