"""Group commit for many small writes: live sources hand samples over, one transaction stores them.

A durable commit costs about a millisecond (an ``fdatasync``), so committing each sample of a busy
OPC UA subscription separately would cap ingest near a thousand samples per second. The
:class:`BufferedWriter` collects what callers hand it and commits when ``max_rows`` samples are
waiting or the oldest has waited ``max_delay`` seconds, whichever comes first.

Acknowledgement stays exact: :meth:`BufferedWriter.write` blocks until the commit holding its
samples is durable and then returns their count (``SampleSink`` contract); :meth:`BufferedWriter.submit`
returns at once with a :class:`~concurrent.futures.Future` that resolves to that count (or to the
error) — e.g. to send an MQTT PUBACK only once the reading is safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING

from worldtwin.errors import DataError
from worldtwin.telemetry.samples import Sample

if TYPE_CHECKING:
    from worldtwin.telemetry.store import Store


class BufferedWriter:
    """A ``SampleSink`` that group-commits into a :class:`~worldtwin.telemetry.store.Store`.

    Use as a context manager (``with store.writer() as sink: ...``) or call :meth:`close`: pending
    samples are committed on close.
    """

    def __init__(self, store: Store, *, max_rows: int = 10_000, max_delay: float = 0.05) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        if not max_delay >= 0:
            raise ValueError(f"max_delay must be >= 0 seconds, got {max_delay}")
        self.store = store
        self.max_rows = max_rows
        self.max_delay = max_delay
        self.commits = 0
        """Transactions committed so far (for measuring how well writes are grouped)."""
        self._pending: list[tuple[Sequence[Sample], Future[int]]] = []
        self._rows = 0
        self._oldest = 0.0
        self._closed = False
        self._flush_requested = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="worldtwin-store-writer", daemon=True)
        self._thread.start()

    def submit(self, samples: Sequence[Sample]) -> Future[int]:
        """Queue ``samples``; the future resolves to their count once they are durably committed."""
        future: Future[int] = Future()
        with self._wake:
            if self._closed:
                raise DataError("this writer is closed; open a new one with store.writer()")
            if not samples:
                future.set_result(0)
                return future
            if not self._pending:
                self._oldest = time.monotonic()
                self._wake.notify()  # the flusher sleeps without a deadline while nothing is pending
            self._pending.append((list(samples), future))
            self._rows += len(samples)
            if self._rows >= self.max_rows:
                self._wake.notify()
        return future

    def write(self, samples: Sequence[Sample]) -> int:
        """Store ``samples``; returns their count once they are durable (may wait up to ``max_delay``)."""
        return self.submit(samples).result()

    def flush(self) -> None:
        """Commit everything submitted so far and wait for it."""
        with self._wake:
            waiting = [future for _, future in self._pending]
            self._flush_requested = True
            self._wake.notify()
        for future in waiting:
            future.exception()  # waits; errors stay on the futures of those who submitted

    def close(self) -> None:
        """Commit what is pending and stop the background thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def __enter__(self) -> BufferedWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _due(self) -> bool:
        if not self._pending:
            return False
        return (
            self._closed
            or self._flush_requested
            or self._rows >= self.max_rows
            or time.monotonic() - self._oldest >= self.max_delay
        )

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due():
                    if self._closed:
                        return
                    timeout = (
                        None
                        if not self._pending
                        else max(0.0, self._oldest + self.max_delay - time.monotonic())
                    )
                    self._wake.wait(timeout)
                taken, self._pending, self._rows = self._pending, [], 0
                self._flush_requested = False
            samples = [sample for chunk, _ in taken for sample in chunk]
            try:
                self.store.write(samples)
            except Exception as exc:  # handed to every waiting caller; the thread keeps serving
                for _, future in taken:
                    future.set_exception(exc)
                continue
            self.commits += 1
            for chunk, future in taken:
                future.set_result(len(chunk))
