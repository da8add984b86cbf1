"""MQTT JSON source: payload shapes, the bad-input corpus and reconnects, against a real local broker."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.telemetry.live import MemorySink, wait_for
from worldtwin.spec import Twin
from worldtwin.spec.schema import MqttSource
from worldtwin.telemetry.local_broker import LocalBroker, mosquitto_path
from worldtwin.telemetry.samples import Sample
from worldtwin.telemetry.sources import Ingest, MemoryQuarantine, SourceStats, TagMapper
from worldtwin.telemetry.sources.mqtt import MqttJsonSource, decode_json, parse_time

pytestmark = pytest.mark.network

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _config(broker: LocalBroker, **extra: Any) -> MqttSource:
    return MqttSource(type="mqtt", port=broker.port, topic="plant/#", tags={"TI-101": "T"}, **extra)


def _publish(client: Any, topic: str, payload: object) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    client.publish(topic, body, qos=1).wait_for_publish(5)


# --- decoding, no broker ---------------------------------------------------------------------------


@pytest.fixture
def mapper(reactor: Twin) -> TagMapper:
    return TagMapper(reactor, "mqtt", SourceStats(), {"TI-101": "T", "plant/r1/conc": "Ca"})


@pytest.mark.parametrize(
    ("topic", "payload", "expected"),
    [
        ("plant/r1", {"time": T0, "values": {"T": 300, "Ca": 0.5}}, [("T", T0, 300.0), ("Ca", T0, 0.5)]),
        ("plant/r1", {"time": "2026-01-01T01:00:00+01:00", "values": {"TI-101": 301}}, [("T", T0, 301.0)]),
        ("plant/r1", {"time": T0, "values": {"Ca": {"value": 500, "unit": "mmol/L"}}}, [("Ca", T0, 0.5)]),
        ("plant/r1/T", {"time": T0, "value": 26.85, "unit": "degC"}, [("T", T0, 300.0)]),
        ("plant/r1", {"time": T0, "metric": "TI-101", "value": 302}, [("T", T0, 302.0)]),
        ("plant/r1/conc", {"time": T0, "value": 0.7}, [("Ca", T0, 0.7)]),  # full-topic mapping
        ("plant/r1/T", 303.5, [("T", 99.0, 303.5)]),  # bare number: time of receipt
        (
            "plant/r1",
            [{"time": T0, "values": {"T": 1}}, {"time": T0 + 1, "metric": "Ca", "value": 2}],
            [("T", T0, 1.0), ("Ca", T0 + 1, 2.0)],
        ),
    ],
    ids=[
        "values",
        "iso-time+mapping",
        "values-with-unit",
        "single-from-topic-degC",
        "single-metric-key",
        "full-topic-mapping",
        "bare-number",
        "array-batch",
    ],
)
def test_payload_shapes(
    mapper: TagMapper, topic: str, payload: object, expected: list[tuple[str, float, float]]
) -> None:
    samples, rejects = decode_json(mapper, topic, json.dumps(payload).encode(), received=99.0)
    assert rejects == []
    assert [(s.tag, s.time, pytest.approx(s.value)) for s in samples] == expected


# The bad-input corpus of the MQTT JSON source: every case is rejected with this reason, none dropped.
JSON_CORPUS: list[tuple[str, str, bytes, str]] = [
    ("malformed-json", "plant/r1", b'{"time": 1, "values": {', "malformed_payload"),
    ("not-utf8", "plant/r1", b"\xff\xfe\x00", "malformed_payload"),
    ("values-not-object", "plant/r1", b'{"values": [1, 2]}', "malformed_payload"),
    ("no-value-key", "plant/r1", b'{"temperature": 300}', "malformed_payload"),
    ("string-document", "plant/r1/T", b'"300"', "malformed_payload"),
    ("nan", "plant/r1/T", b'{"value": NaN}', "nan"),
    ("infinity", "plant/r1", b'{"values": {"T": -Infinity}}', "inf"),
    ("string-value", "plant/r1/T", b'{"value": "300.5"}', "not_numeric"),
    ("huge-integer", "plant/r1/T", b'{"value": 1' + b"0" * 400 + b"}", "not_numeric"),
    ("object-value", "plant/r1", b'{"values": {"T": {"v": 3}}}', "not_numeric"),
    ("missing_value", "plant/r1/T", b'{"value": null}', "missing_value"),
    ("wrong-unit", "plant/r1/T", b'{"value": 3, "unit": "bar"}', "unit_mismatch"),
    ("not-a-unit", "plant/r1/T", b'{"value": 3, "unit": "glorps"}', "unit_mismatch"),
    ("unknown_tag", "plant/r1", b'{"values": {"vibration": 0.2}}', "unknown_tag"),
    ("milliseconds", "plant/r1/T", b'{"time": 1767225600000, "value": 3}', "bad_time"),
    ("naive-iso-time", "plant/r1/T", b'{"time": "2026-01-01T00:00:00", "value": 3}', "bad_time"),
    ("garbage-time", "plant/r1/T", b'{"time": "yesterday", "value": 3}', "bad_time"),
]


@pytest.mark.parametrize(("case", "topic", "payload", "reason"), JSON_CORPUS, ids=[c[0] for c in JSON_CORPUS])
def test_bad_json_input_is_rejected_with_its_reason(
    mapper: TagMapper, case: str, topic: str, payload: bytes, reason: str
) -> None:
    samples, rejects = decode_json(mapper, topic, payload, received=99.0)
    assert samples == []
    assert [r.reason for r in rejects] == [reason], rejects
    assert rejects[0].raw, "the offending input is kept"
    assert rejects[0].detail


def test_parse_time_rules() -> None:
    assert parse_time(None, 5.0) == 5.0
    assert parse_time(T0, 5.0) == T0
    assert parse_time("2026-01-01T00:00:00Z", 5.0) == T0
    for bad in (True, math.nan, 1.8e12, "2026-01-01 00:00", [1]):
        assert isinstance(parse_time(bad, 5.0), str)


# --- against a real broker -------------------------------------------------------------------------


def test_end_to_end_over_a_real_broker(
    reactor: Twin, broker: LocalBroker, publisher: Any, sink: MemorySink
) -> None:
    source = MqttJsonSource(reactor, _config(broker))
    ingest = Ingest(sink)
    with ingest:
        ingest.add(source)
        assert source.wait_subscribed()
        _publish(publisher, "plant/r1", {"time": T0, "values": {"TI-101": 300.0, "Ca": 0.5}})
        _publish(publisher, "plant/r1/Ca", {"time": T0 + 1, "value": 0.4})
        for _, topic, payload, _ in JSON_CORPUS:
            _publish(publisher, topic, payload)
        wait_for(
            lambda: len(sink.samples) == 3 and ingest.status().rejects == len(JSON_CORPUS), what="all input"
        )
    assert sorted((s.tag, s.time, s.value) for s in sink.samples) == [
        ("Ca", T0, 0.5),
        ("Ca", T0 + 1, 0.4),
        ("T", T0, 300.0),
    ]
    assert all(s.source == source.name for s in sink.samples)
    quarantine = ingest.quarantine
    assert isinstance(quarantine, MemoryQuarantine)
    assert sorted(r.reason for r in quarantine.rejects) == sorted(c[3] for c in JSON_CORPUS)
    assert source.stats.messages == 2 + len(JSON_CORPUS)
    assert source.stats.connected is False  # stopped


def test_qos1_session_keeps_messages_published_while_the_source_is_down(
    reactor: Twin, broker: LocalBroker, publisher: Any
) -> None:
    config = _config(broker)
    first = MqttJsonSource(reactor, config)
    with Ingest(MemorySink()) as ingest:
        ingest.add(first)
        assert first.wait_subscribed()
    for i in range(50):
        _publish(publisher, "plant/r1/T", {"time": T0 + i, "value": 300 + i})
    sink = MemorySink()
    again = MqttJsonSource(reactor, config)  # same spec entry → same client id → the broker's session
    assert again.client_id == first.client_id
    with Ingest(sink) as ingest:
        ingest.add(again)
        wait_for(lambda: len(sink.samples) == 50, what="the 50 messages held by the broker")
    assert [s.time for s in sink.samples] == [T0 + i for i in range(50)]


def test_reconnects_with_backoff_when_the_broker_restarts(reactor: Twin, broker: LocalBroker) -> None:
    """Stop the broker mid-stream, bring it back on the same port: the source reconnects and resubscribes."""
    import paho.mqtt.client as mqtt

    sink = MemorySink()
    source = MqttJsonSource(reactor, _config(broker), reconnect_min=0.1, reconnect_max=0.5)
    stop = threading.Event()
    sent_after_restart: list[float] = []
    restarted = threading.Event()

    def publish_forever() -> None:
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="restart-publisher")
        client.reconnect_delay_set(0.1, 0.5)
        client.connect_async(broker.host, broker.port)
        client.loop_start()
        i = 0
        while not stop.is_set():
            if client.is_connected():
                stamp = T0 + i
                info = client.publish("plant/r1/T", json.dumps({"time": stamp, "value": 300.0}), qos=1)
                if restarted.is_set():
                    info.wait_for_publish(2)
                    if info.is_published():
                        sent_after_restart.append(stamp)
                i += 1
            time.sleep(0.02)
        client.disconnect()
        client.loop_stop()

    with Ingest(sink) as ingest:
        ingest.add(source)
        assert source.wait_subscribed()
        thread = threading.Thread(target=publish_forever)
        thread.start()
        try:
            wait_for(lambda: len(sink.samples) >= 10, what="data before the restart")
            broker.restart(down_for=1.0)
            restarted.set()
            wait_for(lambda: source.stats.connects >= 2, timeout=15, what="the reconnect")
            wait_for(lambda: len(sent_after_restart) >= 20, timeout=15, what="messages after the restart")
        finally:
            stop.set()
            thread.join()
        stored = {s.time for s in sink.samples}
        wait_for(
            lambda: set(sent_after_restart) <= {s.time for s in sink.samples},
            timeout=10,
            what="every acknowledged message after the restart",
        )
    assert source.stats.disconnects >= 1
    assert source.stats.errors >= 1
    assert "lost the broker" in source.stats.last_error or "cannot connect" in source.stats.last_error
    assert len(stored) >= 10


def test_works_on_the_pure_python_amqtt_broker_too(reactor: Twin, sink: MemorySink) -> None:
    """The fallback broker when Debian's mosquitto is absent."""
    import paho.mqtt.client as mqtt

    with LocalBroker(kind="amqtt") as amqtt_broker:
        source = MqttJsonSource(reactor, _config(amqtt_broker))
        with Ingest(sink) as ingest:
            ingest.add(source)
            assert source.wait_subscribed()
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            client.connect(amqtt_broker.host, amqtt_broker.port)
            client.loop_start()
            for i in range(20):
                _publish(client, "plant/r1", {"time": T0 + i, "values": {"T": 300 + i, "Ca": 1}})
            client.disconnect()
            client.loop_stop()
            wait_for(lambda: len(sink.samples) == 40, what="40 samples via amqtt")
    assert sorted(s.value for s in sink.samples if s.tag == "T") == [300.0 + i for i in range(20)]


def test_sample_values_are_floats_in_the_spec_unit(
    reactor: Twin, broker: LocalBroker, publisher: Any, sink: MemorySink
) -> None:
    source = MqttJsonSource(reactor, _config(broker))
    with Ingest(sink) as ingest:
        ingest.add(source)
        assert source.wait_subscribed()
        _publish(publisher, "plant/r1/T", {"time": T0, "value": 80.33, "unit": "degF"})
        wait_for(lambda: len(sink.samples) == 1, what="the sample")
    assert sink.samples[0] == Sample("T", T0, pytest.approx(300.0, abs=1e-3), source.name)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["mosquitto", "amqtt"])
def test_user_and_password_from_the_environment(
    reactor: Twin, sink: MemorySink, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    import paho.mqtt.client as mqtt

    if kind == "mosquitto" and not mosquitto_path():
        pytest.skip("Debian mosquitto is not installed (scripts/install-system-deps.sh installs it as root)")
    with LocalBroker(kind=kind, users={"ingest": "s3cret", "plc": "plcpw"}) as secured:  # type: ignore[arg-type]
        monkeypatch.setenv("WT_TEST_MQTT_PASSWORD", "s3cret")
        config = _config(secured, username="ingest", password_env="WT_TEST_MQTT_PASSWORD")
        source = MqttJsonSource(reactor, config)
        with Ingest(sink) as ingest:
            ingest.add(source)
            assert source.wait_subscribed()
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            client.username_pw_set("plc", "plcpw")
            client.connect(secured.host, secured.port)
            client.loop_start()
            _publish(client, "plant/r1/T", {"time": T0, "value": 300.0})
            client.disconnect()
            client.loop_stop()
            wait_for(lambda: len(sink.samples) == 1, what="the sample")
        monkeypatch.setenv("WT_TEST_MQTT_PASSWORD", "wrong")
        refused = MqttJsonSource(reactor, config, reconnect_min=0.1, reconnect_max=0.2)
        with Ingest(MemorySink()) as ingest:
            ingest.add(refused)
            wait_for(lambda: refused.stats.errors >= 1, what="the refused connection")
        assert not refused.wait_subscribed(0.1)
        assert "refused" in refused.stats.last_error or "lost the broker" in refused.stats.last_error


def _self_signed(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it: (ca, server cert, server key) PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("worldtwin test CA"))
        .issuer_name(name("worldtwin test CA"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def test_tls_with_a_private_ca(reactor: Twin, sink: MemorySink, tmp_path: Path) -> None:
    import paho.mqtt.client as mqtt

    if not mosquitto_path():
        pytest.skip("Debian mosquitto is not installed (scripts/install-system-deps.sh installs it as root)")
    ca, cert, key = _self_signed(tmp_path)
    with LocalBroker(kind="mosquitto", tls=(cert, key)) as secured:
        source = MqttJsonSource(reactor, _config(secured, tls=True, ca_file=str(ca)))
        with Ingest(sink) as ingest:
            ingest.add(source)
            assert source.wait_subscribed()
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            client.tls_set(ca_certs=str(ca))
            client.connect(secured.host, secured.port)
            client.loop_start()
            _publish(client, "plant/r1/T", {"time": T0, "value": 300.0})
            client.disconnect()
            client.loop_stop()
            wait_for(lambda: len(sink.samples) == 1, what="the sample over TLS")
        # without the private CA the server certificate is not trusted: an error, not silence
        untrusting = MqttJsonSource(reactor, _config(secured, tls=True), reconnect_min=0.1, reconnect_max=0.2)
        with Ingest(MemorySink()) as ingest:
            ingest.add(untrusting)
            wait_for(lambda: untrusting.stats.errors >= 1, timeout=10, what="the certificate error")
        assert not untrusting.wait_subscribed(0.1)
        assert "cannot connect" in untrusting.stats.last_error and "ca_file" in untrusting.stats.last_error


def test_a_decoder_failure_keeps_the_message_and_the_connection(
    reactor: Twin, broker: LocalBroker, publisher: Any, sink: MemorySink
) -> None:
    class Fragile(MqttJsonSource):
        def handle(self, topic: str, payload: bytes, received: float) -> tuple[list[Sample], list[Any]]:
            if payload == b"boom":
                raise RuntimeError("decoder bug")
            return super().handle(topic, payload, received)

    source = Fragile(reactor, _config(broker))
    ingest = Ingest(sink)
    with ingest:
        ingest.add(source)
        assert source.wait_subscribed()
        _publish(publisher, "plant/r1/T", b"boom")
        _publish(publisher, "plant/r1/T", b"300")
        wait_for(lambda: len(sink.samples) == 1 and ingest.status().rejects == 1, what="both messages")
    quarantine = ingest.quarantine
    assert isinstance(quarantine, MemoryQuarantine)
    assert quarantine.rejects[0].raw == "boom" and "decoder bug" in quarantine.rejects[0].detail
    assert "decoder bug" in source.stats.last_error
