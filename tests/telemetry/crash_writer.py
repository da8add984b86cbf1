"""A writer process for the kill -9 tests: writes numbered batches forever and prints each acknowledgement.

    python crash_writer.py STORE_DIR SPEC MODE

Batch k holds ``BATCH`` samples of tag T at times BASE + k*BATCH + i seconds, so the batch a stored
sample belongs to can be read back from its time. ``ack k`` is printed (and flushed) only after the
store acknowledged batch k. MODE is ``write`` (Store.write), ``buffered`` (BufferedWriter.submit, acks
from the futures), ``ingest`` (one small acknowledged batch, then huge appends until killed) or
``uncommitted`` (like ingest, but the big append stops between INSERT and COMMIT: it prints
``inserted`` and waits to be killed).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import numpy as np
import pandas as pd

from worldtwin.telemetry.samples import Sample
from worldtwin.telemetry.store import Store

BATCH = 50
BASE = 1_709_251_200.0  # 2024-03-01T00:00:00Z
BIG = 2_000_000


def samples(k: int) -> list[Sample]:
    return [Sample("T", BASE + k * BATCH + i, 300.0 + i % 7, "crash-test") for i in range(BATCH)]


def main(directory: str, spec: str, mode: str) -> None:
    printing = threading.Lock()

    def ack(k: int) -> None:
        with printing:
            print(f"ack {k}", flush=True)

    store = Store.open(directory, spec)
    k = _next_batch(store)
    if mode == "write":
        while True:
            store.write(samples(k))
            ack(k)
            k += 1
    elif mode == "buffered":
        sink = store.writer(max_rows=400, max_delay=0.01)
        while True:
            future = sink.submit(samples(k))
            future.add_done_callback(lambda f, k=k: ack(k) if f.exception() is None else None)
            k += 1
            if k % 8 == 0:
                future.result()  # keep the queue short, like a source waiting on the network
    elif mode in ("ingest", "uncommitted"):
        store.write(samples(k))
        ack(k)
        if mode == "uncommitted":
            store.backend._con = PausingConnection(store.backend._con)  # type: ignore[attr-defined]
        for part in range(10**6):
            start = pd.Timestamp("2030-01-01", tz="UTC") + pd.Timedelta(seconds=(k * 1000 + part) * BIG)
            times = start + pd.to_timedelta(np.arange(BIG), unit="s")
            values = np.random.default_rng(part).uniform(0, 5, BIG)
            print("big", flush=True)
            store.append(pd.DataFrame({"tag": "level", "time": times, "value": values}))
            print("big done", flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


class PausingConnection:
    """Forwards to a DuckDB connection, but announces COMMIT and waits there (to be killed)."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def commit(self) -> Any:
        print("inserted", flush=True)
        time.sleep(600)
        return self._connection.commit()


def _next_batch(store: Store) -> int:
    stored = store.query("T")
    if stored.empty:
        return 0
    return int((stored["time"].max().timestamp() - BASE) // BATCH) + 1


if __name__ == "__main__":
    main(*sys.argv[1:4])
