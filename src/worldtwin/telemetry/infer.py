"""Infer a starter twin spec from a dataset: tags, ranges, action bounds and the sample period.

The result is a draft for an engineer to correct (units especially: a CSV does not carry them), but
it validates and is enough to train a first world model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from worldtwin.errors import DataError
from worldtwin.spec.schema import RESERVED_COLUMNS, TAG_NAME_PATTERN, Action, Metadata, Tag, TagKind, Twin
from worldtwin.telemetry.table import EPISODE, TIME, check_table, iter_episodes, time_seconds


def _padded_range(values: np.ndarray, margin: float) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return lo - margin * span, hi + margin * span


def infer_spec(
    frame: pd.DataFrame,
    *,
    obs: Sequence[str] = (),
    act: Sequence[str] = (),
    known: Sequence[str] = (),
    name: str = "inferred",
    units: Mapping[str, str] | None = None,
    margin: float = 0.1,
) -> Twin:
    """A starter spec for ``frame``.

    ``obs``: measured tags (default: every numeric column not named in ``act`` or ``known``);
    ``act``: manipulated tags (bounds are the observed min/max); ``known``: disturbances known ahead.
    Tag ranges are the observed range widened by ``margin`` of its span on each side.
    """
    act, known = list(act), list(known)
    if not obs:
        taken = {*act, *known, *RESERVED_COLUMNS}
        obs = [c for c in frame.columns if c not in taken and pd.api.types.is_numeric_dtype(frame[c])]
    columns = [*obs, *act, *known]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise DataError(
            f"column(s) {duplicated} named in more than one of --obs/--act/--known; name each once"
        )
    if not obs:
        raise DataError("no observation columns: pass --obs a,b,... (the measured tags)")
    for column in columns:
        if column not in frame.columns:
            raise DataError(f"column {column!r} is not in the data; columns are {list(frame.columns)[:20]}")
        if not re.match(TAG_NAME_PATTERN, column) or column in RESERVED_COLUMNS:
            raise DataError(
                f"column {column!r} cannot be a tag name; rename it to letters, digits, '_', '.', "
                f"':' or '-' starting with a letter (and not {'/'.join(RESERVED_COLUMNS)})"
            )
    check_table(frame, columns, source="data")
    units = dict(units or {})
    kinds: dict[str, TagKind] = {c: "observation" for c in obs}
    kinds.update({c: "action" for c in act})
    kinds.update({c: "disturbance" for c in known})
    tags = [
        Tag(
            name=c,
            unit=units.get(c, ""),
            kind=kinds[c],
            range=_padded_range(frame[c].to_numpy(float), margin),
            known_ahead=c in known,
            description="inferred from data; check unit and range",
        )
        for c in columns
    ]
    actions = [Action(tag=c, bounds=_padded_range(frame[c].to_numpy(float), 0.0)) for c in act]
    return Twin(
        metadata=Metadata(name=name, description="Starter spec inferred by 'worldtwin spec infer'."),
        sample_period=_sample_period(frame),
        tags=tags,
        actions=actions,
    )


def _sample_period(frame: pd.DataFrame) -> float:
    steps = [np.diff(time_seconds(part)) for _, part in iter_episodes(frame) if len(part) > 1]
    if not steps:
        raise DataError(
            f"cannot infer the sample period from one row; the data needs '{TIME}' "
            f"increasing over at least two rows (per '{EPISODE}' when present)"
        )
    return float(np.median(np.concatenate(steps)))
