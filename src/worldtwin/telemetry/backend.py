"""The storage protocol behind :class:`~worldtwin.telemetry.store.Store`, and what crosses it.

A backend keeps five tables: ``tags`` (id, name, unit the values are stored in), ``batches`` (one
row per acknowledged write: when, from where, its validation report), ``lineage`` (id, batch, source:
one row per source of a batch), ``samples`` (time, tag_id, value, quality, lineage) and
``quarantine`` (see :data:`~worldtwin.telemetry.batch.QUARANTINE_SCHEMA`, plus ``batch``).
Samples carry one small lineage id rather than a batch and a source column: every column costs
ingest time. Validation, units and resampling live in the store, so a backend only moves columns
in and out.

**Durability contract:** every method that writes has committed durably (the database's
write-ahead log is flushed to disk) before it returns. :meth:`Backend.commit` is one transaction:
after a crash a batch is either all there — samples, quarantined rows and its record — or absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa

SAMPLES_SCHEMA = pa.schema(
    [
        ("time", pa.timestamp("us")),
        ("tag_id", pa.int32()),
        ("value", pa.float64()),
        ("quality", pa.uint8()),
        ("source", pa.int32()),
    ]
)
"""What :meth:`Backend.commit` receives (``time`` is UTC; ``source`` indexes ``BatchRecord.sources``).
:meth:`Backend.read` returns the same columns with ``lineage`` (an id, see :meth:`Backend.lineage`)
in place of ``source``."""


@dataclass(frozen=True)
class StoredTag:
    """A tag as the backend knows it: values are kept in ``unit`` (the spec unit when first stored)."""

    id: int
    name: str
    unit: str


@dataclass(frozen=True)
class BatchRecord:
    """What is recorded with each committed batch."""

    origin: str
    """What wrote it: a file path, ``write`` (live samples), ``append`` (a DataFrame)."""
    report: str
    """The batch's :class:`~worldtwin.telemetry.validate.ValidationReport` as JSON."""
    sources: list[str]
    """Source names; the ``source`` column of the committed samples indexes this list."""


class Backend(Protocol):
    """Storage for one twin's telemetry. See the module docstring for the tables and durability."""

    def get_meta(self) -> dict[str, str]: ...

    def set_meta(self, values: dict[str, str]) -> None: ...

    def tags(self) -> list[StoredTag]: ...

    def add_tags(self, tags: Sequence[tuple[str, str]]) -> None:
        """Register ``(name, unit)`` pairs not yet known."""
        ...

    def last_times(self) -> dict[int, int]:
        """Newest stored time (µs) per tag id."""
        ...

    def stored(self, tag_id: int, start_us: int, end_us: int) -> tuple[np.ndarray, np.ndarray]:
        """Times (µs, sorted) and values stored for ``tag_id`` in [start, end]."""
        ...

    def commit(self, samples: pa.Table, quarantine: pa.Table, record: BatchRecord) -> int:
        """Store a validated batch in one durable transaction; returns the batch id."""
        ...

    def read(self, tag_ids: Sequence[int], start_us: int | None, end_us: int | None) -> pa.Table:
        """Samples of ``tag_ids`` with start <= time < end, in any order (the store sorts them)."""
        ...

    def lineage(self, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
        """Lineage id → (batch id, source name)."""
        ...

    def read_quarantine(self, reason: str | None, batch: int | None, limit: int | None) -> pa.Table: ...

    def batches(self) -> pa.Table:
        """Columns id, committed (UTC), origin, report."""
        ...

    def summary(self) -> pa.Table:
        """Per tag id: samples, flagged (quality != 0), first, last."""
        ...

    def quarantine_count(self) -> int: ...

    def close(self) -> None: ...
