"""MQTT live source with JSON payloads, and the paho-mqtt transport the Sparkplug source shares.

Payload shapes (documented in docs/live-sources.md; anything else is rejected ``malformed_payload``):

* several readings at one time::

      {"time": 1767225600.5, "values": {"T": 350.2, "Ca": {"value": 0.8, "unit": "mol/L"}}}

* one reading; the metric name is the ``"metric"`` key, or else the topic's last level::

      {"time": "2026-01-01T00:00:00Z", "value": 350.2, "unit": "K"}     # on plant/reactor/T

* a bare number (metric from the topic, time of receipt)::  ``350.2``
* a JSON array of any of the objects above (a batch).

``time`` is optional (default: when the message arrived), either seconds since the Unix epoch or an
ISO-8601 string *with* a timezone. Numbers above 1e11 are refused as ``bad_time`` (they look like
milliseconds). A metric maps to a tag through the source's ``tags`` mapping — the full topic, then
``<topic>/<metric>`` for ``values`` entries, then the bare metric name — or by equalling a tag name.

Transport: paho-mqtt 2.x with its network thread. Reconnects use paho's exponential backoff
(``reconnect_delay_set``) and re-subscribe on every connect; with ``qos`` ≥ 1 the client keeps a
persistent session (``clean_session=False``) so the broker holds messages while we reconnect.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from worldtwin.errors import require
from worldtwin.spec.schema import MqttSource, Twin
from worldtwin.telemetry.samples import Sample
from worldtwin.telemetry.sources.base import (
    Emitter,
    Reject,
    SourceStats,
    TagMapper,
    password_from_env,
    raw_text,
)

MILLISECONDS_THRESHOLD = 1e11
"""Epoch times above this are taken to be milliseconds sent by mistake (1e11 s is in the year 5138)."""


class MqttTransport:
    """A paho-mqtt client that subscribes to the source's topic filter and hands every message to ``handle``.

    Subclasses implement :meth:`handle`. ``start`` connects asynchronously: a broker that is not up
    yet is retried with backoff, like one that goes away later.
    """

    def __init__(
        self,
        twin: Twin,
        config: MqttSource,
        *,
        name: str,
        client_id: str | None = None,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        keepalive: int = 30,
    ) -> None:
        self.name = name
        self.config = config
        self.client_id = stable_client_id(twin, config) if client_id is None else client_id
        self.reconnect_min, self.reconnect_max, self.keepalive = reconnect_min, reconnect_max, keepalive
        self.stats = SourceStats()
        self.mapper = TagMapper(twin, name, self.stats, config.tags)
        self._out: Emitter | None = None
        self._client: Any = None
        self._subscribed = threading.Event()

    # the Source protocol
    def start(self, out: Emitter) -> None:
        mqtt: Any = require("paho.mqtt.client", "mqtt")
        config = self.config
        password = password_from_env(config.password_env, self.name)
        self._out = out
        persistent = config.qos > 0 and bool(self.client_id)
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=not persistent,
            protocol=mqtt.MQTTv311,
        )
        if config.username is not None:
            client.username_pw_set(config.username, password)
        if config.tls:
            client.tls_set(ca_certs=config.ca_file)
        client.reconnect_delay_set(self.reconnect_min, self.reconnect_max)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.connect_async(config.host, config.port, keepalive=self.keepalive)
        client.loop_start()
        self._client = client

    def stop(self, timeout: float = 5.0) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        client.disconnect()
        client.loop_stop()
        self.stats.connected = False

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        """Block until the broker acknowledged the subscription (tests and benchmarks use this)."""
        return self._subscribed.wait(timeout)

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> None:
        if self._client is not None:
            self._client.publish(topic, payload, qos=qos)

    # paho callbacks (network thread)
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self.stats.error(f"broker {self.config.host}:{self.config.port} refused the connection: {reason}")
            return
        self.stats.connected = True
        self.stats.connects += 1
        client.subscribe(self.config.topic, qos=self.config.qos)

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self.stats.error(
            f"cannot connect to broker {self.config.host}:{self.config.port} (not running, unreachable, "
            "or a TLS certificate that is not trusted: check ca_file); retrying with backoff"
        )

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._subscribed.clear()
        if self.stats.connected:
            self.stats.disconnects += 1
        self.stats.connected = False
        if reason.is_failure:
            self.stats.error(
                f"lost the broker {self.config.host}:{self.config.port} ({reason}); reconnecting"
            )

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        received = time.time()
        self.stats.messages += 1
        self.stats.last_message = received
        try:
            samples, rejects = self.handle(message.topic, message.payload, received)
        except Exception as exc:  # a decoder bug must not stop the network thread nor lose the message
            self.stats.error(f"could not decode a message on {message.topic!r}: {type(exc).__name__}: {exc}")
            samples = []
            rejects = [
                self.mapper.reject(
                    "malformed_payload", f"decoding failed: {exc!r}", received, raw_text(message.payload)
                )
            ]
        if self._out is not None and (samples or rejects):
            self._out.emit(samples, rejects)

    def handle(self, topic: str, payload: bytes, received: float) -> tuple[list[Sample], list[Reject]]:
        raise NotImplementedError


class MqttJsonSource(MqttTransport):
    """Readings from JSON payloads on an MQTT topic filter (shapes in the module docstring)."""

    def __init__(self, twin: Twin, config: MqttSource, *, name: str | None = None, **transport: Any) -> None:
        super().__init__(
            twin, config, name=name or f"mqtt://{config.host}:{config.port}/{config.topic}", **transport
        )

    def handle(self, topic: str, payload: bytes, received: float) -> tuple[list[Sample], list[Reject]]:
        return decode_json(self.mapper, topic, payload, received)


def stable_client_id(twin: Twin, config: MqttSource) -> str:
    """The same client id on every run for one twin and subscription, so a persistent session resumes."""
    where = f"{config.host}:{config.port}/{config.topic}"
    return f"worldtwin-{twin.name}-{zlib.crc32(where.encode()):08x}"


def decode_json(
    mapper: TagMapper, topic: str, payload: bytes, received: float
) -> tuple[list[Sample], list[Reject]]:
    """Samples and rejects from one JSON message (the shapes in the module docstring)."""
    samples: list[Sample] = []
    rejects: list[Reject] = []
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        rejects.append(
            mapper.reject(
                "malformed_payload", f"not JSON on topic {topic!r}: {exc}", received, raw_text(payload)
            )
        )
        return samples, rejects
    records = document if isinstance(document, list) else [document]
    for record in records:
        for item in _readings(mapper, topic, record, received):
            if isinstance(item, Sample):
                samples.append(item)
            elif item is not None:
                rejects.append(item)
    return samples, rejects


def _readings(
    mapper: TagMapper, topic: str, record: object, received: float
) -> Iterator[Sample | Reject | None]:
    leaf = topic.rsplit("/", 1)[-1]
    if isinstance(record, int | float) and not isinstance(record, bool):
        yield mapper.reading([topic, leaf], received, record)
        return
    if not isinstance(record, dict) or not ({"values", "value"} & record.keys()):
        yield mapper.reject(
            "malformed_payload",
            f"on topic {topic!r}: expected a number, an object with "
            "'values' or 'value', or an array of those",
            received,
            json.dumps(record)[:4096],
        )
        return
    stamp = parse_time(record.get("time"), received)
    if isinstance(stamp, str):
        yield mapper.reject("bad_time", f"on topic {topic!r}: {stamp}", received, json.dumps(record)[:4096])
        return
    if "values" in record:
        values = record["values"]
        if not isinstance(values, dict):
            yield mapper.reject(
                "malformed_payload",
                f"on topic {topic!r}: 'values' must be an object {{metric: value}}",
                received,
                json.dumps(record)[:4096],
            )
            return
        for metric, entry in values.items():
            value, unit = _value_and_unit(entry)
            yield mapper.reading([f"{topic}/{metric}", metric], stamp, value, unit)
    else:
        metric = record.get("metric")
        names = [str(metric)] if metric is not None else [topic, leaf]
        yield mapper.reading(names, stamp, record["value"], _unit(record))


def _value_and_unit(entry: object) -> tuple[object, str | None]:
    if isinstance(entry, dict) and "value" in entry:
        return entry["value"], _unit(entry)
    return entry, None


def _unit(record: dict[str, Any]) -> str | None:
    unit = record.get("unit")
    return None if unit is None else str(unit)


def parse_time(value: object, default: float) -> float | str:
    """Epoch seconds from a JSON ``time`` field, or the reason it cannot be read."""
    if value is None:
        return default
    if isinstance(value, bool):
        return f"time {value!r} is not a timestamp"
    if isinstance(value, int | float):
        if value != value or value in (float("inf"), float("-inf")):
            return f"time {value!r} is not finite"
        if abs(value) > MILLISECONDS_THRESHOLD:
            return f"time {value!r} looks like milliseconds; send seconds since the Unix epoch"
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return f"time {value!r} is not ISO 8601; send e.g. '2026-01-01T00:00:00Z' or epoch seconds"
        if parsed.tzinfo is None:
            return f"time {value!r} has no timezone; add 'Z' or an offset such as '+01:00'"
        return parsed.timestamp()
    return f"time {raw_text(repr(value), 80)} is neither epoch seconds nor an ISO-8601 string"
