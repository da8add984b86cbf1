"""Validation of incoming samples against the twin spec: every sample is stored, flagged or quarantined.

The same checks run on every path into the store (file imports, DataFrames, live sources):

======================  =====================================================  ===========================
issue                   meaning                                                outcome
======================  =====================================================  ===========================
``not_numeric``         a value cell holds text (``"n/a"``, ``"12,5"``)         quarantined (raw text kept)
``missing_value``       a long-layout row has a tag and time but no value      quarantined
``nan`` / ``inf``       the value is NaN or ±Inf                               quarantined
``bad_time``            the timestamp is empty, unreadable, or does not exist  quarantined (raw text kept)
                        in the given time zone
``unknown_tag``         the tag is not in the twin spec                        quarantined
``duplicate``           the tag already has a sample at that time (earlier in  quarantined; the first one
                        the same input, or already stored)                     is kept
``out_of_range``        the value lies outside the tag's ``range``             flagged (stored, quality 1)
                                                                               or quarantined, by policy
``out_of_order``        the sample is older than an earlier one of its tag     stored; counted
``gap``                 more than ``max_gap`` sample periods without a sample  stored; counted, longest kept
======================  =====================================================  ===========================

Nothing is dropped silently: ``report.received == report.stored + report.quarantined``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import numpy as np
import pandas as pd

from worldtwin.telemetry.batch import US_PER_S, Rejects, SampleBatch


class Issue(StrEnum):
    """A problem found in incoming data (the ``reason`` column of the quarantine table)."""

    NOT_NUMERIC = "not_numeric"
    MISSING_VALUE = "missing_value"
    NAN = "nan"
    INF = "inf"
    BAD_TIME = "bad_time"
    UNKNOWN_TAG = "unknown_tag"
    DUPLICATE = "duplicate"
    OUT_OF_RANGE = "out_of_range"
    OUT_OF_ORDER = "out_of_order"
    GAP = "gap"


QUALITY_OUT_OF_RANGE = 1
"""Bit in the ``quality`` column of a stored sample: the value lies outside the tag's spec range."""


@dataclass(frozen=True)
class ValidationPolicy:
    """What to do with suspicious but readable samples."""

    on_range: Literal["flag", "reject"] = "flag"
    """Out-of-range values: ``flag`` stores them with quality bit 1; ``reject`` quarantines them."""
    max_gap: float = 5.0
    """A gap is more than this many of the tag's sample periods without a sample."""

    def __post_init__(self) -> None:
        if self.on_range not in ("flag", "reject"):
            raise ValueError(f"on_range must be 'flag' or 'reject', got {self.on_range!r}")
        if not self.max_gap > 0:
            raise ValueError(f"max_gap must be a positive number of sample periods, got {self.max_gap!r}")


@dataclass(frozen=True)
class TagRule:
    """What validation needs to know about one spec tag."""

    id: int
    low: float = -np.inf
    high: float = np.inf
    period_us: int = US_PER_S


@dataclass
class ValidationReport:
    """Counts of what happened to incoming samples, per tag and issue.

    ``received`` counts samples read from the input (for a wide file: the non-empty cells of the tag
    columns; ``empty_cells`` are not samples). Each one is either ``stored`` (``flagged`` ones included)
    or ``quarantined``.
    """

    received: int = 0
    stored: int = 0
    flagged: int = 0
    quarantined: int = 0
    empty_cells: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    longest_gap: dict[str, float] = field(default_factory=dict)
    """Longest gap per tag, seconds (only tags with a gap)."""
    notes: list[str] = field(default_factory=list)

    def add(self, tag: str, issue: Issue | str, count: int = 1) -> None:
        if count:
            per_tag = self.counts.setdefault(tag, {})
            per_tag[str(issue)] = per_tag.get(str(issue), 0) + int(count)

    def add_rejects(self, rejects: Rejects) -> None:
        """Count quarantined rows per tag and reason."""
        for (tag, reason), count in rejects.counts().items():
            self.add(tag, reason, count)
        self.quarantined += len(rejects)

    def total(self, issue: Issue | str) -> int:
        """How many times ``issue`` occurred, over all tags."""
        return sum(per_tag.get(str(issue), 0) for per_tag in self.counts.values())

    @property
    def ok(self) -> bool:
        """True when nothing was quarantined or flagged."""
        return self.quarantined == 0 and self.flagged == 0

    def merge(self, other: ValidationReport) -> ValidationReport:
        """A new report summing this one and ``other``."""
        out = ValidationReport.from_dict(self.to_dict())
        out.received += other.received
        out.stored += other.stored
        out.flagged += other.flagged
        out.quarantined += other.quarantined
        out.empty_cells += other.empty_cells
        for tag, per_tag in other.counts.items():
            for issue, count in per_tag.items():
                out.add(tag, issue, count)
        for tag, gap in other.longest_gap.items():
            out.longest_gap[tag] = max(gap, out.longest_gap.get(tag, 0.0))
        out.notes += [note for note in other.notes if note not in out.notes]
        return out

    def to_frame(self) -> pd.DataFrame:
        """Issue counts: one row per tag, one column per issue (zeros where none)."""
        columns = [str(issue) for issue in Issue if self.total(issue)]
        frame = pd.DataFrame.from_dict(self.counts, orient="index", columns=columns).fillna(0).astype(int)
        frame.index.name = "tag"
        return frame.sort_index()

    def summary(self) -> str:
        """One line: what went where."""
        text = f"{self.received} samples read: {self.stored} stored"
        if self.flagged:
            text += f" ({self.flagged} flagged)"
        return text + f", {self.quarantined} quarantined"

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "stored": self.stored,
            "flagged": self.flagged,
            "quarantined": self.quarantined,
            "empty_cells": self.empty_cells,
            "counts": {tag: dict(per_tag) for tag, per_tag in self.counts.items()},
            "longest_gap": dict(self.longest_gap),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        return cls(**{key: json.loads(json.dumps(value)) for key, value in data.items()})


StoredLookup = Callable[[int, int, int], tuple[np.ndarray, np.ndarray]]
"""``lookup(tag_id, start_us, end_us)`` → (times, values) already stored for that tag in [start, end]."""


@dataclass
class Accepted:
    """Validated samples ready for the backend: spec tag ids and a quality bit mask per sample."""

    time: np.ndarray
    tag_id: np.ndarray
    value: np.ndarray
    quality: np.ndarray
    source: np.ndarray
    source_names: list[str]
    newest: dict[int, int]
    """The newest time per tag id in this batch."""

    def __len__(self) -> int:
        return len(self.time)


def validate(
    batch: SampleBatch,
    rules: Mapping[str, TagRule],
    policy: ValidationPolicy,
    rejects: Rejects,
    report: ValidationReport,
    *,
    last_time: Mapping[int, int],
    lookup: StoredLookup,
) -> Accepted:
    """Check ``batch``; quarantine what cannot be stored (into ``rejects``), count everything in ``report``.

    ``last_time`` holds the newest stored time per tag id: a tag whose samples are all newer cannot
    collide with stored ones, so ``lookup`` is only asked about tags that overlap what is stored.
    Written for throughput (millions of samples per call): one pass per check, a radix sort by tag,
    and per-tag work only for tags whose samples are out of order or overlap stored ones.
    """
    names = batch.tag_names
    known = np.array([name in rules for name in names] + [False], dtype=bool)
    tag_ids = np.array([rules[n].id if n in rules else -1 for n in names] + [-1], dtype=np.int32)
    codes, values = batch.tag, batch.value
    keep = np.ones(len(batch), dtype=bool)

    def reject(mask: np.ndarray, issue: Issue, detail: np.ndarray | str = "") -> None:
        mask = mask & keep
        rejects.add_batch(batch, mask, issue, detail)
        keep[mask] = False

    if not known[:-1].all() or (len(codes) and codes.max() >= len(names)):
        reject(~known[codes], Issue.UNKNOWN_TAG, "not a tag of the twin spec")
    finite = np.isfinite(values)
    if not finite.all():
        reject(np.isnan(values), Issue.NAN)
        reject(~finite, Issue.INF)
    quality = np.zeros(len(batch), dtype=np.uint8)
    bounded = [
        c for c, n in enumerate(names) if n in rules and np.isfinite([rules[n].low, rules[n].high]).any()
    ]
    if bounded:
        lows = np.array([rules[n].low if n in rules else -np.inf for n in names] + [-np.inf])
        highs = np.array([rules[n].high if n in rules else np.inf for n in names] + [np.inf])
        outside = (values < lows[codes]) | (values > highs[codes])
        if policy.on_range == "reject":
            reject(outside, Issue.OUT_OF_RANGE, "outside the spec range")
        quality[outside] = QUALITY_OUT_OF_RANGE

    live = np.flatnonzero(keep)
    duplicate, newest = _find_duplicates(batch, live, rules, policy, report, last_time, lookup)
    if duplicate:
        rows = np.fromiter(duplicate, dtype=np.int64)
        mask = np.zeros(len(batch), dtype=bool)
        mask[rows] = True
        reject(
            mask, Issue.DUPLICATE, np.asarray([duplicate[int(r)] for r in np.flatnonzero(mask)], dtype=object)
        )
        live = np.flatnonzero(keep)

    every = len(live) == len(batch)
    pick = (lambda array: array) if every else (lambda array: array[live])
    flagged = pick(quality) != 0
    if flagged.any():
        for code, count in zip(*np.unique(pick(codes)[flagged], return_counts=True), strict=True):
            report.add(names[int(code)], Issue.OUT_OF_RANGE, int(count))
    report.stored += len(live)
    report.flagged += int(np.count_nonzero(flagged))
    return Accepted(
        pick(batch.time),
        tag_ids[pick(codes)],
        pick(values),
        pick(quality),
        pick(batch.source),
        batch.source_names,
        newest,
    )


def _find_duplicates(
    batch: SampleBatch,
    live: np.ndarray,
    rules: Mapping[str, TagRule],
    policy: ValidationPolicy,
    report: ValidationReport,
    last_time: Mapping[int, int],
    lookup: StoredLookup,
) -> tuple[dict[int, str], dict[int, int]]:
    """Duplicates (position → detail) among the ``live`` samples, and the newest time per tag id.

    Also counts out-of-order samples and gaps into ``report``.
    """
    names = batch.tag_names
    if not len(live):
        return {}, {}
    every = len(live) == len(batch)
    codes = batch.tag if every else batch.tag[live]
    if len(codes) < 2 or np.all(
        codes[1:] >= codes[:-1]
    ):  # already grouped by tag (wide files, per-tag exports)
        order = live
    else:
        small = codes.astype(np.int16) if len(names) < 2**15 else codes  # int16 sorts by radix: O(n)
        ranked = np.argsort(small, kind="stable")
        order = ranked if every else live[ranked]
        codes = codes[ranked]
    times = batch.time[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(codes)) + 1, [len(order)]]).astype(np.int64)
    steps = np.diff(times)
    within = np.ones(len(steps), dtype=bool)
    within[starts[1:-1] - 1] = False
    disordered = np.zeros(len(starts) - 1, dtype=bool)
    backwards = np.flatnonzero((steps <= 0) & within)
    disordered[np.searchsorted(starts, backwards, side="right") - 1] = True
    limits = np.array(
        [policy.max_gap * rules[n].period_us if n in rules else np.inf for n in names] + [np.inf]
    )
    duplicate: dict[int, str] = {}
    newest: dict[int, int] = {}
    gap_steps = np.flatnonzero((steps > limits[codes[1:]]) & within)
    gap_group = np.searchsorted(starts, gap_steps, side="right") - 1
    for g in range(len(starts) - 1):
        lo, hi = int(starts[g]), int(starts[g + 1])
        code = int(codes[lo])
        name, rule = names[code], rules[names[code]]
        last = last_time.get(rule.id)
        group_times = times[lo:hi]
        earliest = int(group_times.min()) if disordered[g] else int(group_times[0])
        newest[rule.id] = int(group_times.max()) if disordered[g] else int(group_times[-1])
        if not disordered[g] and (last is None or last < earliest):
            gaps = steps[gap_steps[gap_group == g]]  # the fast path: in order, all newer than what is stored
            if last is not None and earliest - last > limits[code]:
                gaps = np.concatenate([gaps, [earliest - last]])
            _count_gaps(report, name, gaps)
            continue
        found = _check_group(order[lo:hi], group_times, batch.value[order[lo:hi]], rule, last, lookup)
        duplicate.update(found)
        fresh = (
            ~np.isin(order[lo:hi], np.fromiter(found, dtype=np.int64)) if found else np.ones(hi - lo, bool)
        )
        newest_before = np.maximum.accumulate(
            np.concatenate([[np.iinfo(np.int64).min if last is None else last], group_times[:-1]])
        )
        report.add(name, Issue.OUT_OF_ORDER, int(np.count_nonzero((group_times < newest_before) & fresh)))
        kept = np.sort(group_times[fresh])
        if last is not None and len(kept) and last < kept[0]:
            kept = np.concatenate([[last], kept])
        between = np.diff(kept)
        _count_gaps(report, name, between[between > limits[code]])
    return duplicate, newest


def _check_group(
    positions: np.ndarray,
    times: np.ndarray,
    values: np.ndarray,
    rule: TagRule,
    last: int | None,
    lookup: StoredLookup,
) -> dict[int, str]:
    """Duplicates among one tag's samples (in input order): repeats within the input, then stored ones."""
    found: dict[int, str] = {}
    ranked = np.argsort(times, kind="stable")  # equal times keep input order: the first one stays
    for index in ranked[np.flatnonzero(np.diff(times[ranked]) == 0) + 1]:
        found[int(positions[index])] = "repeated within this input"
    if last is None or times.min() > last:
        return found
    stored_times, stored_values = lookup(rule.id, int(times.min()), int(min(times.max(), last)))
    if not len(stored_times):
        return found
    position = np.minimum(np.searchsorted(stored_times, times), len(stored_times) - 1)
    for index in np.flatnonzero(stored_times[position] == times):
        if int(positions[index]) in found:
            continue
        previous = stored_values[position[index]]
        found[int(positions[index])] = (
            "already stored with the same value"
            if previous == values[index]
            else f"already stored with value {previous:g}"
        )
    return found


def _count_gaps(report: ValidationReport, tag: str, gaps_us: np.ndarray) -> None:
    if len(gaps_us):
        report.add(tag, Issue.GAP, len(gaps_us))
        report.longest_gap[tag] = max(float(np.max(gaps_us)) / US_PER_S, report.longest_gap.get(tag, 0.0))
