"""Telemetry ingest benchmark: files, queries, durability and live MQTT / OPC UA, all in one run.

    python benchmarks/ingest.py            # everything, 3-4 minutes (the MQTT run alone takes 60 s)
    python benchmarks/ingest.py --quick    # small sizes and short runs (seconds; tests call this)
    python benchmarks/ingest.py --only batch,query
    python benchmarks/ingest.py --only mqtt_sustained --mqtt-rate 15000 --mqtt-seconds 20

Sections (each a function ``section_<name>(ctx) -> dict`` registered in ``SECTIONS``):

* ``batch`` — import a day of 1 Hz data for 20 tags from Parquet vs the floor, raw DuckDB
  ``CREATE TABLE AS SELECT * FROM read_parquet`` of the same file.
* ``query`` — 1-minute mean resample of one tag over that day vs the same aggregation in raw SQL.
* ``durability`` — one durable commit per ``write()`` vs group commit vs one big commit.
* ``mqtt_sustained`` — a publisher sends single-reading JSON messages at ``--mqtt-rate`` (QoS 1) for
  ``--mqtt-seconds`` to a local broker; the MQTT source writes them through the ingest pipeline and
  ``Store.writer()`` (group commit, durable) into a DuckDB store. Zero loss means: messages sent =
  messages the broker acknowledged = rows counted in the store afterwards. Peer: the offered rate.
* ``mqtt_peak`` — receive ceilings: the broker holds a backlog for a persistent session, the subscriber
  reconnects and drains it (no publisher competing for the CPU). Rows: a bare paho subscriber that
  only counts (the peer), the JSON source into a counting sink and into the durable store, the
  Sparkplug B source into a counting sink.
* ``opcua`` — an asyncua server process changes 20 variables as fast as it can; samples/s delivered
  to a bare asyncua handler that only counts (the peer) and by the OPC UA source into the durable store.

Results are printed as one table of ratios against the peers measured in the same run and merged into
``benchmarks/results/ingest.json`` (sections that did not run keep their previous numbers; ``run``
describes the last invocation, with the load average before and after it). Timings are medians over
``--repeats`` (files, queries) or ``live_repeats`` rounds (MQTT drains, OPC UA windows).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from worldtwin.spec.schema import Metadata, MqttSource, OpcUaSource, Tag, Twin
from worldtwin.telemetry.local_broker import BrokerKind, LocalBroker, free_port
from worldtwin.telemetry.samples import Sample, SampleSink
from worldtwin.telemetry.sources import Ingest, Reject, RejectSink
from worldtwin.telemetry.sources.mqtt import MqttJsonSource, MqttTransport
from worldtwin.telemetry.sources.opcua import OpcUaClientSource
from worldtwin.telemetry.sources.sparkplug import DataType, Metric, SparkplugSource, encode
from worldtwin.telemetry.store import Store

RESULTS = Path(__file__).parent / "results" / "ingest.json"
DAY_START = np.datetime64("2024-03-01T00:00:00", "us").astype(np.int64)
LIVE_START = 1.767e9
"""Epoch seconds of the first live reading (2026-01-01); message i is stamped LIVE_START + i · 0.1 ms."""
OPCUA_NAMESPACE = "urn:bench"
PUBLISHING_INTERVAL = 0.05
"""Seconds between the OPC UA subscription's notification messages."""


@dataclass
class Context:
    """Shared inputs of all sections: the twin, generated files, a scratch directory, live settings."""

    quick: bool
    workdir: Path
    tags: int = 20
    seconds: int = 86_400
    repeats: int = 5
    mqtt_rate: float = 10_000.0
    mqtt_seconds: float = 60.0
    qos: int = 1
    broker: BrokerKind = "auto"
    publisher: Literal["auto", "c", "python"] = "auto"
    backlog: int = 50_000
    live_repeats: int = 3
    """Rounds of the MQTT backlog drains and OPC UA windows (medians are reported)."""
    opcua_seconds: float = 5.0
    opcua_interval: float = 0.0
    """Seconds the OPC UA server sleeps between rounds of writes (0: as fast as it can write)."""
    writer_delay: float = 0.0
    """``Store.writer(max_delay=)`` behind the ingest pipeline, which already gathers 0.2 s per write."""
    files: dict[str, Path] = field(default_factory=dict)

    @cached_property
    def twin(self) -> Twin:
        tags = [Tag(name=name, unit="K", range=(-5.0, 5.0)) for name in self.tag_names]
        return Twin(metadata=Metadata(name="bench"), sample_period=1.0, tags=tags)

    @property
    def tag_names(self) -> list[str]:
        return [f"tag{i:02d}" for i in range(self.tags)]

    def store_dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=False)
        return path


def make_files(ctx: Context) -> None:
    """A long (time, tag, value) and a wide (time + one column per tag) Parquet file of the same samples."""
    rng = np.random.default_rng(0)
    times = DAY_START + np.arange(ctx.seconds, dtype=np.int64) * 1_000_000
    values = rng.normal(size=(ctx.seconds, ctx.tags))
    names = ctx.tag_names
    stamp = pa.timestamp("us", tz="UTC")
    long = pa.table(
        {
            "time": pa.array(np.repeat(times, ctx.tags)).cast(stamp),
            "tag": pa.DictionaryArray.from_arrays(
                pa.array(np.tile(np.arange(ctx.tags, dtype=np.int32), ctx.seconds)), pa.array(names)
            ),
            "value": values.ravel(),
        }
    )
    wide = pa.table({"time": pa.array(times).cast(stamp), **{n: values[:, i] for i, n in enumerate(names)}})
    for name, table in (("long", long), ("wide", wide)):
        ctx.files[name] = ctx.workdir / f"{name}.parquet"
        pq.write_table(table, ctx.files[name], compression="zstd")


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def medians(runs: Sequence[dict[str, Any]], *keys: str) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in keys}


def wait_until(done: Callable[[], bool], timeout: float) -> float:
    """Poll ``done`` every 10 ms until it holds or ``timeout`` passes; returns the seconds waited."""
    start = time.monotonic()
    while not done() and time.monotonic() - start < timeout:
        time.sleep(0.01)
    return time.monotonic() - start


# --- files, queries, durability ------------------------------------------------------------------


def section_batch(ctx: Context) -> dict[str, Any]:
    """Batch import of a Parquet file vs the floor: raw DuckDB ``CREATE TABLE AS SELECT * FROM read_parquet``.

    For the wide file a second peer also unpivots to long rows in DuckDB, which stores the same samples
    we do (the plain floor stores 86,400 wide rows, not 1.7 million samples).
    """
    results: dict[str, Any] = {}
    counter = iter(range(10**6))
    floors = {
        "long": {"raw_duckdb": "SELECT * FROM read_parquet('{path}')"},
        "wide": {
            "raw_duckdb": "SELECT * FROM read_parquet('{path}')",
            "raw_duckdb_unpivot": "UNPIVOT (SELECT * FROM read_parquet('{path}')) "
            "ON COLUMNS(* EXCLUDE (time)) INTO NAME tag VALUE value",
        },
    }
    for layout, peers in floors.items():
        path = ctx.files[layout]

        def raw(query: str, layout: str = layout, path: Path = path) -> None:
            con = duckdb.connect(str(ctx.workdir / f"raw-{layout}-{next(counter)}.duckdb"))
            con.execute(f"CREATE TABLE raw AS {query.format(path=path)}")
            con.close()

        def ours(layout: str = layout, path: Path = path) -> None:
            with Store.open(ctx.store_dir(f"batch-{layout}-{next(counter)}"), ctx.twin) as store:
                report = store.ingest(path)
            if report.stored != ctx.tags * ctx.seconds:
                raise RuntimeError(f"expected every sample stored, got {report.summary()}")

        times: dict[str, list[float]] = {"ingest": [], **{peer: [] for peer in peers}}
        for _ in range(ctx.repeats):  # interleaved, so load from other processes hits all alike
            for peer, query in peers.items():
                times[peer] += timed(partial(raw, query), 1)
            times["ingest"] += timed(ours, 1)
        rows = ctx.tags * ctx.seconds
        median = {name: statistics.median(values) for name, values in times.items()}
        result: dict[str, Any] = {
            "samples": rows,
            "ingest_s": median["ingest"],
            "ingest_samples_per_s": rows / median["ingest"],
        }
        for peer in peers:
            suffix = peer.removeprefix("raw_duckdb")
            result[f"{peer}_s"] = median[peer]
            result[f"{peer}_samples_per_s"] = rows / median[peer]
            result[f"ratio{suffix}"] = median["ingest"] / median[peer]
        results[layout] = result
    return results


def section_query(ctx: Context) -> dict[str, Any]:
    """1-minute mean resample of one tag over a day of 1 Hz data, vs the same aggregation in raw SQL."""
    directory = ctx.store_dir("query")
    with Store.open(directory, ctx.twin) as store:
        store.ingest(ctx.files["long"])
        start, end = DAY_START / 1e6, DAY_START / 1e6 + ctx.seconds
        ours = timed(lambda: store.resample("tag03", start, end, dt=60, method="mean"), ctx.repeats * 4)
        frame = store.resample("tag03", start, end, dt=60, method="mean")
        tag_id = store._ids["tag03"]
        con = store.backend._con  # type: ignore[attr-defined]
        sql = (
            "SELECT time_bucket(INTERVAL 1 minute, time) AS t, avg(value) FROM samples WHERE tag_id = ? "
            "GROUP BY t ORDER BY t"
        )
        peer = timed(lambda: con.sql(sql, params=[tag_id]).to_arrow_table(), ctx.repeats * 4)
    return {
        "grid_rows": len(frame),
        "resample_s": statistics.median(ours),
        "raw_sql_s": statistics.median(peer),
        "ratio": statistics.median(ours) / statistics.median(peer),
    }


def section_durability(ctx: Context) -> dict[str, Any]:
    """What acknowledged-means-durable costs: one commit per write() vs group commit vs one append."""
    batch, writes = 100, 50 if ctx.quick else 200
    base = DAY_START / 1e6

    def samples(k: int) -> list[Sample]:
        return [Sample(f"tag{i % ctx.tags:02d}", base + k * batch + i, 0.5) for i in range(batch)]

    with Store.open(ctx.store_dir("durable-write"), ctx.twin) as store:
        numbers = iter(range(writes))
        per_write = timed(lambda: store.write(samples(next(numbers))), writes)
    with Store.open(ctx.store_dir("durable-group"), ctx.twin) as store:
        start = time.perf_counter()
        with store.writer(max_rows=5_000, max_delay=0.05) as sink:
            futures = [sink.submit(samples(k)) for k in range(writes)]
            acknowledged = sum(f.result() for f in futures)
            commits = sink.commits
        group_s = time.perf_counter() - start
    with Store.open(ctx.store_dir("durable-append"), ctx.twin) as store:
        everything = [s for k in range(writes) for s in samples(k)]
        one = timed(lambda: store.write(everything), 1)[0]
    probe = ctx.workdir / "fsync-probe"
    with probe.open("wb") as handle:
        fsyncs = []
        for _ in range(20):
            handle.write(b"x" * 4096)
            handle.flush()
            start = time.perf_counter()
            os.fdatasync(handle.fileno())
            fsyncs.append(time.perf_counter() - start)
    total = batch * writes
    write_s = statistics.median(per_write)
    return {
        "samples": total,
        "batch": batch,
        "write_each_commit_ms": write_s * 1e3,
        "write_samples_per_s": batch / write_s,
        "group_commit_samples_per_s": acknowledged / group_s,
        "group_commits": commits,
        "single_commit_samples_per_s": total / one,
        "fdatasync_ms": statistics.median(fsyncs) * 1e3,
        "ratio": (total / one) / (batch / write_s),
    }


# --- live: where samples go ----------------------------------------------------------------------


class CountingSink:
    """A sample and reject sink that only counts: the receive path's ceiling, without a store."""

    def __init__(self) -> None:
        self.samples = 0
        self.rejects = 0
        self.writes = 0

    def write(self, samples: Sequence[Sample]) -> int:
        self.samples += len(samples)
        self.writes += 1
        return len(samples)

    def write_rejects(self, rejects: Sequence[Reject]) -> int:
        self.rejects += len(rejects)
        return len(rejects)

    def flush(self) -> None:
        pass


@dataclass(frozen=True)
class Held:
    """What a target holds once the ingest has stopped."""

    samples: int
    rejects: int
    writes: int
    """Commits (the store's ``batches`` table) or ``write()`` calls (the counting sink)."""


@dataclass
class Target:
    """Where a live section writes: samples to ``sink``, rejects to ``quarantine``."""

    sink: SampleSink
    quarantine: RejectSink
    held: Callable[[], Held]


@contextmanager
def counting_target() -> Iterator[Target]:
    sink = CountingSink()
    yield Target(sink, sink, lambda: Held(sink.samples, sink.rejects, sink.writes))


@contextmanager
def store_target(ctx: Context, name: str) -> Iterator[Target]:
    """A fresh DuckDB store written through ``Store.writer()`` (group commit, durable); ``held()`` counts
    the rows of its ``samples``, ``quarantine`` and ``batches`` tables."""
    with (
        Store.open(ctx.store_dir(name), ctx.twin) as store,
        store.writer(max_delay=ctx.writer_delay) as writer,
    ):
        yield Target(
            writer,
            store,
            lambda: Held(
                int(store.summary()["samples"].sum()), store.quarantine_count(), len(store.batches())
            ),
        )


# --- live: publishers ----------------------------------------------------------------------------


def json_line(i: int, tags: int) -> str:
    """Message ``i`` of the JSON stream: one reading of one tag, values inside the tags' range."""
    return f'{{"time": {LIVE_START + i * 1e-4:.4f}, "metric": "tag{i % tags:02d}", "value": {i % 7 - 3}}}'


def sparkplug_messages(count: int, tags: int) -> list[tuple[str, bytes]]:
    """An edge node's NBIRTH and DBIRTH (declaring tag aliases), then ``count`` DDATA messages."""
    births = [Metric(f"tag{i:02d}", 0.0, DataType.Double, alias=i) for i in range(tags)]
    messages = [
        ("spBv1.0/bench/NBIRTH/edge", encode([Metric("bdSeq", 0, DataType.UInt64)], seq=0)),
        ("spBv1.0/bench/DBIRTH/edge/dev", encode(births, seq=1)),
    ]
    for i in range(count):
        metric = Metric(None, float(i % 7 - 3), DataType.Double, alias=i % tags)
        stamp = int(LIVE_START * 1000) + i
        messages.append(
            ("spBv1.0/bench/DDATA/edge/dev", encode([metric], seq=(i + 2) % 256, timestamp_ms=stamp))
        )
    return messages


def paced(rate: float, seconds: float, send: Callable[[int, int], None]) -> tuple[int, float]:
    """Call ``send(first, end)`` so that messages [0, end) have gone out at ``rate`` per second, for
    ``seconds``; returns (messages sent, seconds taken)."""
    sent = 0
    start = time.monotonic()
    while (now := time.monotonic()) < start + seconds:
        due = int((now - start) * rate)
        if due > sent:
            send(sent, due)
            sent = due
        time.sleep(0.001)
    return sent, time.monotonic() - start


class PahoPublisher:
    """A paho client that counts the broker's acknowledgements (PUBACKs at QoS 1).

    Single-threaded: :meth:`publish` writes what the socket takes and :meth:`pump` runs paho's loop.
    Publishing in a burst from another thread than paho's ``loop_start`` thread leaves messages
    stuck in paho's queue (paho 2.2: its wake-up byte is dropped when the socket pair is full)."""

    def __init__(self, port: int, name: str) -> None:
        import paho.mqtt.client as mqtt

        self.acked = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{name}-{time.time_ns()}")
        # unlimited in-flight messages: paho rescans the in-flight list per acknowledgement otherwise
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port)

    def _on_publish(self, *_: Any) -> None:
        self.acked += 1

    def publish(self, topic: str, payload: str | bytes, qos: int) -> None:
        self.client.publish(topic, payload, qos=qos)

    def pump(self) -> None:
        """Send what is queued and take the acknowledgements that arrived."""
        self.client.loop(timeout=0.0)

    def wait_acked(self, expected: int, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self.acked < expected and time.monotonic() < deadline:
            self.client.loop(timeout=0.01)
        return self.acked

    def close(self) -> None:
        self.client.disconnect()


@dataclass
class Published:
    """What a publisher sent and the broker acknowledged, over how many seconds."""

    sent: int
    acked: int
    seconds: float
    publisher: str


def publish_json(ctx: Context, port: int, topic: str) -> Published:
    """The sustained stream: Debian's ``mosquitto_pub -l`` (C) when installed, else paho in a process."""
    tool = shutil.which("mosquitto_pub")
    if ctx.publisher == "c" or (ctx.publisher == "auto" and tool is not None):
        if tool is None:
            raise RuntimeError(
                "--publisher c needs mosquitto_pub: run scripts/install-system-deps.sh as root"
            )
        return _publish_c(ctx, tool, port, topic)
    spawn = mp.get_context("spawn")
    result: Any = spawn.Queue()
    args = (port, topic, ctx.qos, ctx.mqtt_rate, ctx.mqtt_seconds, ctx.tags, result)
    process = spawn.Process(target=_publish_python, args=args)
    process.start()
    published: Published = result.get(timeout=ctx.mqtt_seconds + 120)
    process.join(30)
    return published


def _publish_c(ctx: Context, tool: str, port: int, topic: str) -> Published:
    """A plant gateway is not a Python program: with a C publisher the publishing side costs little CPU
    and the section measures the receive path. ``mosquitto_pub -l`` sends one message per stdin line.

    Its exit status is no proof of delivery: mosquitto_pub 2.0.11 drops lines and still exits 0 once it
    has more than 65,535 messages waiting (message ids wrap; it disconnects at the first PUBACK with the
    last line's id). So ``-d`` prints every packet and ``grep -c`` counts the broker's acknowledgements.
    At QoS 0 nothing is acknowledged and every line written counts as sent and acknowledged."""
    name = f"bench-pub-c-{time.time_ns()}"
    command = [
        tool,
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-t",
        topic,
        "-q",
        str(ctx.qos),
        "-l",
        "-i",
        name,
        "-d",
    ]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin is not None and process.stdout is not None
    acknowledgement = {1: "received PUBACK", 2: "received PUBCOMP"}.get(ctx.qos, "")
    counter = subprocess.Popen(["grep", "-c", acknowledgement], stdin=process.stdout, stdout=subprocess.PIPE)
    process.stdout.close()  # grep sees the end of the output when mosquitto_pub exits
    stdin = process.stdin

    def send(first: int, end: int) -> None:
        stdin.write("".join(json_line(i, ctx.tags) + "\n" for i in range(first, end)).encode())
        stdin.flush()

    sent, seconds = paced(ctx.mqtt_rate, ctx.mqtt_seconds, send)
    stdin.close()
    clean = process.wait(120) == 0
    acked = int(counter.communicate(timeout=60)[0] or 0)
    if ctx.qos == 0:
        acked = sent if clean else 0
    return Published(sent, acked, seconds, "mosquitto_pub (C)")


def _publish_python(
    port: int, topic: str, qos: int, rate: float, seconds: float, tags: int, result: Any
) -> None:
    """The fallback publisher, in its own process so that it does not take the receiver's GIL."""
    publisher = PahoPublisher(port, "bench-pub")

    def send(first: int, end: int) -> None:
        for i in range(first, end):
            publisher.publish(topic, json_line(i, tags), qos)
        publisher.pump()

    sent, elapsed = paced(rate, seconds, send)
    acked = publisher.wait_acked(sent)
    publisher.close()
    result.put(Published(sent, acked, elapsed, "paho (Python)"))


# --- live: MQTT ------------------------------------------------------------------------------------


def mqtt_config(port: int, topic: str, qos: int) -> MqttSource:
    payload = "sparkplug" if topic.startswith("spBv1.0") else "json"
    return MqttSource(type="mqtt", port=port, topic=topic, qos=qos, payload=payload)


def section_mqtt_sustained(ctx: Context) -> dict[str, Any]:
    """The done-when of the live path: ``--mqtt-rate`` msg/s for ``--mqtt-seconds`` into the durable
    store with zero loss, counted in the store's tables after the run."""
    lags: list[float] = []
    backlog_max = 0
    with LocalBroker(kind=ctx.broker) as broker, store_target(ctx, "mqtt-sustained") as target:
        source = MqttJsonSource(
            ctx.twin, mqtt_config(broker.port, "bench/#", ctx.qos), client_id="bench-sustained"
        )
        with Ingest(target.sink, target.quarantine) as ingest:
            ingest.add(source)
            source.wait_subscribed()
            cpu = time.process_time()
            published: list[Published] = []
            thread = threading.Thread(
                target=lambda: published.append(publish_json(ctx, broker.port, "bench/stream"))
            )
            thread.start()
            while thread.is_alive():
                thread.join(0.5)
                status = ingest.status()
                lags.append(status.lag)
                backlog_max = max(backlog_max, status.backlog)
            pub = published[0]
            drain = wait_until(lambda: ingest.status().samples_stored >= pub.acked, 120)
            acknowledged = ingest.status().samples_stored
        cpu = time.process_time() - cpu
        held = target.held()
    return {
        "broker": broker.kind,
        "publisher": pub.publisher,
        "sink": "Store.writer() → DuckDB (group commit, durable)",
        "qos": ctx.qos,
        "offered_rate": ctx.mqtt_rate,
        "seconds": pub.seconds,
        "sent": pub.sent,
        "acked_by_broker": pub.acked,
        "acknowledged_by_writer": acknowledged,
        "stored_in_store": held.samples,
        "quarantined": held.rejects,
        "unacknowledged_by_broker": pub.sent - pub.acked,
        "lost": pub.acked - held.samples,
        "zero_loss": pub.sent == pub.acked == held.samples and held.rejects == 0,
        "commits": held.writes,
        "writer_max_delay_s": ctx.writer_delay,
        "cpu_us_per_message": cpu / max(pub.acked, 1) * 1e6,
        "publish_rate": pub.sent / pub.seconds,
        "stored_rate": held.samples / (pub.seconds + drain),
        "drain_after_end_s": drain,
        "lag_median_s": statistics.median(lags) if lags else 0.0,
        "lag_max_s": max(lags) if lags else 0.0,
        "backlog_max": backlog_max,
    }


class BareCounter(MqttTransport):
    """The ceiling: a paho subscriber that only counts messages (no decoding, nothing emitted)."""

    def handle(self, topic: str, payload: bytes, received: float) -> tuple[list[Sample], list[Reject]]:
        return [], []


def drain_backlog(
    make_source: Callable[[], MqttTransport],
    target: Target,
    port: int,
    messages: Sequence[tuple[str, bytes | str]],
    qos: int,
) -> dict[str, Any]:
    """Subscribe once (persistent session) and leave; let the broker queue ``messages``; reconnect and
    time until every message was received and everything it held is written to ``target``."""
    first = make_source()
    with Ingest(CountingSink()) as ingest:
        ingest.add(first)
        first.wait_subscribed()
    publisher = PahoPublisher(port, "bench-backlog")
    for i, (topic, payload) in enumerate(messages):
        publisher.publish(topic, payload, qos)
        if i % 100 == 0:
            publisher.pump()
    queued = publisher.wait_acked(len(messages))
    publisher.close()
    source = make_source()
    start, cpu = time.monotonic(), time.process_time()
    with Ingest(target.sink, target.quarantine) as ingest:
        ingest.add(source)
        wait_until(lambda: source.stats.messages >= queued, 120)
    seconds = time.monotonic() - start  # stopping the ingest wrote and flushed everything received
    cpu = time.process_time() - cpu
    held = target.held()
    return {
        "queued": queued,
        "received": source.stats.messages,
        "stored": held.samples,
        "rejected": held.rejects,
        "writes": held.writes,
        "seconds": seconds,
        "messages_per_s": queued / seconds,
        "cpu_us_per_message": cpu / max(queued, 1) * 1e6,
    }


def section_mqtt_peak(ctx: Context) -> dict[str, Any]:
    """Receive ceilings draining a backlog of ``ctx.backlog`` messages, against a bare paho counter."""
    qos, count, tags = max(ctx.qos, 1), ctx.backlog, ctx.tags
    json_messages = [("bench/stream", json_line(i, tags)) for i in range(count)]
    with LocalBroker(kind=ctx.broker) as broker:
        json_config, sparkplug_config = (
            mqtt_config(broker.port, "bench/#", qos),
            mqtt_config(broker.port, "spBv1.0/bench/#", qos),
        )
        cases: list[tuple[str, Callable[[], MqttTransport], Callable[[], Any], list[Any]]] = [
            (
                "bare paho (count only)",
                lambda: BareCounter(ctx.twin, json_config, name="bare", client_id="bench-bare"),
                counting_target,
                json_messages,
            ),
            (
                "JSON source → counting sink",
                lambda: MqttJsonSource(ctx.twin, json_config, client_id="bench-json"),
                counting_target,
                json_messages,
            ),
            (
                "JSON source → DuckDB store (durable)",
                lambda: MqttJsonSource(ctx.twin, json_config, client_id="bench-json-store"),
                lambda: store_target(ctx, f"mqtt-peak-{time.monotonic_ns()}"),
                json_messages,
            ),
            (
                "Sparkplug B source → counting sink",
                lambda: SparkplugSource(ctx.twin, sparkplug_config, client_id="bench-spb"),
                counting_target,
                sparkplug_messages(count, tags),
            ),
        ]
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in cases}
        for _ in range(ctx.live_repeats):  # interleaved, so load from other processes hits all alike
            for label, make_source, make_target, messages in cases:
                with make_target() as target:
                    runs[label].append(drain_backlog(make_source, target, broker.port, messages, qos))
    rows = {
        label: {**medians(done, "messages_per_s", "cpu_us_per_message"), "runs": done}
        for label, done in runs.items()
    }
    return {"broker": broker.kind, "qos": qos, "messages": count, "rounds": ctx.live_repeats, "rows": rows}


# --- live: OPC UA ----------------------------------------------------------------------------------


def _serve_opcua(port: int, names: list[str], interval: float, ready: Any, written: Any) -> None:
    """An asyncua server (its own process, until terminated) writing every variable every ``interval``
    seconds, each round with a new value and SourceTimestamp; ``written`` counts values written."""
    from asyncua import Server, ua

    logging.getLogger("asyncua").setLevel(logging.ERROR)  # NoSecurity notices on loopback are expected

    async def serve() -> None:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{port}/bench/")
        idx = await server.register_namespace(OPCUA_NAMESPACE)
        nodes = [
            await server.nodes.objects.add_variable(ua.NodeId(ua.String(n), ua.Int16(idx)), f"{idx}:{n}", 0.0)
            for n in names
        ]
        async with server:
            ready.set()
            round_ = 0
            while True:
                round_ += 1
                value = ua.DataValue(
                    ua.Variant(round_ % 10 * 0.1, ua.VariantType.Double),
                    SourceTimestamp=ua.DateTime.now(UTC),
                )
                for node in nodes:
                    await server.write_attribute_value(node.nodeid, value)
                written.value += len(nodes)
                await asyncio.sleep(interval)

    asyncio.run(serve())


@contextmanager
def opcua_server(names: list[str], interval: float) -> Iterator[tuple[str, Any]]:
    """(endpoint, counter of values written) of a server process running for the ``with`` block."""
    spawn = mp.get_context("spawn")
    port, ready, written = free_port(), spawn.Event(), spawn.Value("q", 0)
    process = spawn.Process(target=_serve_opcua, args=(port, names, interval, ready, written))
    process.start()
    try:
        if not ready.wait(60):
            raise RuntimeError("the benchmark's OPC UA server did not start within 60 s")
        yield f"opc.tcp://127.0.0.1:{port}/bench/", written
    finally:
        process.terminate()  # nothing to clean up: the server keeps no files
        process.join(10)


def opcua_windows(ctx: Context, seen: Callable[[], int], written: Any) -> dict[str, Any]:
    """``ctx.live_repeats`` windows of ``ctx.opcua_seconds``: samples/s seen, values/s the server wrote
    and this process's CPU µs per sample seen; their medians, and the windows."""
    windows = []
    for _ in range(ctx.live_repeats):
        samples, values = seen(), written.value
        start, cpu = time.monotonic(), time.process_time()
        time.sleep(ctx.opcua_seconds)
        elapsed, cpu = time.monotonic() - start, time.process_time() - cpu
        samples, values = seen() - samples, written.value - values
        windows.append(
            {
                "samples_per_s": samples / elapsed,
                "server_values_per_s": values / elapsed,
                "delivered_of_written": samples / max(values, 1),
                "cpu_us_per_sample": cpu / max(samples, 1) * 1e6,
            }
        )
    return {**medians(windows, *windows[0]), "windows": windows}


def bare_asyncua(ctx: Context, endpoint: str, written: Any) -> dict[str, Any]:
    """The peer: an asyncua subscription handler that only counts notifications."""
    from asyncua import Client

    count = [0]

    class Counter:
        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            count[0] += 1

    async def measure() -> dict[str, Any]:
        async with Client(endpoint) as client:
            idx = await client.get_namespace_index(OPCUA_NAMESPACE)
            sub = await client.create_subscription(PUBLISHING_INTERVAL * 1000, Counter())
            nodes = [client.get_node(f"ns={idx};s={n}") for n in ctx.tag_names]
            await sub.subscribe_data_change(nodes, queuesize=0)
            await asyncio.sleep(0.5)
            return await asyncio.to_thread(opcua_windows, ctx, lambda: count[0], written)

    return asyncio.run(measure())


def section_opcua(ctx: Context) -> dict[str, Any]:
    """OPC UA subscription samples/s: the source into the durable store against a bare counting handler,
    both subscribed to the same server process."""
    with opcua_server(ctx.tag_names, ctx.opcua_interval) as (endpoint, written):
        bare = bare_asyncua(ctx, endpoint, written)
        config = OpcUaSource(
            type="opcua",
            endpoint=endpoint,
            publishing_interval=PUBLISHING_INTERVAL,
            nodes={n: f"nsu={OPCUA_NAMESPACE};s={n}" for n in ctx.tag_names},
        )
        with store_target(ctx, "opcua") as target:
            source = OpcUaClientSource(ctx.twin, config)
            with Ingest(target.sink, target.quarantine) as ingest:
                ingest.add(source)
                source.subscribed.wait(30)
                time.sleep(0.5)
                ours = opcua_windows(ctx, lambda: source.stats.messages, written)
            held = target.held()
    notifications = source.stats.messages
    ours |= {
        "notifications": notifications,
        "stored_in_store": held.samples,
        "quarantined": held.rejects,
        "commits": held.writes,
        "lost": notifications - held.samples - held.rejects,
    }
    return {
        "nodes": ctx.tags,
        "server_update_interval_s": ctx.opcua_interval,
        "publishing_interval_s": PUBLISHING_INTERVAL,
        "windows": ctx.live_repeats,
        "rows": {"bare asyncua handler (count only)": bare, "OPC UA source → DuckDB store (durable)": ours},
        "ratio": ours["samples_per_s"] / bare["samples_per_s"],
    }


SECTIONS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "batch": section_batch,
    "query": section_query,
    "durability": section_durability,
    "mqtt_sustained": section_mqtt_sustained,
    "mqtt_peak": section_mqtt_peak,
    "opcua": section_opcua,
}


# --- report ----------------------------------------------------------------------------------------


def render(results: dict[str, Any], console: Console) -> None:
    table = Table(title="telemetry ingest (medians)")
    for column in ("section", "ours", "peer", "ratio ours/peer"):
        table.add_column(column)
    for layout in ("long", "wide"):
        if layout in results.get("batch", {}):
            r = results["batch"][layout]
            table.add_row(
                f"batch ingest, {layout} Parquet ({r['samples']:,} samples)",
                f"{r['ingest_samples_per_s']:,.0f} samples/s",
                f"{r['raw_duckdb_samples_per_s']:,.0f} /s raw DuckDB read_parquet",
                f"{r['ratio']:.2f}× time",
            )
            if "ratio_unpivot" in r:
                table.add_row(
                    "",
                    "",
                    f"{r['raw_duckdb_unpivot_samples_per_s']:,.0f} /s read_parquet + UNPIVOT",
                    f"{r['ratio_unpivot']:.2f}× time",
                )
    if "query" in results:
        r = results["query"]
        table.add_row(
            f"1-min mean resample, 1 tag, 1 day 1 Hz ({r['grid_rows']} rows)",
            f"{r['resample_s'] * 1e3:.1f} ms",
            f"{r['raw_sql_s'] * 1e3:.1f} ms raw SQL time_bucket",
            f"{r['ratio']:.2f}× time",
        )
    if "durability" in results:
        r = results["durability"]
        table.add_row(
            f"durable write() of {r['batch']} samples (commit + fdatasync each)",
            f"{r['write_each_commit_ms']:.2f} ms/write, {r['write_samples_per_s']:,.0f} samples/s",
            f"{r['single_commit_samples_per_s']:,.0f} samples/s in one commit",
            f"{r['ratio']:.1f}× slower per sample",
        )
        table.add_row(
            "BufferedWriter group commit",
            f"{r['group_commit_samples_per_s']:,.0f} samples/s",
            f"{r['group_commits']} commits for {r['samples']:,} samples",
            f"disk fdatasync {r['fdatasync_ms']:.2f} ms",
        )
    if "mqtt_sustained" in results:
        r = results["mqtt_sustained"]
        verdict = (
            "ZERO LOSS"
            if r["zero_loss"]
            else f"NOT ZERO LOSS: {r['unacknowledged_by_broker']:,} not acknowledged by the broker, "
            f"{r['lost']:,} lost after it, {r['quarantined']:,} quarantined"
        )
        table.add_row(
            f"MQTT JSON sustained {r['seconds']:.0f} s, QoS {r['qos']}, {r['broker']}, {r['publisher']} "
            "→ DuckDB store (durable)",
            f"{r['stored_rate']:,.0f} msg/s stored; broker acked {r['acked_by_broker']:,}, rows in store "
            f"{r['stored_in_store']:,}: {verdict}; {r['cpu_us_per_message']:.0f} µs CPU/msg",
            f"offered {r['offered_rate']:,.0f} msg/s (published {r['publish_rate']:,.0f})",
            f"{r['stored_rate'] / r['offered_rate']:.2f}× rate",
        )
    live_rows = (
        ("mqtt_peak", "msg", "messages_per_s", "cpu_us_per_message"),
        ("opcua", "samples", "samples_per_s", "cpu_us_per_sample"),
    )
    for section, unit, key, cpu in live_rows:
        if section not in results:
            continue
        r = results[section]
        title = (
            f"MQTT drain of a {r['messages']:,}-message backlog, QoS {r['qos']}, {r['rounds']} rounds"
            if section == "mqtt_peak"
            else f"OPC UA subscription, {r['nodes']} nodes, server writing as fast as it can, "
            f"{r['windows']} windows"
        )
        (peer_label, peer), *ours = r["rows"].items()
        peer_text = f"{peer[key]:,.0f} {unit}/s {peer_label}, {peer[cpu]:.0f} µs CPU each"
        table.add_row(title, "", peer_text, "")
        for label, row in ours:
            ours_text = f"{row[key]:,.0f} {unit}/s, {row[cpu]:.0f} µs CPU each"
            table.add_row(f"  {label}", ours_text, "", f"{row[key] / peer[key]:.2f}× rate")
    console.print(table)
    if "mqtt_sustained" in results:
        r = results["mqtt_sustained"]
        verdict = "ZERO LOSS" if r["zero_loss"] else "LOSS"
        console.print(
            f"MQTT sustained: {r['sent']:,} sent, {r['acked_by_broker']:,} acknowledged by the broker, "
            f"{r['stored_in_store']:,} rows in the store, {r['quarantined']:,} quarantined: {verdict}"
            + (" (the publisher lost messages before the broker)" if r["unacknowledged_by_broker"] else ""),
            highlight=False,
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small data and short runs (for tests)")
    parser.add_argument("--only", default="", help=f"comma-separated sections of {list(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results file (merged by section)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per measurement (default 5)")
    parser.add_argument("--mqtt-rate", type=float, default=None, help="offered MQTT msg/s (default 10,000)")
    parser.add_argument("--mqtt-seconds", type=float, default=None, help="sustained MQTT run (default 60 s)")
    parser.add_argument("--qos", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument("--broker", default="auto", choices=("auto", "mosquitto", "amqtt"))
    parser.add_argument(
        "--publisher",
        default="auto",
        choices=("auto", "c", "python"),
        help="sustained MQTT publisher: mosquitto_pub (C, default when installed) or paho (Python)",
    )
    parser.add_argument(
        "--writer-delay",
        type=float,
        default=0.0,
        help="max_delay of Store.writer() behind the live ingest (default 0: commit when the writer is free)",
    )
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {unknown}; choose from {list(SECTIONS)}")
    return args


def context(args: argparse.Namespace, workdir: Path) -> Context:
    ctx = Context(
        quick=args.quick,
        workdir=workdir,
        qos=args.qos,
        broker=args.broker,
        publisher=args.publisher,
        writer_delay=args.writer_delay,
    )
    if args.quick:
        ctx.seconds, ctx.repeats = 7_200, 3
        ctx.mqtt_rate, ctx.mqtt_seconds, ctx.backlog, ctx.opcua_seconds = 2_000.0, 1.5, 2_000, 0.5
        ctx.live_repeats = 1
    ctx.repeats = args.repeats or ctx.repeats
    ctx.mqtt_rate = args.mqtt_rate or ctx.mqtt_rate
    ctx.mqtt_seconds = args.mqtt_seconds or ctx.mqtt_seconds
    return ctx


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    logging.getLogger("asyncua").setLevel(logging.ERROR)  # NoSecurity notices on loopback are expected
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="worldtwin-bench-") as scratch:
        ctx = context(args, Path(scratch))
        if {"batch", "query"} & set(args.sections):
            make_files(ctx)
        for name in args.sections:
            start = time.monotonic()
            results[name] = SECTIONS[name](ctx)
            results[name]["section_wall_s"] = time.monotonic() - start
    load_after = os.getloadavg()
    render(results, Console(width=max(Console().width, 140)))
    print(
        f"load average (1, 5, 15 min) before {', '.join(f'{v:.2f}' for v in load_before)}; "
        f"after {', '.join(f'{v:.2f}' for v in load_after)} — {os.cpu_count()} CPUs"
    )
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    previous.setdefault("sections", {}).update(results)
    previous["run"] = {
        "command": " ".join(["python benchmarks/ingest.py", *(sys.argv[1:] if argv is None else argv)]),
        "sections": args.sections,
        "quick": args.quick,
        "repeats": ctx.repeats,
        "load_average_before": list(load_before),
        "load_average_after": list(load_after),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(previous, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
