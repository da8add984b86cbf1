"""Validation: every sample is stored, flagged or quarantined, and the report counts each issue."""

from __future__ import annotations

import numpy as np
import pytest

from worldtwin.telemetry.batch import US_PER_S, Rejects, SampleBatch
from worldtwin.telemetry.validate import (
    QUALITY_OUT_OF_RANGE,
    Issue,
    TagRule,
    ValidationPolicy,
    ValidationReport,
    validate,
)

RULES = {"a": TagRule(1, 0.0, 10.0, US_PER_S), "b": TagRule(2, period_us=US_PER_S)}


def batch(tags: list[str], seconds: list[float], values: list[float]) -> SampleBatch:
    names = sorted(set(tags))
    return SampleBatch(
        (np.asarray(seconds) * US_PER_S).astype(np.int64),
        np.asarray([names.index(t) for t in tags], np.int32),
        names,
        np.asarray(values, float),
        np.arange(1, len(tags) + 1),
        np.zeros(len(tags), np.int32),
        ["test"],
    )


def no_stored(tag_id: int, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
    raise AssertionError("nothing is stored: lookup must not be asked")


def run(
    data: SampleBatch,
    policy: ValidationPolicy | None = None,
    last_time: dict[int, int] | None = None,
    lookup=no_stored,
) -> tuple[ValidationReport, Rejects, object]:  # type: ignore[no-untyped-def]
    rejects, report = Rejects(), ValidationReport(received=len(data))
    accepted = validate(
        data, RULES, policy or ValidationPolicy(), rejects, report, last_time=last_time or {}, lookup=lookup
    )
    report.add_rejects(rejects)
    return report, rejects, accepted


def test_each_problem_is_quarantined_with_its_reason() -> None:
    data = batch(["a", "a", "a", "zz", "b", "b"], [0, 1, 2, 3, 4, 4], [1.0, np.nan, np.inf, 1.0, 5.0, 6.0])
    report, rejects, accepted = run(data)
    table = rejects.to_arrow().to_pylist()
    assert [(r["row"], r["reason"]) for r in table] == [
        (4, "unknown_tag"),
        (2, "nan"),
        (3, "inf"),
        (6, "duplicate"),
    ]
    assert table[-1]["detail"] == "repeated within this input" and table[0]["tag"] == "zz"
    assert report.counts == {"zz": {"unknown_tag": 1}, "a": {"nan": 1, "inf": 1}, "b": {"duplicate": 1}}
    assert (report.stored, report.quarantined) == (2, 4)
    assert accepted.tag_id.tolist() == [1, 2] and accepted.value.tolist() == [1.0, 5.0]  # type: ignore[attr-defined]


def test_out_of_range_is_flagged_or_rejected_by_policy() -> None:
    data = batch(["a", "a", "a"], [0, 1, 2], [-1.0, 5.0, 11.0])
    report, rejects, accepted = run(data)
    assert accepted.quality.tolist() == [QUALITY_OUT_OF_RANGE, 0, QUALITY_OUT_OF_RANGE]  # type: ignore[attr-defined]
    assert (report.stored, report.flagged, len(rejects)) == (3, 2, 0)
    report, rejects, accepted = run(data, ValidationPolicy(on_range="reject"))
    assert (report.stored, report.flagged, report.quarantined) == (1, 0, 2)
    assert report.total(Issue.OUT_OF_RANGE) == 2


def test_duplicates_against_stored_samples_name_the_stored_value() -> None:
    stored = (np.array([10, 11]) * US_PER_S, np.array([3.0, 4.0]))
    asked: list[tuple[int, int, int]] = []

    def lookup(tag_id: int, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        asked.append((tag_id, start, end))
        return stored

    data = batch(["a", "a", "a", "b"], [10, 11, 12, 11], [3.0, 9.0, 5.0, 1.0])
    report, rejects, _ = run(data, last_time={1: 11 * US_PER_S}, lookup=lookup)
    details = [r["detail"] for r in rejects.to_arrow().to_pylist()]
    assert details == ["already stored with the same value", "already stored with value 4"]
    assert asked == [(1, 10 * US_PER_S, 11 * US_PER_S)]  # tag b has nothing stored: not asked
    assert report.stored == 2


def test_out_of_order_and_late_samples_are_counted_not_dropped() -> None:
    data = batch(["a"] * 5, [3, 1, 2, 5, 4], [1.0] * 5)
    report, _, accepted = run(data)
    assert report.counts == {"a": {"out_of_order": 3}} and report.stored == 5
    assert accepted.newest == {1: 5 * US_PER_S}  # type: ignore[attr-defined]
    late = batch(["a"], [1], [1.0])
    report, _, _ = run(
        late, last_time={1: 2 * US_PER_S}, lookup=lambda *_: (np.array([2 * US_PER_S]), np.array([1.0]))
    )
    assert report.counts == {"a": {"out_of_order": 1}}


def test_gaps_count_from_the_last_stored_sample() -> None:
    data = batch(["a"] * 4, [100, 101, 120, 121], [1.0] * 4)
    report, _, _ = run(data, ValidationPolicy(max_gap=5), last_time={1: 50 * US_PER_S})
    assert report.counts == {"a": {"gap": 2}} and report.longest_gap == {"a": 50.0}
    report, _, _ = run(data, ValidationPolicy(max_gap=30))
    assert report.counts == {}


@pytest.mark.parametrize("seed", range(5))
def test_every_input_row_ends_up_exactly_once(seed: int) -> None:
    """A messy random batch: each row is either accepted or quarantined, never both, never neither;
    shuffling the input changes nothing about which samples are stored."""
    rng = np.random.default_rng(seed)
    n = 400
    tags = rng.choice(["a", "b", "nope"], n, p=[0.45, 0.45, 0.1]).tolist()
    seconds = rng.integers(0, 150, n).astype(float)
    values = rng.normal(5, 6, n)
    values[rng.random(n) < 0.05] = np.nan
    values[rng.random(n) < 0.03] = np.inf
    data = batch(tags, seconds.tolist(), values.tolist())
    report, rejects, accepted = run(data)
    kept = set(zip(accepted.tag_id.tolist(), accepted.time.tolist(), strict=True))  # type: ignore[attr-defined]
    assert len(kept) == report.stored, "a stored (tag, time) pair appears once"
    quarantined_rows = rejects.to_arrow().column("row").to_pylist()
    assert len(quarantined_rows) == len(set(quarantined_rows)) == report.quarantined
    assert report.stored + report.quarantined == n
    order = rng.permutation(n)
    shuffled = SampleBatch(
        data.time[order],
        data.tag[order],
        data.tag_names,
        data.value[order],
        data.row[order],
        data.source[order],
        data.source_names,
    )
    report2, _, accepted2 = run(shuffled)
    kept2 = set(zip(accepted2.tag_id.tolist(), accepted2.time.tolist(), strict=True))  # type: ignore[attr-defined]
    assert kept2 == kept and report2.stored == report.stored


def test_report_merges_and_round_trips() -> None:
    one = ValidationReport(
        received=3, stored=2, quarantined=1, counts={"a": {"nan": 1}}, longest_gap={"a": 5.0}
    )
    two = ValidationReport(
        received=2,
        stored=2,
        flagged=1,
        counts={"a": {"out_of_range": 1}, "b": {"gap": 1}},
        longest_gap={"a": 9.0},
    )
    total = one.merge(two)
    assert (total.received, total.stored, total.flagged, total.quarantined) == (5, 4, 1, 1)
    assert total.longest_gap == {"a": 9.0} and not total.ok
    assert ValidationReport.from_dict(total.to_dict()) == total
    frame = total.to_frame()
    assert list(frame.columns) == ["nan", "out_of_range", "gap"] and frame.loc["a", "nan"] == 1
    assert total.summary() == "5 samples read: 4 stored (1 flagged), 1 quarantined"


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="on_range"):
        ValidationPolicy(on_range="drop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_gap"):
        ValidationPolicy(max_gap=0)
