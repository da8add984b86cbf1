"""Samples as they arrive from a plant, and the sink protocol that live sources write into.

Live sources (OPC UA, MQTT, Sparkplug) and file imports produce long-format samples — one tag, one
time, one value — because plant signals arrive at different rates. The store keeps them in that
form and resamples onto the twin's time grid when a trajectory table is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading: ``time`` in seconds since the Unix epoch (UTC), ``value`` in the tag's spec unit."""

    tag: str
    time: float
    value: float
    source: str = ""


@runtime_checkable
class SampleSink(Protocol):
    """Where sources deliver samples. ``write`` returns only once the samples are durably accepted
    (or routed to quarantine); the count returned is how many were acknowledged."""

    def write(self, samples: Sequence[Sample]) -> int: ...

    def flush(self) -> None: ...
