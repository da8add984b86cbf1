"""Sensor faults injected into trajectory tables, to measure how well surprise scores detect them.

Four kinds, each confined to ``length`` rows starting at row position ``start`` of one tag. Sizes
are in units of the tag's **scale** — its standard deviation over clean data (:func:`tag_scales`) —
so one magnitude means the same on every plant:

===========  ==========================================================  ==================
kind         what the sensor reports during the fault                     default magnitude
===========  ==========================================================  ==================
``stuck``    the last reading before the fault, frozen (no noise)          — (none needed)
``drift``    truth + a ramp growing linearly to ``magnitude × scale``       1.0 × std at end
``spike``    truth, with ``± magnitude × scale`` on every 5th row           1.0 × std
``bias``     truth + ``magnitude × scale``                                  0.5 × std
===========  ==========================================================  ==================

Spikes take a random sign each (from the ``rng`` passed in).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd

from worldtwin.errors import DataError

FaultKind = Literal["stuck", "drift", "spike", "bias"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
DEFAULT_MAGNITUDE: dict[str, float] = {"stuck": 0.0, "drift": 1.0, "spike": 1.0, "bias": 0.5}
SPIKE_PERIOD = 5


@dataclass(frozen=True)
class Fault:
    """One fault: ``kind`` on ``tag`` for rows ``start … start+length-1`` (positions), sized ``magnitude``."""

    kind: str
    tag: str
    start: int
    length: int
    magnitude: float | None = None

    @property
    def size(self) -> float:
        return DEFAULT_MAGNITUDE[self.kind] if self.magnitude is None else self.magnitude


def tag_scales(frame: pd.DataFrame, tags: Sequence[str]) -> dict[str, float]:
    """The standard deviation of each tag over (clean) data: the unit of fault magnitudes."""
    return {tag: float(frame[tag].std()) or 1.0 for tag in tags}


def inject(
    frame: pd.DataFrame, fault: Fault, scales: Mapping[str, float], rng: np.random.Generator
) -> pd.DataFrame:
    """A copy of ``frame`` with ``fault`` applied to its tag column (other columns untouched)."""
    if fault.kind not in FAULT_KINDS:
        raise DataError(f"unknown fault kind {fault.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    if fault.tag not in frame.columns:
        raise DataError(
            f"fault on tag {fault.tag!r}, which is not a column; columns are {list(frame.columns)}"
        )
    if fault.length < 1 or fault.start < 0 or fault.start + fault.length > len(frame):
        raise DataError(
            f"fault rows {fault.start}…{fault.start + fault.length - 1} lie outside the {len(frame)} rows"
        )
    if fault.kind == "stuck" and fault.start == 0:
        raise DataError("a stuck-at fault holds the reading before it, so it cannot start at row 0")
    out = frame.copy()
    column = out.columns.get_loc(fault.tag)
    values = out.iloc[:, column].to_numpy(dtype=np.float64, copy=True)
    rows = slice(fault.start, fault.start + fault.length)
    amount = fault.size * scales[fault.tag]
    if fault.kind == "stuck":
        values[rows] = values[fault.start - 1]
    elif fault.kind == "drift":
        values[rows] += amount * np.arange(1, fault.length + 1) / fault.length
    elif fault.kind == "bias":
        values[rows] += amount
    else:  # spike
        hits = np.arange(fault.start, fault.start + fault.length, SPIKE_PERIOD)
        values[hits] += amount * rng.choice([-1.0, 1.0], size=len(hits))
    out.iloc[:, column] = values
    return out
