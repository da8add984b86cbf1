"""Live-ingest benchmarks: MQTT messages/s sustained with zero loss, peak receive rates, OPC UA samples/s.

Sections (each prints a table with ratios against a peer measured in the same run):

* ``mqtt_sustained`` — a publisher process sends single-reading JSON messages at a fixed rate (default
  10,000 msg/s, QoS 1) for ``--seconds`` (default 60) to a local broker; the worldtwin MQTT source
  writes them through the batched ingest pipeline into a sink. Passes when every message the broker
  acknowledged was stored (count sent = count stored) and the receiver kept up. Peer: the offered rate.
* ``mqtt_peak`` — the receive path's ceiling: the broker holds a backlog of messages for a persistent
  session, then the subscriber reconnects and drains it (no publisher competing for the CPU). Peers:
  a bare paho subscriber that only counts, the worldtwin JSON source, the worldtwin Sparkplug B source.
* ``opcua`` — an asyncua server updates N variables every few ms; samples/s delivered by the
  worldtwin OPC UA source against a bare asyncua subscription handler that only counts.

The sink counts samples (the DuckDB store is merged separately; pass ``--sink duckdb`` once it is).
``--quick`` runs each section for a few seconds (for tests). Results go to
``benchmarks/results/ingest_live.json``. Run: ``python benchmarks/ingest_live.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing as mp
import platform
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from worldtwin.spec import Twin, parse_spec
from worldtwin.spec.schema import MqttSource, OpcUaSource
from worldtwin.telemetry.local_broker import LocalBroker
from worldtwin.telemetry.samples import Sample
from worldtwin.telemetry.sources import Ingest
from worldtwin.telemetry.sources.mqtt import MqttJsonSource, MqttTransport
from worldtwin.telemetry.sources.opcua import OpcUaClientSource
from worldtwin.telemetry.sources.sparkplug import DataType, Metric, SparkplugSource, encode

RESULTS = Path(__file__).parent / "results" / "ingest_live.json"
TAGS = 10

BENCH_SPEC = f"""
spec_version: 1
metadata: {{name: bench}}
sample_period: 1 s
tags:
{chr(10).join(f"  - {{name: t{i}, unit: K}}" for i in range(TAGS))}
"""


class CountingSink:
    """A SampleSink that only counts (so the benchmark measures the receive path, not a store)."""

    def __init__(self) -> None:
        self.count = 0
        self.writes = 0

    def write(self, samples: Sequence[Sample]) -> int:
        self.count += len(samples)
        self.writes += 1
        return len(samples)

    def flush(self) -> None:
        pass


# --- publisher process -----------------------------------------------------------------------------


def _publisher(
    port: int, topic_root: str, payload_kind: str, rate: float, seconds: float, qos: int, result: Any
) -> None:
    """Publish for ``seconds`` at ``rate`` msg/s; report how many the broker acknowledged."""
    import paho.mqtt.client as mqtt

    acked = 0
    lock = threading.Lock()

    def on_publish(*_: Any) -> None:
        nonlocal acked
        with lock:
            acked += 1

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{time.time_ns()}")
    client.max_inflight_messages_set(0)  # unlimited: paho rescans the in-flight list per ack otherwise
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    payloads = _payloads(payload_kind)
    sent = 0
    started_wall = time.time()
    start = time.monotonic()
    end = start + seconds
    seq = 2  # Sparkplug: NBIRTH and DBIRTH took seq 0 and 1
    while (now := time.monotonic()) < end:
        due = int((now - start) * rate)
        while sent < due:
            topic, body = payloads(sent, seq)
            client.publish(topic_root + topic, body, qos=qos)
            sent += 1
            seq = (seq + 1) % 256
        time.sleep(0.001)  # lets paho's network thread send and take acknowledgements
    elapsed = time.monotonic() - start
    deadline = time.monotonic() + 60
    while acked < sent and time.monotonic() < deadline:
        time.sleep(0.01)
    client.disconnect()
    client.loop_stop()
    result.put({"sent": sent, "acked": acked, "seconds": elapsed, "started": started_wall})


def _payloads(kind: str) -> Callable[[int, int], tuple[str, bytes]]:
    if kind == "json":
        return lambda i, seq: (
            f"t{i % TAGS}",
            json.dumps({"time": 1.767e9 + i * 1e-4, "value": 300.0 + i % 7}).encode(),
        )
    return lambda i, seq: (
        "DDATA/edge/dev",
        encode(
            [Metric(None, 300.0 + i % 7, DataType.Double, alias=i % TAGS)],
            seq=seq,
            timestamp_ms=1_767_000_000_000 + i,
        ),
    )


def _sparkplug_births(port: int) -> None:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-edge-birth")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(
        "spBv1.0/bench/NBIRTH/edge", encode([Metric("bdSeq", 0, DataType.UInt64)], seq=0), qos=1
    ).wait_for_publish()
    births = [Metric(f"t{i}", 300.0, DataType.Double, alias=i) for i in range(TAGS)]
    client.publish("spBv1.0/bench/DBIRTH/edge/dev", encode(births, seq=1), qos=1).wait_for_publish()
    client.disconnect()
    client.loop_stop()


def _c_publisher(port: int, topic_root: str, rate: float, seconds: float, qos: int) -> dict[str, Any]:
    """Publish JSON lines through Debian's ``mosquitto_pub -l`` (C), paced at ``rate`` from here.

    A plant gateway is not a Python program: with a C publisher the publishing side costs little CPU
    and the benchmark measures the receive path. ``mosquitto_pub`` exits once every message it read
    is acknowledged (QoS >= 1), so every line written and a clean exit count as sent."""
    tool = shutil.which("mosquitto_pub")
    assert tool is not None
    args = [
        tool,
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-t",
        f"{topic_root}stream",
        "-q",
        str(qos),
        "-l",
        "-i",
        f"bench-pub-c-{time.time_ns()}",
    ]
    process = subprocess.Popen(args, stdin=subprocess.PIPE)
    assert process.stdin is not None
    sent = 0
    started_wall = time.time()
    start = time.monotonic()
    end = start + seconds
    while (now := time.monotonic()) < end:
        due = int((now - start) * rate)
        if due > sent:
            lines = [
                f'{{"time": {1.767e9 + i * 1e-4:.4f}, "metric": "t{i % TAGS}", "value": {300 + i % 7}}}\n'
                for i in range(sent, due)
            ]
            process.stdin.write("".join(lines).encode())
            process.stdin.flush()
            sent = due
        time.sleep(0.001)
    elapsed = time.monotonic() - start
    process.stdin.close()
    code = process.wait(120)
    return {
        "sent": sent,
        "acked": sent if code == 0 else 0,
        "seconds": elapsed,
        "started": started_wall,
        "publisher": "mosquitto_pub (C)",
        "exit_code": code,
    }


def _run_publisher(
    port: int, topic_root: str, kind: str, rate: float, seconds: float, qos: int
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    result = ctx.Queue()
    process = ctx.Process(target=_publisher, args=(port, topic_root, kind, rate, seconds, qos, result))
    process.start()
    out: dict[str, Any] = result.get(timeout=seconds + 120)
    process.join(30)
    out["publisher"] = "paho (Python)"
    return out


# --- sections --------------------------------------------------------------------------------------


def _drain(sink: CountingSink, expected: int, timeout: float = 30.0) -> float:
    start = time.monotonic()
    while sink.count < expected and time.monotonic() - start < timeout:
        time.sleep(0.01)
    return time.monotonic() - start


def mqtt_sustained(
    twin: Twin, seconds: float, rate: float, qos: int, broker_kind: str, publisher: str
) -> dict[str, Any]:
    with LocalBroker(kind=broker_kind) as broker:  # type: ignore[arg-type]
        sink = CountingSink()
        config = MqttSource(type="mqtt", port=broker.port, topic="bench/#", qos=qos)
        source = MqttJsonSource(twin, config, client_id="bench-ingest")
        lags: list[float] = []
        backlog_max = 0
        with Ingest(sink) as ingest:
            ingest.add(source)
            source.wait_subscribed()
            pub: dict[str, Any] = {}
            use_c = publisher == "c" or (publisher == "auto" and shutil.which("mosquitto_pub") is not None)

            def publish() -> None:
                if use_c:
                    pub.update(_c_publisher(broker.port, "bench/", rate, seconds, qos))
                else:
                    pub.update(_run_publisher(broker.port, "bench/", "json", rate, seconds, qos))

            thread = threading.Thread(target=publish)
            thread.start()
            while thread.is_alive():
                time.sleep(0.5)
                status = ingest.status()
                lags.append(status.lag)
                backlog_max = max(backlog_max, status.backlog)
            thread.join()
            drain = _drain(sink, pub["acked"])
        status = ingest.status()
    return {
        "broker": broker.kind,
        "publisher": pub["publisher"],
        "qos": qos,
        "offered_rate": rate,
        "seconds": pub["seconds"],
        "sent": pub["sent"],
        "acked_by_broker": pub["acked"],
        "stored": sink.count,
        "lost": pub["acked"] - sink.count,
        "rejected": status.rejects,
        "sink_writes": sink.writes,
        "publish_rate": pub["sent"] / pub["seconds"],
        "stored_rate": sink.count / (pub["seconds"] + drain),
        "drain_after_end_s": drain,
        "lag_median_s": statistics.median(lags) if lags else 0.0,
        "lag_max_s": max(lags) if lags else 0.0,
        "backlog_max": backlog_max,
    }


class _BareCounter(MqttTransport):
    """The ceiling: a paho subscriber that only counts messages (no decoding, no sink)."""

    def handle(self, topic: str, payload: bytes, received: float) -> tuple[list[Sample], list[Any]]:
        return [], []


def _backlog_rate(
    make: Callable[[], MqttTransport],
    port: int,
    kind: str,
    count: int,
    qos: int,
    topic_root: str,
    before: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Receive rate draining a backlog: subscribe (persistent session), go offline, let the publisher
    queue ``count`` messages at the broker, reconnect and time the delivery. The publisher is then not
    competing for the CPU, so this is the receive path's own ceiling."""
    first = make()
    with Ingest(CountingSink()) as ingest:
        ingest.add(first)
        first.wait_subscribed()
    if before is not None:
        before()
    pub = _run_publisher(port, topic_root, kind, 10_000.0, count / 10_000.0, qos)
    sink = CountingSink()
    source = make()
    t0 = time.time()
    with Ingest(sink) as ingest:
        ingest.add(source)
        deadline = time.monotonic() + 120
        while source.stats.messages < pub["acked"] and time.monotonic() < deadline:
            time.sleep(0.01)
        status = ingest.status()
    elapsed = source.stats.last_message - t0
    return {
        "queued": pub["acked"],
        "received": source.stats.messages,
        "receive_rate": source.stats.messages / elapsed,
        "stored": sink.count,
        "rejected": status.rejects,
    }


def mqtt_peak(twin: Twin, count: int, qos: int, broker_kind: str) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    with LocalBroker(kind=broker_kind) as broker:  # type: ignore[arg-type]

        def config(topic: str) -> MqttSource:
            return MqttSource(
                type="mqtt",
                port=broker.port,
                topic=topic,
                qos=max(qos, 1),
                payload="sparkplug" if topic.startswith("spBv1.0") else "json",
            )

        rows["bare paho (count only)"] = _backlog_rate(
            lambda: _BareCounter(twin, config("bench/#"), name="bare", client_id="bench-bare"),
            broker.port,
            "json",
            count,
            max(qos, 1),
            "bench/",
        )
        rows["worldtwin JSON source"] = _backlog_rate(
            lambda: MqttJsonSource(twin, config("bench/#"), client_id="bench-json"),
            broker.port,
            "json",
            count,
            max(qos, 1),
            "bench/",
        )
        rows["worldtwin Sparkplug B source"] = _backlog_rate(
            lambda: SparkplugSource(twin, config("spBv1.0/bench/#"), client_id="bench-spb"),
            broker.port,
            "sparkplug",
            count,
            max(qos, 1),
            "spBv1.0/bench/",
            before=lambda: _sparkplug_births(broker.port),
        )
    return {"broker": broker.kind, "qos": max(qos, 1), "messages": count, "rows": rows}


def opcua_rate(twin_tags: int, seconds: float, update_interval: float) -> dict[str, Any]:
    from asyncua import Client, Server, ua

    from worldtwin.telemetry.local_broker import free_port

    port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/bench/"
    names = [f"t{i}" for i in range(twin_tags)]
    spec = parse_spec(
        "spec_version: 1\nmetadata: {name: opcbench}\nsample_period: 1 s\ntags:\n"
        + "".join(f"  - {{name: {n}, unit: K}}\n" for n in names)
    )
    stop = threading.Event()
    ready = threading.Event()
    written = [0]

    async def serve() -> None:
        server = Server()
        await server.init()
        server.set_endpoint(endpoint)
        idx = await server.register_namespace("urn:bench")
        nodes = [await server.nodes.objects.add_variable(ua.NodeId(n, idx), f"{idx}:{n}", 0.0) for n in names]
        async with server:
            ready.set()
            value = 0.0
            while not stop.is_set():
                value += 1.0
                for node in nodes:
                    await server.write_attribute_value(
                        node.nodeid, ua.DataValue(ua.Variant(value, ua.VariantType.Double))
                    )
                    written[0] += 1
                await asyncio.sleep(update_interval)

    server_thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    server_thread.start()
    ready.wait(30)
    rows: dict[str, Any] = {}

    # peer: bare asyncua subscription that counts
    count = [0]

    class Counter:
        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            count[0] += 1

    async def bare() -> float:
        async with Client(endpoint) as client:
            idx = await client.get_namespace_index("urn:bench")
            sub = await client.create_subscription(50, Counter())
            await sub.subscribe_data_change([client.get_node(f"ns={idx};s={n}") for n in names], queuesize=0)
            await asyncio.sleep(0.5)
            count[0] = 0
            t0 = time.monotonic()
            await asyncio.sleep(seconds)
            return count[0] / (time.monotonic() - t0)

    rows["bare asyncua handler (count only)"] = {"samples_per_s": asyncio.run(bare())}

    sink = CountingSink()
    config = OpcUaSource(
        type="opcua",
        endpoint=endpoint,
        publishing_interval=0.05,
        nodes={n: f"nsu=urn:bench;s={n}" for n in names},
    )
    source = OpcUaClientSource(spec, config)
    with Ingest(sink) as ingest:
        ingest.add(source)
        source.subscribed.wait(30)
        time.sleep(0.5)
        start_count, t0 = source.stats.messages, time.monotonic()
        time.sleep(seconds)
        rate = (source.stats.messages - start_count) / (time.monotonic() - t0)
    rows["worldtwin OPC UA source"] = {
        "samples_per_s": rate,
        "stored": sink.count,
        "messages": source.stats.messages,
    }
    stop.set()
    server_thread.join(10)
    return {
        "nodes": twin_tags,
        "server_update_interval_s": update_interval,
        "publishing_interval_s": 0.05,
        "server_values_written_per_s": written[0] / max(seconds * 2 + 1.5, 1e-9),
        "rows": rows,
    }


# --- report ----------------------------------------------------------------------------------------


def _print_sustained(r: dict[str, Any]) -> None:
    ok = r["lost"] == 0
    print(
        f"\nMQTT sustained — {r['broker']}, publisher {r['publisher']}, QoS {r['qos']}, {r['seconds']:.1f} s"
    )
    print(f"{'':28}{'msg/s':>12}{'ratio':>8}")
    print(f"{'offered (publisher target)':28}{r['offered_rate']:>12,.0f}{1.0:>8.2f}")
    print(f"{'published':28}{r['publish_rate']:>12,.0f}{r['publish_rate'] / r['offered_rate']:>8.2f}")
    print(
        f"{'stored (incl. drain)':28}{r['stored_rate']:>12,.0f}{r['stored_rate'] / r['offered_rate']:>8.2f}"
    )
    print(
        f"sent {r['sent']:,} · broker-acked {r['acked_by_broker']:,} · stored {r['stored']:,} "
        f"· lost {r['lost']:,} · {'ZERO LOSS' if ok else 'LOSS'} "
        f"· lag median {r['lag_median_s'] * 1000:.0f} ms, "
        f"max {r['lag_max_s'] * 1000:.0f} ms · backlog max {r['backlog_max']:,} "
        f"· drain {r['drain_after_end_s']:.2f} s"
    )


def _print_rows(title: str, rows: dict[str, Any], key: str) -> None:
    print(f"\n{title}")
    base = next(iter(rows.values()))[key]
    print(f"{'':36}{key:>16}{'ratio':>8}")
    for name, row in rows.items():
        print(f"{name:36}{row[key]:>16,.0f}{row[key] / base if base else 0:>8.2f}")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few seconds per section (for tests)")
    parser.add_argument("--seconds", type=float, default=60.0, help="duration of the sustained MQTT run")
    parser.add_argument("--rate", type=float, default=10_000.0, help="offered MQTT messages/s")
    parser.add_argument("--qos", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument("--broker", default="auto", choices=("auto", "mosquitto", "amqtt"))
    parser.add_argument(
        "--publisher",
        default="auto",
        choices=("auto", "c", "python"),
        help="sustained run: mosquitto_pub (C, default when installed) or paho (Python)",
    )
    parser.add_argument("--sections", default="mqtt_sustained,mqtt_peak,opcua")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.getLogger("asyncua").setLevel(logging.ERROR)  # NoSecurity notices on loopback are expected
    sustained_s = 3.0 if args.quick else args.seconds
    peak_n = 5_000 if args.quick else 100_000
    opc_s = 2.0 if args.quick else 10.0
    rate = min(args.rate, 2000.0) if args.quick else args.rate
    twin = parse_spec(BENCH_SPEC)
    sections = set(args.sections.split(","))
    results: dict[str, Any] = {
        "quick": args.quick,
        "machine": platform.platform(),
        "python": platform.python_version(),
    }
    if "mqtt_sustained" in sections:
        results["mqtt_sustained"] = mqtt_sustained(
            twin, sustained_s, rate, args.qos, args.broker, args.publisher
        )
        _print_sustained(results["mqtt_sustained"])
    if "mqtt_peak" in sections:
        results["mqtt_peak"] = mqtt_peak(twin, peak_n, args.qos, args.broker)
        _print_rows(
            f"MQTT receive ceiling, draining a {peak_n:,}-message backlog — "
            f"{results['mqtt_peak']['broker']}, QoS {results['mqtt_peak']['qos']}",
            results["mqtt_peak"]["rows"],
            "receive_rate",
        )
    if "opcua" in sections:
        results["opcua"] = opcua_rate(20, opc_s, 0.005)
        _print_rows(
            "OPC UA subscription (20 nodes, server updates every 5 ms, publishing interval 50 ms)",
            results["opcua"]["rows"],
            "samples_per_s",
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nwrote {args.out}")
    return results


if __name__ == "__main__":
    main()
