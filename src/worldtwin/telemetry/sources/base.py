"""The live-source contract and the ingest pipeline every live source feeds.

A live source (an OPC UA subscription, an MQTT topic with JSON or Sparkplug B payloads) turns what
arrives on the wire into :class:`~worldtwin.telemetry.samples.Sample` records — good readings — and
:class:`Reject` records — everything that could not become a reading, with the reason — and hands
both to :meth:`Ingest.emit`. Sources run on their own threads (the paho network thread, an asyncio
loop for OPC UA) and never touch the store themselves.

:class:`Ingest` is the receive path: ``emit`` only appends to a lock-free queue; one writer thread
drains the queue and writes *batches* to the :class:`~worldtwin.telemetry.samples.SampleSink` (by
size or after ``max_delay`` seconds, whichever comes first), so the store sees a few large writes
instead of one write per message. Rejects go to the sink's ``write_rejects`` when it has one (see
:class:`RejectSink`), otherwise to an in-memory :class:`MemoryQuarantine`. Nothing is dropped
without being counted: every message, sample, reject, sink write and reconnect shows in
:meth:`Ingest.status`.

:class:`TagMapper` is the one place where a name from the wire becomes a spec tag and a value
becomes a float in the tag's unit; every source uses it, so every source rejects the same things for
the same reasons (:data:`REJECT_REASONS`).
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, cast, runtime_checkable

from worldtwin.errors import DataError, WorldtwinError
from worldtwin.spec.schema import Twin
from worldtwin.spec.units import UnitParseError, convert, parse_unit
from worldtwin.telemetry.samples import Sample, SampleSink

RejectReason = Literal[
    "malformed_payload",
    "unknown_tag",
    "not_numeric",
    "nan",
    "inf",
    "missing_value",
    "unit_mismatch",
    "bad_time",
    "bad_quality",
    "sparkplug_no_birth",
    "sparkplug_unknown_alias",
    "sparkplug_seq",
    "sparkplug_awaiting_rebirth",
]

REJECT_REASONS: dict[str, str] = {
    "malformed_payload": "the payload is not valid JSON / Sparkplug protobuf, or has an unknown shape",
    "unknown_tag": "the metric maps to no tag of the twin (first value per name kept, the rest counted)",
    "not_numeric": "the value is a string, object, array or a not_numeric Sparkplug/OPC UA type",
    "nan": "the value is NaN",
    "inf": "the value is ±Infinity",
    "missing_value": "the value is null (JSON null, Sparkplug is_null)",
    "unit_mismatch": "the declared unit cannot be converted to the tag's unit (or is not a unit at all)",
    "bad_time": "the timestamp is unreadable, lacks a timezone, or looks like milliseconds",
    "bad_quality": "the OPC UA status code of the reading is not Good",
    "sparkplug_no_birth": "NDATA/DDATA from a node or device whose BIRTH was not seen; rebirth requested",
    "sparkplug_unknown_alias": "a metric alias that the BIRTH did not declare; rebirth requested",
    "sparkplug_seq": "the message's seq is not the previous seq + 1 (mod 256); rebirth requested",
    "sparkplug_awaiting_rebirth": "data from a node whose rebirth is pending",
}

RAW_LIMIT = 4096
"""Longest raw payload excerpt kept in a reject (characters)."""


@dataclass(frozen=True, slots=True)
class Reject:
    """Input that could not become a sample, kept so that nothing is silently lost.

    ``raw`` is the offending value or payload as text (binary payloads as hex), cut at
    :data:`RAW_LIMIT` characters; ``tag`` is set when the input could be tied to a tag.
    """

    source: str
    reason: RejectReason
    detail: str
    time: float
    raw: str = ""
    tag: str | None = None
    metric: str | None = None


@runtime_checkable
class RejectSink(Protocol):
    """Where rejects are kept. A store implements it next to ``SampleSink.write``; like ``write`` it returns
    once the rejects are durable, with how many were kept."""

    def write_rejects(self, rejects: Sequence[Reject]) -> int: ...


class MemoryQuarantine:
    """Keeps rejects in a list; the fallback when the sample sink has no quarantine of its own."""

    def __init__(self) -> None:
        self.rejects: list[Reject] = []
        self._lock = threading.Lock()

    def write_rejects(self, rejects: Sequence[Reject]) -> int:
        with self._lock:
            self.rejects.extend(rejects)
        return len(rejects)

    def reasons(self) -> Counter[str]:
        with self._lock:
            return Counter(r.reason for r in self.rejects)


def raw_text(payload: bytes | str, limit: int = RAW_LIMIT) -> str:
    """A payload as text for a reject: UTF-8 when it decodes, else hex; cut at ``limit`` characters."""
    if isinstance(payload, bytes):
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            text = payload.hex()
    else:
        text = payload
    return text if len(text) <= limit else text[:limit] + f"…(+{len(text) - limit} chars)"


# --- the source side -------------------------------------------------------------------------------


class Emitter(Protocol):
    """What a source delivers into (implemented by :class:`Ingest`). Must be safe to call from any thread."""

    def emit(self, samples: Sequence[Sample], rejects: Sequence[Reject] = ()) -> None: ...


@dataclass
class SourceStats:
    """Counters a source keeps about itself; read by the status line."""

    messages: int = 0
    last_message: float = 0.0
    """Wall-clock time (epoch s) the last message arrived."""
    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    errors: int = 0
    last_error: str = ""
    rebirth_requests: int = 0
    unknown_names: Counter[str] = field(default_factory=Counter)

    def error(self, message: str) -> None:
        self.errors += 1
        self.last_error = message


@runtime_checkable
class Source(Protocol):
    """A live feed of plant readings. ``start`` returns at once; the source then runs on its own thread,
    reconnecting with backoff, until ``stop``."""

    name: str
    stats: SourceStats

    def start(self, out: Emitter) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...


class Backoff:
    """Exponential reconnect delays: ``initial``, ×``factor`` after each failure, capped at ``maximum``."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, factor: float = 2.0) -> None:
        if not 0 < initial <= maximum or factor < 1:
            raise ValueError(
                f"backoff needs 0 < initial <= maximum and factor >= 1, got {initial}, {maximum}, {factor}"
            )
        self.initial, self.maximum, self.factor = initial, maximum, factor
        self._next = initial

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * self.factor, self.maximum)
        return delay

    def reset(self) -> None:
        self._next = self.initial


def is_loopback(host: str) -> bool:
    """True for addresses that never leave this machine."""
    return host in ("localhost", "::1") or host.startswith("127.")


def password_from_env(variable: str | None, source: str) -> str | None:
    """The password a spec refers to by environment-variable name (specs never hold secrets)."""
    if variable is None:
        return None
    password = os.environ.get(variable)
    if password is None:
        raise DataError(
            f"environment variable {variable!r} (password_env of source {source}) is not set; "
            "export it before starting the ingest"
        )
    return password


# --- names and values: wire → tag ------------------------------------------------------------------


class TagMapper:
    """Resolves wire names to spec tags and turns wire values into floats in the tag's unit.

    ``mapping`` (from the spec's source entry) maps wire names to tags; a wire name that equals a tag
    name maps to it without an entry. Callers pass candidate names from most to least specific (e.g.
    the full topic, then its last level); the first that resolves wins. Each name that resolves to no
    tag is rejected once with reason ``unknown_tag`` and counted afterwards in ``stats.unknown_names``,
    so a chatty topic with many metrics the twin does not use cannot flood the quarantine.
    """

    def __init__(
        self, twin: Twin, source: str, stats: SourceStats, mapping: Mapping[str, str] | None = None
    ) -> None:
        self.twin = twin
        self.source = source
        self.stats = stats
        self.mapping = dict(mapping or {})
        self._tags = {t.name: t.unit for t in twin.tags}
        self._unit_cache: dict[tuple[str, str], Callable[[float], float] | str] = {}

    def resolve(self, candidates: Iterable[str]) -> str | None:
        for name in candidates:
            tag = self.mapping.get(name)
            if tag is not None:
                return tag
            if name in self._tags:
                return name
        return None

    def reading(
        self,
        candidates: Sequence[str],
        time_s: float,
        value: object,
        unit: str | None = None,
    ) -> Sample | Reject | None:
        """A sample, a reject, or ``None`` for a repeat value of an already reported unknown name."""
        tag = self.resolve(candidates)
        name = candidates[0] if candidates else "?"
        if tag is None:
            self.stats.unknown_names[name] += 1
            if self.stats.unknown_names[name] > 1:
                return None
            return self._reject(
                "unknown_tag",
                f"{name!r} maps to no tag of twin '{self.twin.name}'; add it to "
                f"the source's mapping or narrow the subscription (further values are counted, "
                f"not stored)",
                time_s,
                value,
                None,
                name,
            )
        number = _as_number(value)
        if isinstance(number, str):
            reason: RejectReason = "missing_value" if value is None else "not_numeric"
            return self._reject(reason, f"value of {tag!r} {number}", time_s, value, tag, name)
        if not math.isfinite(number):
            return self._reject(
                "nan" if math.isnan(number) else "inf",
                f"value of {tag!r} is {number}; send finite numbers",
                time_s,
                value,
                tag,
                name,
            )
        if unit is not None:
            converted = self._convert(tag, unit, number)
            if isinstance(converted, str):
                return self._reject("unit_mismatch", converted, time_s, f"{value} {unit}", tag, name)
            number = converted
        return Sample(tag, time_s, number, self.source)

    def reject(
        self, reason: RejectReason, detail: str, time_s: float, raw: object = "", metric: str | None = None
    ) -> Reject:
        """A reject from this source (for problems found before a value reaches :meth:`reading`)."""
        return self._reject(reason, detail, time_s, raw, None, metric)

    def _reject(
        self,
        reason: RejectReason,
        detail: str,
        time_s: float,
        raw: object,
        tag: str | None,
        metric: str | None,
    ) -> Reject:
        text = raw if isinstance(raw, str | bytes) else repr(raw)
        return Reject(self.source, reason, detail, time_s, raw_text(text), tag, metric)

    def _convert(self, tag: str, unit: str, value: float) -> float | str:
        """``value`` from ``unit`` into the tag's unit, or the reason it cannot be converted."""
        key = (tag, unit)
        how = self._unit_cache.get(key)
        if how is None:
            how = self._converter(tag, unit)
            self._unit_cache[key] = how
        return how if isinstance(how, str) else how(value)

    def _converter(self, tag: str, unit: str) -> Callable[[float], float] | str:
        target = self._tags[tag]
        try:
            if parse_unit(unit).dimensionality != parse_unit(target).dimensionality:
                return (
                    f"unit {unit!r} of {tag!r} cannot be converted to the tag's unit {target!r}; "
                    "fix the unit at the sender or map the value to another tag"
                )
        except UnitParseError:
            return (
                f"unit {unit!r} of {tag!r} is not a unit pint understands; "
                f"expected {target!r} or a compatible unit"
            )
        if parse_unit(unit) == parse_unit(target):
            return lambda v: v
        return lambda v: float(convert(v, unit, target))


def _as_number(value: object) -> float | str:
    """A float, or a description of why ``value`` is not a number."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return f"is an integer too large for a float ({raw_text(str(value), 40)})"
    if value is None:
        return "is null"
    return f"is {type(value).__name__} {raw_text(repr(value), 80)}, not a number"


# --- the receive path ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestStatus:
    """A snapshot of the pipeline for the status line (rates over the last ``window`` seconds)."""

    samples_stored: int
    rejects: int
    rejects_by_reason: dict[str, int]
    messages: int
    rate: float
    """Samples acknowledged by the sink per second, recent window."""
    backlog: int
    """Emitted items waiting in the queue."""
    lag: float
    """Seconds from receipt to sink acknowledgement, last batch."""
    sink_errors: int
    last_error: str
    sources: dict[str, SourceStats]
    unacknowledged: int

    def line(self) -> str:
        """One line for a terminal: rate, lag, backlog, rejects, errors, source state."""
        parts = [
            f"{self.rate:,.0f} samples/s",
            f"stored {self.samples_stored:,}",
            f"lag {self.lag * 1000:.0f} ms",
            f"backlog {self.backlog:,}",
        ]
        if self.rejects:
            top = ", ".join(
                f"{k} {v}" for k, v in sorted(self.rejects_by_reason.items(), key=lambda kv: -kv[1])[:3]
            )
            parts.append(f"rejected {self.rejects:,} ({top})")
        errors = self.sink_errors + sum(s.errors for s in self.sources.values())
        if errors:
            parts.append(f"errors {errors}")
        state = " ".join(f"{name}:{'up' if s.connected else 'DOWN'}" for name, s in self.sources.items())
        return " · ".join([*parts, state])


_STOP = object()
_Batch = tuple[Sequence[Sample], Sequence[Reject], float]


class Ingest:
    """Batches what sources emit into a sample sink on one writer thread (see module docstring).

    Use as a context manager, or ``start()`` / ``stop()``. ``stop`` stops the sources, drains the
    queue, writes and flushes everything left, and re-raises a writer failure if there was one.
    """

    def __init__(
        self,
        sink: SampleSink,
        quarantine: RejectSink | None = None,
        *,
        max_batch: int = 20_000,
        max_delay: float = 0.2,
        retry_delay: float = 1.0,
        rate_window: float = 5.0,
        poll: float = 0.01,
    ) -> None:
        if quarantine is None:
            quarantine = sink if isinstance(sink, RejectSink) else MemoryQuarantine()
        self.sink = sink
        self.quarantine = quarantine
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.retry_delay = retry_delay
        self.rate_window = rate_window
        self.poll = poll
        self.sources: list[Source] = []
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._queued = 0  # items put minus items taken; only approximate across threads, for the status line
        self._taken = 0
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._stored = 0
        self._rejected: Counter[str] = Counter()
        self._unacknowledged = 0
        self._sink_errors = 0
        self._last_error = ""
        self._lag = 0.0
        self._history: deque[tuple[float, int]] = deque(maxlen=256)
        self._lock = threading.Lock()

    # Emitter
    def emit(self, samples: Sequence[Sample], rejects: Sequence[Reject] = ()) -> None:
        self._queued += 1
        self._queue.put((samples, rejects, time.monotonic()))

    def add(self, source: Source) -> Source:
        self.sources.append(source)
        if self._thread is not None:
            source.start(self)
        return source

    def start(self) -> Ingest:
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._write_loop, name="worldtwin-ingest-writer", daemon=True)
        self._thread.start()
        for source in self.sources:
            source.start(self)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        for source in self.sources:
            source.stop()
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise DataError(
                    f"the ingest writer did not finish within {timeout} s; "
                    f"{self._queued - self._taken} batches were still queued"
                )
            self._thread = None
        if self._failure is not None:
            raise self._failure

    def __enter__(self) -> Ingest:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def status(self) -> IngestStatus:
        with self._lock:
            history = list(self._history)
            stored, rejected = self._stored, dict(self._rejected)
        now = time.monotonic()
        base = next(
            (h for h in reversed(history) if h[0] <= now - self.rate_window), history[0] if history else None
        )
        rate = (stored - base[1]) / (now - base[0]) if base is not None and now > base[0] else 0.0
        return IngestStatus(
            samples_stored=stored,
            rejects=sum(rejected.values()),
            rejects_by_reason=rejected,
            messages=sum(s.stats.messages for s in self.sources),
            rate=rate,
            backlog=max(self._queued - self._taken, 0),
            lag=self._lag,
            sink_errors=self._sink_errors,
            last_error=self._last_error,
            sources={s.name: s.stats for s in self.sources},
            unacknowledged=self._unacknowledged,
        )

    # writer thread
    def _write_loop(self) -> None:
        """Block for the first item of a batch, then collect by polling every ``poll`` seconds until the
        batch is ``max_delay`` old or ``max_batch`` big. Polling instead of waking on every ``emit``
        keeps the writer from taking the GIL once per message at high rates."""
        stopping = False
        try:
            while not stopping:
                first = self._queue.get()
                samples: list[Sample] = []
                rejects: list[Reject] = []
                oldest = time.monotonic()
                item: object = first
                while True:
                    while item is not None:
                        if item is _STOP:
                            stopping = True
                            break
                        self._taken += 1
                        batch_samples, batch_rejects, received = cast(_Batch, item)
                        samples.extend(batch_samples)
                        rejects.extend(batch_rejects)
                        oldest = min(oldest, received)
                        if len(samples) >= self.max_batch:
                            break
                        try:
                            item = self._queue.get_nowait()
                        except queue.Empty:
                            item = None
                    left = oldest + self.max_delay - time.monotonic()
                    if stopping or left <= 0 or len(samples) >= self.max_batch:
                        break
                    time.sleep(min(self.poll, left))
                    item = None
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        continue
                if samples or rejects:
                    self._write(samples, rejects, oldest)
            self.sink.flush()
        except (
            BaseException
        ) as exc:  # the writer must never die unnoticed: status shows it, stop() re-raises it
            self._failure = exc
            self._sink_errors += 1
            self._last_error = f"the ingest writer stopped: {exc!r}; nothing more is stored"

    def _write(self, samples: list[Sample], rejects: list[Reject], oldest: float) -> None:
        acked = self._retrying(lambda: self.sink.write(samples)) if samples else 0
        if rejects:
            self._retrying(lambda: self.quarantine.write_rejects(rejects))
        now = time.monotonic()
        with self._lock:
            self._stored += acked
            self._unacknowledged += len(samples) - acked
            for reject in rejects:
                self._rejected[reject.reason] += 1
            self._history.append((now, self._stored))
        self._lag = now - oldest

    def _retrying(self, write: Callable[[], int]) -> int:
        """Run a sink write until it succeeds; a full disk or a locked store keeps the batch, not loses it."""
        while True:
            try:
                return write()
            except (WorldtwinError, OSError) as exc:
                self._sink_errors += 1
                self._last_error = f"sink write failed ({exc}); retrying in {self.retry_delay} s"
                time.sleep(self.retry_delay)
