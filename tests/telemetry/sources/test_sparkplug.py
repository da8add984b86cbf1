"""Sparkplug B: codec, topics, the host-application rules (seq, births, aliases, rebirth), a real broker."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.telemetry.live import MemorySink, wait_for
from worldtwin.spec import Twin
from worldtwin.spec.schema import MqttSource
from worldtwin.telemetry.local_broker import LocalBroker
from worldtwin.telemetry.sources import Ingest, SourceStats, TagMapper
from worldtwin.telemetry.sources.sparkplug import (
    REBIRTH_METRIC,
    DataType,
    Metric,
    SparkplugHost,
    SparkplugSource,
    Topic,
    decode,
    encode,
    metric_value,
    rebirth_request,
)

MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z in milliseconds
NODE = "spBv1.0/plant/{}/edge1"
DEVICE = "spBv1.0/plant/{}/edge1/reactor"


def nbirth(seq: int = 0, bd_seq: int = 7) -> bytes:
    return encode(
        [
            Metric("bdSeq", bd_seq, DataType.UInt64),
            Metric(REBIRTH_METRIC, False, DataType.Boolean),
            Metric("Ambient", 21.0, DataType.Float, alias=1, unit="degC"),
        ],
        seq=seq,
        timestamp_ms=MS,
    )


def dbirth(seq: int = 1) -> bytes:
    return encode(
        [
            Metric("T", 300.0, DataType.Double, alias=10, unit="K"),
            Metric("Ca", 0.9, DataType.Float, alias=11, unit="mol/L"),
            Metric("Mode", "auto", DataType.String, alias=12),
        ],
        seq=seq,
        timestamp_ms=MS,
    )


def ddata(seq: int, value: float = 301.0, alias: int = 10, ms: int = MS + 1000) -> bytes:
    return encode([Metric(None, value, DataType.Double, alias=alias)], seq=seq, timestamp_ms=ms)


@pytest.fixture
def host(reactor: Twin) -> SparkplugHost:
    return SparkplugHost(
        TagMapper(reactor, "spb", SourceStats(), {"edge1/Ambient": "T"}), rebirth_interval=5.0
    )


def born(host: SparkplugHost) -> SparkplugHost:
    host.handle(NODE.format("NBIRTH"), nbirth(), 0.0)
    host.handle(DEVICE.format("DBIRTH"), dbirth(), 0.0)
    return host


# --- codec and topics ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("datatype", "value"),
    [
        (DataType.Int8, -5),
        (DataType.Int16, -30000),
        (DataType.Int32, -2_000_000_000),
        (DataType.Int64, -(2**62)),
        (DataType.UInt8, 250),
        (DataType.UInt32, 4_000_000_000),
        (DataType.UInt64, 2**63 + 5),
        (DataType.Float, 1.5),
        (DataType.Double, -1e-9),
        (DataType.Boolean, True),
        (DataType.String, "auto"),
    ],
)
def test_codec_round_trips_every_scalar_type(datatype: int, value: object) -> None:
    payload = decode(encode([Metric("m", value, datatype, alias=3)], seq=4, timestamp_ms=MS))  # type: ignore[arg-type]
    assert payload.seq == 4 and payload.timestamp == MS
    metric = payload.metrics[0]
    assert (metric.name, metric.alias, metric.datatype) == ("m", 3, datatype)
    decoded = metric_value(metric, datatype)
    if datatype == DataType.String:
        assert "auto" in str(decoded)
    else:
        assert decoded == pytest.approx(value)


def test_null_and_unit_property_round_trip() -> None:
    metric = decode(encode([Metric("T", None, DataType.Double, unit="K")], seq=0)).metrics[0]
    assert metric.is_null and metric_value(metric, DataType.Double) is None
    assert list(metric.properties.keys) == ["engUnit"] and metric.properties.values[0].string_value == "K"


def test_topics_parse_and_render() -> None:
    assert Topic.parse("spBv1.0/g/DDATA/n/d") == Topic("g", "DDATA", "n", "d")
    assert Topic.parse("spBv1.0/g/NBIRTH/n") == Topic("g", "NBIRTH", "n", None)
    assert str(Topic("g", "NCMD", "n")) == "spBv1.0/g/NCMD/n"
    for bad in ("spBv1.0/g/NOPE/n", "spAv1.0/g/DDATA/n", "spBv1.0/g", "plant/x/y/z"):
        assert Topic.parse(bad) is None


def test_rebirth_request_is_an_ncmd_with_the_rebirth_metric() -> None:
    topic, payload = rebirth_request("plant", "edge1")
    assert topic == "spBv1.0/plant/NCMD/edge1"
    metric = decode(payload).metrics[0]
    assert metric.name == REBIRTH_METRIC and metric.boolean_value is True


# --- host-application rules ------------------------------------------------------------------------


def test_births_declare_aliases_and_carry_values(host: SparkplugHost) -> None:
    node = host.handle(NODE.format("NBIRTH"), nbirth(), 0.0)
    assert [(s.tag, s.value) for s in node.samples] == [("T", pytest.approx(294.15))]  # Ambient degC → T in K
    device = host.handle(DEVICE.format("DBIRTH"), dbirth(), 0.0)
    assert [(s.tag, s.time) for s in device.samples] == [("T", MS / 1000), ("Ca", MS / 1000)]
    assert [(r.reason, r.metric) for r in device.rejects] == [("unknown_tag", "edge1/reactor/Mode")]
    assert host.sessions[("plant", "edge1")].aliases[10].name == "T"


def test_data_by_alias_in_sequence_is_stored(host: SparkplugHost) -> None:
    born(host)
    for seq, value in ((2, 301.0), (3, 302.0)):
        result = host.handle(DEVICE.format("DDATA"), ddata(seq, value), 1.0)
        assert [(s.tag, s.value) for s in result.samples] == [("T", value)] and not result.rejects
    assert host.sessions[("plant", "edge1")].next_seq == 4


def test_seq_wraps_after_255(host: SparkplugHost) -> None:
    born(host)
    host.sessions[("plant", "edge1")].next_seq = 255
    assert host.handle(DEVICE.format("DDATA"), ddata(255), 1.0).samples
    assert host.handle(DEVICE.format("DDATA"), ddata(0), 1.0).samples


def test_out_of_order_seq_quarantines_and_requests_rebirth(host: SparkplugHost) -> None:
    born(host)
    gap = host.handle(DEVICE.format("DDATA"), ddata(5, 305.0), 1.0)  # expected 2
    assert gap.samples == []
    assert [r.reason for r in gap.rejects] == ["sparkplug_seq"]
    assert "seq 5, expected 2" in gap.rejects[0].detail
    assert json.loads(gap.rejects[0].raw)["metrics"][0]["value"] == 305.0  # the values are kept
    assert gap.rebirth == [("plant", "edge1")]
    # until the node is born again its data is quarantined, and rebirth is not re-requested within 5 s
    later = host.handle(DEVICE.format("DDATA"), ddata(6), 2.0)
    assert [r.reason for r in later.rejects] == ["sparkplug_awaiting_rebirth"] and later.rebirth == []
    assert host.handle(DEVICE.format("DDATA"), ddata(7), 7.0).rebirth == [("plant", "edge1")]
    # the rebirth restores the flow
    born(host)
    assert host.handle(DEVICE.format("DDATA"), ddata(2), 8.0).samples


def test_data_before_birth_is_quarantined_and_rebirth_requested(host: SparkplugHost) -> None:
    result = host.handle(DEVICE.format("DDATA"), ddata(2), 1.0)
    assert [r.reason for r in result.rejects] == ["sparkplug_no_birth"] and result.rebirth == [
        ("plant", "edge1")
    ]
    # a node born without this device: DDATA for the device is still refused
    host.handle(NODE.format("NBIRTH"), nbirth(), 10.0)
    result = host.handle(DEVICE.format("DDATA"), ddata(1), 20.0)
    assert [r.reason for r in result.rejects] == ["sparkplug_no_birth"]


def test_unknown_alias_is_quarantined_and_rebirth_requested(host: SparkplugHost) -> None:
    born(host)
    result = host.handle(DEVICE.format("DDATA"), ddata(2, alias=99), 1.0)
    assert [r.reason for r in result.rejects] == ["sparkplug_unknown_alias"]
    assert "99" in result.rejects[0].detail and result.rebirth == [("plant", "edge1")]


def test_malformed_payload_and_topic_are_rejected(host: SparkplugHost) -> None:
    born(host)
    bad_payload = host.handle(DEVICE.format("DDATA"), b"\x0a\xff\xff\xff", 1.0)
    assert [r.reason for r in bad_payload.rejects] == ["malformed_payload"]
    assert bad_payload.rejects[0].raw == "0affffff"
    bad_topic = host.handle("spBv1.0/plant/DDATA", ddata(2), 1.0)
    assert [r.reason for r in bad_topic.rejects] == ["malformed_payload"]


def test_nan_null_text_and_unknown_metric_in_data(host: SparkplugHost, reactor: Twin) -> None:
    born(host)
    payload = encode(
        [
            Metric(None, float("nan"), DataType.Double, alias=10),
            Metric(None, None, DataType.Float, alias=11),
            Metric("T", "hot", DataType.String),
            Metric("Vibration", 0.2, DataType.Double),
        ],
        seq=2,
        timestamp_ms=MS,
    )
    result = host.handle(DEVICE.format("DDATA"), payload, 1.0)
    assert sorted(r.reason for r in result.rejects) == [
        "missing_value",
        "nan",
        "not_numeric",
        "unknown_tag",
    ]
    assert result.samples == []


def test_declared_unit_that_does_not_fit_the_tag_is_a_unit_mismatch(host: SparkplugHost) -> None:
    host.handle(NODE.format("NBIRTH"), nbirth(), 0.0)
    birth = encode([Metric("T", 3.0, DataType.Double, alias=10, unit="bar")], seq=1, timestamp_ms=MS)
    assert [r.reason for r in host.handle(DEVICE.format("DBIRTH"), birth, 0.0).rejects] == ["unit_mismatch"]
    assert [r.reason for r in host.handle(DEVICE.format("DDATA"), ddata(2), 0.0).rejects] == ["unit_mismatch"]


def test_ndeath_ends_the_session_only_for_its_own_bdseq(host: SparkplugHost) -> None:
    born(host)
    stale = encode([Metric("bdSeq", 6, DataType.UInt64)], seq=None)
    host.handle(NODE.format("NDEATH"), stale, 1.0)
    assert ("plant", "edge1") in host.sessions
    host.handle(NODE.format("NDEATH"), encode([Metric("bdSeq", 7, DataType.UInt64)], seq=None), 1.0)
    assert ("plant", "edge1") not in host.sessions
    assert [r.reason for r in host.handle(DEVICE.format("DDATA"), ddata(2), 2.0).rejects] == [
        "sparkplug_no_birth"
    ]


def test_commands_and_state_messages_are_not_readings(host: SparkplugHost) -> None:
    born(host)
    assert host.handle("spBv1.0/plant/NCMD/edge1", rebirth_request("plant", "edge1")[1], 1.0).rejects == []
    assert host.handle("spBv1.0/STATE/scada", b'{"online": true}', 1.0).rejects == []


# --- against a real broker, with an edge node that answers rebirth requests -------------------------


class EdgeNode:
    """A minimal Sparkplug edge node for tests: births, DDATA, and rebirth on NCMD."""

    def __init__(self, broker: LocalBroker) -> None:
        import paho.mqtt.client as mqtt

        self.seq = 0
        self.rebirths = threading.Event()
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="edge1")
        self.client.on_message = self._on_command
        self.client.connect(broker.host, broker.port)
        self.client.subscribe("spBv1.0/plant/NCMD/edge1", qos=1)
        self.client.loop_start()

    def _next(self) -> int:
        seq, self.seq = self.seq, (self.seq + 1) % 256
        return seq

    def birth(self) -> None:
        with self.lock:
            self.seq = 0
            self._send("NBIRTH", nbirth(self._next()))
            self._send("DBIRTH", dbirth(self._next()), device=True)

    def data(self, value: float, skip: int = 0) -> None:
        with self.lock:
            self.seq = (self.seq + skip) % 256
            self._send("DDATA", ddata(self._next(), value), device=True)

    def _send(self, kind: str, payload: bytes, device: bool = False) -> None:
        topic = (DEVICE if device else NODE).format(kind)
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def _on_command(self, client: Any, userdata: Any, message: Any) -> None:
        metric = decode(message.payload).metrics[0]
        if metric.name == REBIRTH_METRIC and metric.boolean_value:
            self.rebirths.set()
            threading.Thread(target=self.birth).start()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_seq_gap_over_a_real_broker_triggers_a_rebirth_that_restores_the_flow(
    reactor: Twin, broker: LocalBroker, sink: MemorySink
) -> None:
    config = MqttSource(
        type="mqtt",
        port=broker.port,
        topic="spBv1.0/plant/#",
        payload="sparkplug",
        tags={"edge1/Ambient": "T"},
    )
    source = SparkplugSource(reactor, config)
    edge = EdgeNode(broker)
    try:
        with Ingest(sink) as ingest:
            ingest.add(source)
            assert source.wait_subscribed()
            edge.birth()
            edge.data(301.0)
            edge.data(302.0)
            wait_for(
                lambda: len(sink.of("T")) == 4, what="birth + data samples of T"
            )  # Ambient, T birth, 2 DDATA
            edge.data(399.0, skip=3)  # three messages "lost"
            assert edge.rebirths.wait(10), "the host must ask the edge node to rebirth"
            wait_for(lambda: len(sink.of("T")) == 6, what="the samples of the rebirth")
            edge.data(303.0)
            wait_for(lambda: any(s.value == 303.0 for s in sink.of("T")), what="data after the rebirth")
            status = ingest.status()
        assert status.rejects_by_reason.get("sparkplug_seq") == 1
        assert 399.0 not in [s.value for s in sink.of("T")]  # quarantined, not stored
        assert source.stats.rebirth_requests == 1
    finally:
        edge.close()
