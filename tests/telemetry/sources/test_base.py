"""The shared parts of the live sources: name/value mapping, backoff, the batching ingest pipeline."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence

import pytest

from tests.telemetry.live import MemorySink, wait_for
from worldtwin.errors import DataError
from worldtwin.spec import Twin
from worldtwin.telemetry.samples import Sample
from worldtwin.telemetry.sources import Backoff, Ingest, MemoryQuarantine, Reject, SourceStats, TagMapper
from worldtwin.telemetry.sources.base import password_from_env, raw_text


@pytest.fixture
def mapper(reactor: Twin) -> TagMapper:
    return TagMapper(reactor, "test", SourceStats(), {"TI-101": "T"})


def test_mapping_then_tag_name_resolves(mapper: TagMapper) -> None:
    assert mapper.resolve(["plant/TI-101", "TI-101"]) == "T"
    assert mapper.resolve(["plant/Ca", "Ca"]) == "Ca"
    assert mapper.resolve(["plant/x", "x"]) is None


def test_reading_becomes_a_sample_in_the_tag_unit(mapper: TagMapper) -> None:
    assert mapper.reading(["TI-101"], 10.0, 300) == Sample("T", 10.0, 300.0, "test")
    converted = mapper.reading(["T"], 10.0, 26.85, "degC")
    assert isinstance(converted, Sample) and converted.value == pytest.approx(300.0)
    assert mapper.reading(["Ca"], 1.0, True) == Sample("Ca", 1.0, 1.0, "test")


@pytest.mark.parametrize(
    ("value", "unit", "reason"),
    [
        (math.nan, None, "nan"),
        (math.inf, None, "inf"),
        ("301.5", None, "not_numeric"),
        ({"v": 1}, None, "not_numeric"),
        (None, None, "missing_value"),
        (300.0, "bar", "unit_mismatch"),
        (300.0, "furlongs per fortnight squared", "unit_mismatch"),
    ],
)
def test_bad_values_are_rejected_with_a_reason(
    mapper: TagMapper, value: object, unit: str | None, reason: str
) -> None:
    reject = mapper.reading(["T"], 5.0, value, unit)
    assert isinstance(reject, Reject)
    assert reject.reason == reason
    assert reject.tag == "T" and reject.time == 5.0 and reject.source == "test"
    assert reject.raw  # the bad value is kept


def test_unknown_name_is_rejected_once_then_counted(mapper: TagMapper) -> None:
    first = mapper.reading(["plant/vibration", "vibration"], 1.0, 0.3)
    assert isinstance(first, Reject) and first.reason == "unknown_tag" and first.metric == "plant/vibration"
    assert "further values" in first.detail
    assert mapper.reading(["plant/vibration", "vibration"], 2.0, 0.4) is None
    assert mapper.reading(["plant/vibration", "vibration"], 3.0, 0.5) is None
    assert mapper.stats.unknown_names["plant/vibration"] == 3


def test_raw_text_keeps_binary_as_hex_and_cuts_long_text() -> None:
    assert raw_text(b"\xff\x00") == "ff00"
    assert raw_text("x" * 5000, limit=10).startswith("x" * 10 + "…(+4990")


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.5, 4.0)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next() == 0.5
    with pytest.raises(ValueError, match="initial"):
        Backoff(0, 1)


def test_password_comes_from_the_named_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WT_TEST_PW", "s3cret")
    assert password_from_env("WT_TEST_PW", "src") == "s3cret"
    assert password_from_env(None, "src") is None
    monkeypatch.delenv("WT_TEST_PW")
    with pytest.raises(DataError, match="WT_TEST_PW"):
        password_from_env("WT_TEST_PW", "src")


def _sample(i: int) -> Sample:
    return Sample("T", float(i), 300.0 + i, "test")


def test_ingest_batches_many_emits_into_few_writes_and_loses_nothing() -> None:
    sink = MemorySink()
    ingest = Ingest(sink, max_batch=1000, max_delay=0.05)
    with ingest:
        for i in range(5000):
            ingest.emit([_sample(i)])
    assert [s.time for s in sink.samples] == [float(i) for i in range(5000)]
    assert sink.writes <= 20  # batched, not one write per message
    assert sink.flushes == 1
    status = ingest.status()
    assert status.samples_stored == 5000 and status.unacknowledged == 0 and status.backlog == 0


def test_ingest_writes_a_partial_batch_after_max_delay() -> None:
    sink = MemorySink()
    with Ingest(sink, max_batch=10_000, max_delay=0.05) as ingest:
        ingest.emit([_sample(1)])
        wait_for(lambda: len(sink.samples) == 1, timeout=2, what="the delayed write")


def test_rejects_go_to_the_sinks_quarantine_when_it_has_one() -> None:
    class StoreLike(MemorySink):
        def __init__(self) -> None:
            super().__init__()
            self.quarantined: list[Reject] = []

        def write_rejects(self, rejects: Sequence[Reject]) -> int:
            self.quarantined.extend(rejects)
            return len(rejects)

    store = StoreLike()
    reject = Reject("test", "nan", "value is nan", 1.0, "nan", "T")
    ingest = Ingest(store)
    assert ingest.quarantine is store
    with ingest:
        ingest.emit([], [reject])
    assert store.quarantined == [reject]
    assert ingest.status().rejects_by_reason == {"nan": 1}


def test_rejects_fall_back_to_memory_quarantine() -> None:
    ingest = Ingest(MemorySink())
    assert isinstance(ingest.quarantine, MemoryQuarantine)
    with ingest:
        ingest.emit([], [Reject("test", "not_numeric", "d", 1.0)])
    assert ingest.quarantine.reasons() == {"not_numeric": 1}


def test_a_failing_sink_write_is_retried_with_the_same_batch() -> None:
    class Flaky(MemorySink):
        failures = 2

        def write(self, samples: Sequence[Sample]) -> int:
            if self.failures:
                self.failures -= 1
                raise OSError("disk full")
            return super().write(samples)

    sink = Flaky()
    ingest = Ingest(sink, retry_delay=0.01)
    with ingest:
        ingest.emit([_sample(1), _sample(2)])
    assert [s.time for s in sink.samples] == [1.0, 2.0]
    assert ingest.status().sink_errors == 2
    assert "disk full" in ingest.status().last_error


def test_a_writer_crash_is_raised_by_stop() -> None:
    class Broken(MemorySink):
        def write(self, samples: Sequence[Sample]) -> int:
            raise RuntimeError("bug in the store")

    ingest = Ingest(Broken()).start()
    ingest.emit([_sample(1)])
    with pytest.raises(RuntimeError, match="bug in the store"):
        ingest.stop()


def test_emit_is_safe_from_many_threads() -> None:
    sink = MemorySink()
    with Ingest(sink, max_batch=500) as ingest:
        threads = [
            threading.Thread(target=lambda k=k: [ingest.emit([_sample(k * 1000 + i)]) for i in range(1000)])
            for k in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(sink.samples) == 4000 and len({s.time for s in sink.samples}) == 4000


def test_status_line_shows_rate_lag_rejects_and_errors() -> None:
    sink = MemorySink()
    with Ingest(sink, max_delay=0.01) as ingest:
        for i in range(100):
            ingest.emit([_sample(i)])
            time.sleep(0.001)
        ingest.emit([], [Reject("s", "nan", "d", 1.0)])
        wait_for(lambda: ingest.status().rejects == 1, timeout=2, what="the reject")
        line = ingest.status().line()
    assert "samples/s" in line and "stored 100" in line and "lag" in line
    assert "rejected 1 (nan 1)" in line
