"""Columnar samples on their way into the store, and the rows set aside for the quarantine table.

Every input path — a historian file, a DataFrame, a list of live :class:`Sample` objects — becomes one
:class:`SampleBatch` before validation, so files and live sources are checked by the same code.

Times are integer **microseconds since the Unix epoch, UTC** (``int64``): exact, sortable, and what
both DuckDB ``TIMESTAMP`` and PostgreSQL ``timestamptz`` hold internally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from worldtwin.telemetry.samples import Sample

US_PER_S = 1_000_000
NO_TIME = np.iinfo(np.int64).min
"""Stands for a time that is not a usable number (NaN, ±Inf, beyond year 5000) in a batch of live samples."""
MAX_SECONDS = 1e11

QUARANTINE_SCHEMA = pa.schema(
    [
        ("row", pa.int64()),
        ("time", pa.timestamp("us")),
        ("tag", pa.string()),
        ("value", pa.float64()),
        ("raw", pa.string()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("source", pa.string()),
    ]
)
"""Columns of a quarantined row: where it came from (``row``: 1-based data row of the input, ``source``),
what it held (``time`` UTC, ``tag`` as written in the input, ``value``, ``raw`` text of an unreadable
cell), and why it was set aside (``reason``: an :class:`~worldtwin.telemetry.validate.Issue`, ``detail``)."""


@dataclass
class SampleBatch:
    """Long-format samples as parallel arrays. ``tag`` and ``source`` are codes into the name lists."""

    time: np.ndarray
    """int64 µs since the epoch, UTC."""
    tag: np.ndarray
    """int32 index into ``tag_names``."""
    tag_names: list[str]
    value: np.ndarray
    """float64, in the tag's spec unit once the importer has converted it."""
    row: np.ndarray
    """int64, 1-based position of the sample's row in the input (for quarantine messages)."""
    source: np.ndarray
    """int32 index into ``source_names``."""
    source_names: list[str] = field(default_factory=lambda: [""])

    def __len__(self) -> int:
        return len(self.time)

    def take(self, index: np.ndarray) -> SampleBatch:
        """The samples at ``index`` (a boolean mask or integer positions)."""
        return SampleBatch(
            self.time[index],
            self.tag[index],
            self.tag_names,
            self.value[index],
            self.row[index],
            self.source[index],
            self.source_names,
        )

    @classmethod
    def empty(cls) -> SampleBatch:
        return cls(
            np.empty(0, np.int64),
            np.empty(0, np.int32),
            [],
            np.empty(0, float),
            np.empty(0, np.int64),
            np.empty(0, np.int32),
        )

    @classmethod
    def from_samples(cls, samples: Sequence[Sample]) -> SampleBatch:
        """Columnar form of live samples (``Sample.time``: float seconds since the epoch, UTC)."""
        tag_codes: dict[str, int] = {}
        source_codes: dict[str, int] = {}
        n = len(samples)
        time = np.empty(n, np.float64)
        value = np.empty(n, np.float64)
        tag = np.empty(n, np.int32)
        source = np.empty(n, np.int32)
        for i, sample in enumerate(samples):
            time[i] = sample.time
            value[i] = sample.value
            tag[i] = tag_codes.setdefault(sample.tag, len(tag_codes))
            source[i] = source_codes.setdefault(sample.source, len(source_codes))
        usable = np.isfinite(time) & (np.abs(time) < MAX_SECONDS)
        return cls(
            np.where(usable, seconds_to_us(np.where(usable, time, 0.0)), NO_TIME),
            tag,
            list(tag_codes),
            value,
            np.arange(1, n + 1, dtype=np.int64),
            source,
            list(source_codes) or [""],
        )


def seconds_to_us(seconds: np.ndarray) -> np.ndarray:
    """Float seconds → int64 µs, rounded to the nearest µs (mask non-finite input first)."""
    with np.errstate(invalid="ignore"):
        return np.rint(np.asarray(seconds, dtype=np.float64) * US_PER_S).astype(np.int64)


class Rejects:
    """Collects quarantined rows (columnar, so a whole unknown column is cheap to set aside)."""

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(len(part["row"]) for part in self._parts)

    def add(
        self,
        reason: str,
        *,
        row: np.ndarray,
        tag: np.ndarray | str,
        time: np.ndarray | None = None,
        value: np.ndarray | None = None,
        raw: np.ndarray | None = None,
        detail: np.ndarray | str = "",
        source: np.ndarray | str = "",
    ) -> None:
        """Quarantine ``len(row)`` rows; scalars are broadcast. ``time`` is µs (None: unreadable)."""
        n = len(row)
        if n == 0:
            return

        def column(data: object) -> np.ndarray:
            if isinstance(data, np.ndarray):
                return data.astype(object)
            return np.full(n, data, dtype=object)

        self._parts.append(
            {
                "row": np.asarray(row, dtype=np.int64),
                "time": column(time),
                "tag": column(tag),
                "value": column(value),
                "raw": column(raw),
                "reason": column(reason),
                "detail": column(detail),
                "source": column(source),
            }
        )

    def add_batch(
        self, batch: SampleBatch, mask: np.ndarray, reason: str, detail: np.ndarray | str = ""
    ) -> None:
        """Quarantine the samples of ``batch`` selected by ``mask``."""
        if not mask.any():
            return
        names = np.asarray([*batch.tag_names, ""], dtype=object)
        sources = np.asarray(batch.source_names, dtype=object)
        self.add(
            reason,
            row=batch.row[mask],
            tag=names[batch.tag[mask]],
            time=batch.time[mask],
            value=batch.value[mask],
            detail=detail,
            source=sources[batch.source[mask]],
        )

    def counts(self) -> dict[tuple[str, str], int]:
        """Quarantined rows per (tag, reason)."""
        out: dict[tuple[str, str], int] = {}
        for part in self._parts:
            keys, counts = np.unique(
                np.stack([part["tag"].astype(str), part["reason"].astype(str)]), axis=1, return_counts=True
            )
            for (tag, reason), count in zip(keys.T, counts, strict=True):
                out[(str(tag), str(reason))] = out.get((str(tag), str(reason)), 0) + int(count)
        return out

    def to_arrow(self) -> pa.Table:
        """The rows in :data:`QUARANTINE_SCHEMA` order and types."""
        if not self._parts:
            return QUARANTINE_SCHEMA.empty_table()
        columns = {
            name: np.concatenate([part[name] for part in self._parts]) for name in QUARANTINE_SCHEMA.names
        }
        arrays = []
        for name, kind in zip(QUARANTINE_SCHEMA.names, QUARANTINE_SCHEMA.types, strict=True):
            data = columns[name]
            if name == "time":
                arrays.append(pa.array([None if t is None else int(t) for t in data], pa.int64()).cast(kind))
            elif name == "value":
                arrays.append(pa.array([None if v is None else float(v) for v in data], kind))
            elif name == "row":
                arrays.append(pa.array(data, kind))
            else:
                arrays.append(pa.array([None if s is None else str(s) for s in data], kind))
        return pa.Table.from_arrays(arrays, schema=QUARANTINE_SCHEMA)
