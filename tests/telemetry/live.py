"""Helpers shared by the live-source, plant-server and serve-plant tests: a test plant, a memory sink."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from worldtwin.sim.env import TwinEnv
from worldtwin.spec import Twin, parse_spec
from worldtwin.telemetry.samples import Sample

REACTOR_YAML = """
spec_version: 1
metadata: {name: reactor, title: Test reactor}
sample_period: 1 s
tags:
  - {name: T, unit: K, range: [250, 450]}
  - {name: Ca, unit: mol/L, range: [0, 5]}
  - {name: Tc, unit: K, kind: action, range: [250, 400]}
actions:
  - {tag: Tc, bounds: [280, 360], max_rate: 5, default: 300}
"""


class MemorySink:
    """A SampleSink that keeps everything in a list (the store is another branch's work)."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.writes = 0
        self.flushes = 0
        self._lock = threading.Lock()

    def write(self, samples: Sequence[Sample]) -> int:
        with self._lock:
            self.samples.extend(samples)
            self.writes += 1
        return len(samples)

    def flush(self) -> None:
        self.flushes += 1

    def tags(self) -> set[str]:
        with self._lock:
            return {s.tag for s in self.samples}

    def of(self, tag: str) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if s.tag == tag]


class ReactorEnv(TwinEnv):
    """First-order thermal lag: T follows the coolant temperature Tc; Ca decays. Deterministic."""

    def _reset(self, options: dict[str, Any] | None) -> dict[str, float]:
        self.T = 320.0 + float(self.np_random.uniform(-1, 1))
        self.Ca = 1.0
        return self._measure()

    def _advance(self, action: np.ndarray) -> dict[str, float]:
        self.T += 0.2 * (float(action[0]) - self.T)
        self.Ca *= 0.99
        return self._measure()

    def _measure(self) -> dict[str, float]:
        return {"T": self.T, "Ca": self.Ca}


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def reactor_spec() -> Twin:
    return parse_spec(REACTOR_YAML, source="reactor.yaml")
