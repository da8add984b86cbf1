"""Sparkplug B over MQTT: topic parsing, a payload codec, and the host-application state machine.

worldtwin acts as a Sparkplug *host application* that only listens, with one exception: it asks an
edge node to re-send its births (an ``NCMD`` with ``Node Control/Rebirth = true``) when it cannot
trust what it has — the rules below follow the Sparkplug 3.0 specification:

* ``NBIRTH`` opens an edge-node session: it carries ``bdSeq``, ``seq = 0`` and every node metric with
  its name, alias, datatype and current value. Aliases are unique per edge node, across its devices.
* ``DBIRTH`` declares one device's metrics the same way; ``NDATA``/``DDATA`` then send metrics by alias.
* Every message of a session except ``NDEATH`` carries ``seq``, the previous ``seq + 1`` mod 256.
* ``NDEATH`` (the MQTT will) closes the session when its ``bdSeq`` matches the birth's.

What worldtwin does with input that breaks them (each a :class:`~.base.Reject` with the reason):

=====================================  ==============================================================
data before any BIRTH                  ``sparkplug_no_birth``; rebirth requested
alias the BIRTH did not declare        ``sparkplug_unknown_alias``; rebirth requested
``seq`` not previous + 1               ``sparkplug_seq``: the message's metrics are quarantined, not
                                       stored (the alias map may be stale if a birth was missed);
                                       rebirth requested
data while that rebirth is pending     ``sparkplug_awaiting_rebirth`` (quarantined) until the NBIRTH
payload that is not a Sparkplug        ``malformed_payload``
protobuf, or a topic that is not
``spBv1.0/group/TYPE/node[/device]``
=====================================  ==============================================================

Rebirth requests to one edge node are sent at most once per ``rebirth_interval`` seconds. Values
in a quarantined message are decoded when the alias is known and kept in the reject's ``raw`` text.

Metric → tag: the source's ``tags`` mapping is tried with ``<node>/<device>/<metric>`` (``<node>/<metric>``
for node metrics), then the bare metric name; a metric named like a tag maps to it. The metric's
unit comes from the ``engUnit`` property of its BIRTH (the Ignition convention), when present, and is
converted to the tag's unit. ``bdSeq`` and ``Node Control/*``, ``Device Control/*`` metrics are
protocol, not readings, and are not stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf.message import DecodeError

from worldtwin.spec.schema import MqttSource, Twin
from worldtwin.telemetry.samples import Sample
from worldtwin.telemetry.sources import sparkplug_b_pb2 as pb
from worldtwin.telemetry.sources.base import Reject, RejectReason, TagMapper, raw_text
from worldtwin.telemetry.sources.mqtt import MqttTransport

NAMESPACE = "spBv1.0"
MessageType = Literal["NBIRTH", "NDEATH", "DBIRTH", "DDEATH", "NDATA", "DDATA", "NCMD", "DCMD", "STATE"]
MESSAGE_TYPES: frozenset[str] = frozenset(MessageType.__args__)  # type: ignore[attr-defined]
REBIRTH_METRIC = "Node Control/Rebirth"
PROTOCOL_PREFIXES = ("Node Control/", "Device Control/")

DataType = pb.DataType
_SIGNED_BITS: dict[int, int] = {DataType.Int8: 8, DataType.Int16: 16, DataType.Int32: 32, DataType.Int64: 64}
_NUMERIC = {
    *_SIGNED_BITS,
    DataType.UInt8,
    DataType.UInt16,
    DataType.UInt32,
    DataType.UInt64,
    DataType.Float,
    DataType.Double,
    DataType.Boolean,
}
_VALUE_FIELD: dict[int, str] = {
    **dict.fromkeys(
        (DataType.Int8, DataType.Int16, DataType.Int32, DataType.UInt8, DataType.UInt16, DataType.UInt32),
        "int_value",
    ),
    **dict.fromkeys((DataType.Int64, DataType.UInt64, DataType.DateTime), "long_value"),
    DataType.Float: "float_value",
    DataType.Double: "double_value",
    DataType.Boolean: "boolean_value",
    **dict.fromkeys((DataType.String, DataType.Text, DataType.UUID), "string_value"),
    DataType.Bytes: "bytes_value",
}


# --- topics ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed Sparkplug B topic: ``spBv1.0/<group>/<type>/<edge node>[/<device>]``."""

    group: str
    type: str
    node: str
    device: str | None = None

    @classmethod
    def parse(cls, topic: str) -> Topic | None:
        parts = topic.split("/")
        if len(parts) not in (4, 5) or parts[0] != NAMESPACE or parts[2] not in MESSAGE_TYPES:
            return None
        return cls(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)

    def __str__(self) -> str:
        return "/".join(
            p for p in (NAMESPACE, self.group, self.type, self.node, self.device) if p is not None
        )


# --- codec -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric to encode. ``value=None`` encodes ``is_null``; ``unit`` becomes the ``engUnit`` property."""

    name: str | None
    value: float | int | bool | str | None
    datatype: int = DataType.Double
    alias: int | None = None
    timestamp_ms: int | None = None
    unit: str | None = None


def encode(metrics: Iterable[Metric], *, seq: int | None, timestamp_ms: int | None = None) -> bytes:
    """A Sparkplug B payload. Signed integers are stored two's-complement in the unsigned fields."""
    payload = pb.Payload()
    payload.timestamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    if seq is not None:
        payload.seq = seq
    for metric in metrics:
        out = payload.metrics.add()
        if metric.name is not None:
            out.name = metric.name
        if metric.alias is not None:
            out.alias = metric.alias
        out.datatype = metric.datatype
        if metric.timestamp_ms is not None:
            out.timestamp = metric.timestamp_ms
        if metric.unit is not None:
            out.properties.keys.append("engUnit")
            prop = out.properties.values.add()
            prop.type = DataType.String
            prop.string_value = metric.unit
        if metric.value is None:
            out.is_null = True
            continue
        field_name = _VALUE_FIELD.get(metric.datatype)
        if field_name is None:
            raise ValueError(
                f"cannot encode datatype {metric.datatype}; use a numeric, boolean or string type"
            )
        value: Any = metric.value
        bits = _SIGNED_BITS.get(metric.datatype)
        if bits is not None:
            value = int(value) & ((1 << (64 if bits == 64 else 32)) - 1)
        setattr(out, field_name, value)
    return payload.SerializeToString()


def decode(data: bytes) -> pb.Payload:
    """Parse a payload; raises :class:`google.protobuf.message.DecodeError` when it is not one."""
    payload = pb.Payload()
    payload.ParseFromString(data)
    return payload


def metric_value(metric: pb.Payload.Metric, datatype: int) -> object:
    """The Python value of a metric given its datatype (from the metric or its BIRTH)."""
    if metric.is_null:
        return None
    which = metric.WhichOneof("value")
    if which is None:
        return None
    value = getattr(metric, which)
    if datatype not in _NUMERIC:
        return f"<{DataType.Name(datatype) if datatype in DataType.values() else datatype}> {value!r}"
    bits = _SIGNED_BITS.get(datatype)
    if bits is not None and isinstance(value, int):
        value &= (1 << bits) - 1
        if value >= 1 << (bits - 1):
            value -= 1 << bits
    return value


def _unit_property(metric: pb.Payload.Metric) -> str | None:
    if not metric.HasField("properties"):
        return None
    for key, value in zip(metric.properties.keys, metric.properties.values, strict=False):
        if key == "engUnit" and value.WhichOneof("value") == "string_value":
            return str(value.string_value)
    return None


# --- host-application state machine ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """What a BIRTH declared about one metric."""

    name: str
    datatype: int
    device: str | None
    unit: str | None


@dataclass
class NodeSession:
    """One edge node between its NBIRTH and NDEATH."""

    bd_seq: int | None
    next_seq: int
    aliases: dict[int, MetricInfo] = field(default_factory=dict)
    devices: set[str] = field(default_factory=set)
    awaiting_rebirth: bool = False


@dataclass
class HostResult:
    samples: list[Sample] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    rebirth: list[tuple[str, str]] = field(default_factory=list)
    """(group, edge node) pairs to send a rebirth request to."""


class SparkplugHost:
    """The Sparkplug rules as a pure function of (topic, payload) → samples, rejects, rebirth requests.

    Holds one :class:`NodeSession` per ``(group, edge node)``. No I/O: :class:`SparkplugSource` does the
    MQTT side, tests drive it directly.
    """

    def __init__(self, mapper: TagMapper, rebirth_interval: float = 5.0) -> None:
        self.mapper = mapper
        self.rebirth_interval = rebirth_interval
        self.sessions: dict[tuple[str, str], NodeSession] = {}
        self._last_rebirth: dict[tuple[str, str], float] = {}

    def handle(self, topic_text: str, data: bytes, received: float) -> HostResult:
        result = HostResult()
        if topic_text.startswith(f"{NAMESPACE}/STATE/"):
            return result  # another host application's birth/death (Sparkplug 3.0 STATE topic)
        topic = Topic.parse(topic_text)
        if topic is None:
            result.rejects.append(
                self.mapper.reject(
                    "malformed_payload",
                    f"topic {topic_text!r} is not spBv1.0/<group>/<TYPE>/<node>[/<device>]",
                    received,
                    raw_text(data),
                )
            )
            return result
        if topic.type in ("NCMD", "DCMD", "STATE"):
            return result  # commands to edge nodes and other hosts' state: not readings
        try:
            payload = decode(data)
        except DecodeError as exc:
            result.rejects.append(
                self.mapper.reject(
                    "malformed_payload",
                    f"{topic}: not a Sparkplug B payload ({exc})",
                    received,
                    raw_text(data),
                )
            )
            return result
        key = (topic.group, topic.node)
        session = self.sessions.get(key)
        if topic.type == "NBIRTH":
            self._node_birth(key, payload, received, result)
        elif topic.type == "NDEATH":
            bd_seq = _bd_seq(payload)
            if session is not None and (bd_seq is None or session.bd_seq is None or bd_seq == session.bd_seq):
                del self.sessions[key]
        elif session is None or session.awaiting_rebirth:
            reason: RejectReason = "sparkplug_awaiting_rebirth" if session else "sparkplug_no_birth"
            self._quarantine_message(topic, payload, session, reason, received, result)
        elif not self._in_sequence(topic, payload, session, received, result):
            pass
        elif topic.type == "DBIRTH":
            self._device_birth(topic, payload, session, received, result)
        elif topic.type == "DDEATH":
            session.devices.discard(topic.device or "")
        elif topic.type == "DDATA" and topic.device not in session.devices:
            self._quarantine_message(topic, payload, session, "sparkplug_no_birth", received, result)
        else:
            self._data(topic, payload, session, received, result)
        return result

    # births
    def _node_birth(
        self, key: tuple[str, str], payload: pb.Payload, received: float, result: HostResult
    ) -> None:
        session = NodeSession(bd_seq=_bd_seq(payload), next_seq=(payload.seq + 1) % 256)
        self.sessions[key] = session
        self._declare(payload, None, session)
        self._readings(key[1], None, payload, session, received, result)

    def _device_birth(
        self, topic: Topic, payload: pb.Payload, session: NodeSession, received: float, result: HostResult
    ) -> None:
        device = topic.device or ""
        session.devices.add(device)
        self._declare(payload, device, session)
        self._readings(topic.node, device, payload, session, received, result)

    @staticmethod
    def _declare(payload: pb.Payload, device: str | None, session: NodeSession) -> None:
        for metric in payload.metrics:
            if metric.HasField("alias"):
                session.aliases[metric.alias] = MetricInfo(
                    metric.name, metric.datatype, device, _unit_property(metric)
                )

    # data
    def _in_sequence(
        self, topic: Topic, payload: pb.Payload, session: NodeSession, received: float, result: HostResult
    ) -> bool:
        expected = session.next_seq
        if payload.HasField("seq") and payload.seq == expected:
            session.next_seq = (expected + 1) % 256
            return True
        got = payload.seq if payload.HasField("seq") else "none"
        session.awaiting_rebirth = True
        self._quarantine_message(
            topic,
            payload,
            session,
            "sparkplug_seq",
            received,
            result,
            f"seq {got}, expected {expected}: messages were lost or reordered",
        )
        return False

    def _data(
        self, topic: Topic, payload: pb.Payload, session: NodeSession, received: float, result: HostResult
    ) -> None:
        unknown = [m.alias for m in payload.metrics if not m.name and m.alias not in session.aliases]
        if unknown:
            session.awaiting_rebirth = True
            self._quarantine_message(
                topic,
                payload,
                session,
                "sparkplug_unknown_alias",
                received,
                result,
                f"alias(es) {unknown} not declared in the BIRTH",
            )
            return
        self._readings(topic.node, topic.device, payload, session, received, result)

    def _readings(
        self,
        node: str,
        device: str | None,
        payload: pb.Payload,
        session: NodeSession,
        received: float,
        result: HostResult,
    ) -> None:
        default_ms = payload.timestamp if payload.HasField("timestamp") else None
        for metric in payload.metrics:
            info = self._info(metric, device, session)
            if info.name == "bdSeq" or info.name.startswith(PROTOCOL_PREFIXES):
                continue
            ms = metric.timestamp if metric.HasField("timestamp") else default_ms
            stamp = received if ms is None else ms / 1000.0
            owner = f"{node}/{device}" if device else node
            reading = self.mapper.reading(
                [f"{owner}/{info.name}", info.name],
                stamp,
                metric_value(metric, info.datatype),
                _unit_property(metric) or info.unit,
            )
            if isinstance(reading, Sample):
                result.samples.append(reading)
            elif reading is not None:
                result.rejects.append(reading)

    @staticmethod
    def _info(metric: pb.Payload.Metric, device: str | None, session: NodeSession) -> MetricInfo:
        known = session.aliases.get(metric.alias) if metric.HasField("alias") else None
        if metric.name or known is None:
            datatype = metric.datatype or (known.datatype if known else DataType.Unknown)
            return MetricInfo(
                metric.name or f"alias:{metric.alias}", datatype, device, known.unit if known else None
            )
        return MetricInfo(known.name, metric.datatype or known.datatype, device, known.unit)

    # quarantine and rebirth
    def _quarantine_message(
        self,
        topic: Topic,
        payload: pb.Payload,
        session: NodeSession | None,
        reason: RejectReason,
        received: float,
        result: HostResult,
        why: str = "",
    ) -> None:
        decoded = []
        for metric in payload.metrics:
            info = (
                self._info(metric, topic.device, session)
                if session
                else MetricInfo(metric.name or f"alias:{metric.alias}", metric.datatype, topic.device, None)
            )
            value = metric_value(metric, info.datatype)
            decoded.append(
                {
                    "metric": info.name,
                    "alias": metric.alias if metric.HasField("alias") else None,
                    "timestamp_ms": metric.timestamp or payload.timestamp or None,
                    "value": value if isinstance(value, int | float | bool | None) else str(value),
                }
            )
        detail = f"{topic}: {why or _WHY[reason]}; {len(decoded)} metric(s) quarantined, rebirth requested"
        raw = json.dumps(
            {
                "topic": str(topic),
                "seq": payload.seq if payload.HasField("seq") else None,
                "metrics": decoded,
            },
            default=str,
        )
        result.rejects.append(self.mapper.reject(reason, detail, received, raw))
        self._request_rebirth(topic, received, result)

    def _request_rebirth(self, topic: Topic, now: float, result: HostResult) -> None:
        key = (topic.group, topic.node)
        if now - self._last_rebirth.get(key, -1e18) >= self.rebirth_interval:
            self._last_rebirth[key] = now
            result.rebirth.append(key)


_WHY: dict[str, str] = {
    "sparkplug_no_birth": "no BIRTH seen for this edge node or device",
    "sparkplug_awaiting_rebirth": "waiting for the rebirth requested after an earlier error",
}


def _bd_seq(payload: pb.Payload) -> int | None:
    for metric in payload.metrics:
        if metric.name == "bdSeq":
            value = metric_value(metric, metric.datatype or DataType.UInt64)
            return int(value) if isinstance(value, int | float) else None
    return None


def rebirth_request(group: str, node: str) -> tuple[str, bytes]:
    """Topic and payload of an NCMD asking an edge node to publish its births again."""
    topic = str(Topic(group, "NCMD", node))
    return topic, encode([Metric(REBIRTH_METRIC, True, DataType.Boolean)], seq=None)


class SparkplugSource(MqttTransport):
    """Readings from Sparkplug B edge nodes under a topic filter such as ``spBv1.0/plant/#``."""

    def __init__(
        self,
        twin: Twin,
        config: MqttSource,
        *,
        name: str | None = None,
        rebirth_interval: float = 5.0,
        **transport: Any,
    ) -> None:
        super().__init__(
            twin, config, name=name or f"sparkplug://{config.host}:{config.port}/{config.topic}", **transport
        )
        self.application = SparkplugHost(self.mapper, rebirth_interval)

    def handle(self, topic: str, payload: bytes, received: float) -> tuple[list[Sample], list[Reject]]:
        result = self.application.handle(topic, payload, received)
        for group, node in result.rebirth:
            self.publish(*rebirth_request(group, node), qos=0)
            self.stats.rebirth_requests += 1
        return result.samples, result.rejects
