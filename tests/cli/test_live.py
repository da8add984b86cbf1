"""``ingest --live`` (the function the ingest command calls): every live source of a spec into a sink."""

from __future__ import annotations

import json
import threading
import time

import pytest
from rich.console import Console

from tests.telemetry.live import MemorySink, ReactorEnv, reactor_spec
from worldtwin.cli.live import ingest_live, insecure_sources
from worldtwin.errors import DataError
from worldtwin.spec.schema import MqttSource, OpcUaSource
from worldtwin.telemetry.local_broker import LocalBroker, free_port
from worldtwin.telemetry.plant_server import serve_in_thread, spec_source


@pytest.mark.network
def test_runs_opcua_and_mqtt_sources_of_a_spec_into_a_sink() -> None:
    import paho.mqtt.client as mqtt

    twin = reactor_spec()
    sink = MemorySink()
    console = Console(record=True, width=200)
    with (
        LocalBroker() as broker,
        serve_in_thread(ReactorEnv(twin), port=free_port(), time_scale=20.0) as plant,
    ):
        mqtt_entry = MqttSource(type="mqtt", port=broker.port, topic="lab/#", tags={"lab/Ca": "Ca"})
        spec = twin.model_copy(update={"sources": [spec_source(twin, plant.endpoint, 0.05), mqtt_entry]})
        stop = threading.Event()

        def lab_results() -> None:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            client.connect(broker.host, broker.port)
            client.loop_start()
            while not stop.is_set():
                client.publish("lab/Ca", json.dumps({"value": 0.5}), qos=1)
                client.publish("lab/Ca", b"not json", qos=1)
                time.sleep(0.2)
            client.disconnect()
            client.loop_stop()

        thread = threading.Thread(target=lab_results)
        thread.start()
        try:
            final = ingest_live(spec, sink, duration=4.0, status_every=0.5, console=console)
        finally:
            stop.set()
            thread.join()
    sources = {s.source for s in sink.samples}
    assert sources == {f"opcua:{plant.endpoint}", f"mqtt://127.0.0.1:{broker.port}/lab/#"}
    assert final.samples_stored == len(sink.samples) > 0
    assert final.rejects_by_reason.get("malformed_payload", 0) >= 1
    text = console.export_text()
    assert "samples/s" in text and "stored" in text and "malformed_payload" in text


def test_a_spec_without_live_sources_is_an_error() -> None:
    with pytest.raises(DataError, match="no live source"):
        ingest_live(reactor_spec(), MemorySink(), duration=0.1)


def test_unencrypted_remote_sources_are_warned_about() -> None:
    twin = reactor_spec().model_copy(
        update={
            "sources": [
                OpcUaSource(type="opcua", endpoint="opc.tcp://10.0.0.5:4840/", nodes={"T": "ns=2;s=T"}),
                OpcUaSource(type="opcua", endpoint="opc.tcp://127.0.0.1:4840/", nodes={"T": "ns=2;s=T"}),
                MqttSource(type="mqtt", host="broker.plant.local", topic="a/#"),
                MqttSource(type="mqtt", host="broker.plant.local", topic="b/#", tls=True),
            ]
        }
    )
    warnings = insecure_sources(twin)
    assert len(warnings) == 2
    assert "10.0.0.5" in warnings[0] and "broker.plant.local" in warnings[1]


@pytest.mark.network
def test_ingest_live_command_streams_into_the_store_and_quarantines_bad_payloads(cli, tmp_path) -> None:
    """`worldtwin ingest --live` end to end: a real OPC UA plant and a real broker into the DuckDB store."""
    import paho.mqtt.client as mqtt

    from worldtwin.spec import save_spec
    from worldtwin.telemetry.store import Store

    twin = reactor_spec()
    with (
        LocalBroker() as broker,
        serve_in_thread(ReactorEnv(twin), port=free_port(), time_scale=20.0) as plant,
    ):
        mqtt_entry = MqttSource(type="mqtt", port=broker.port, topic="lab/#", tags={"lab/Ca": "Ca"})
        spec = twin.model_copy(update={"sources": [spec_source(twin, plant.endpoint, 0.05), mqtt_entry]})
        spec_path = save_spec(spec, tmp_path / "reactor.yaml")
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        publisher.connect(broker.host, broker.port)
        publisher.loop_start()
        stop = threading.Event()

        def lab_results() -> None:
            while not stop.is_set():
                publisher.publish("lab/Ca", json.dumps({"value": 0.5}), qos=1)
                publisher.publish("lab/Ca", b"not json", qos=1)
                time.sleep(0.3)

        thread = threading.Thread(target=lab_results)
        thread.start()
        try:
            result = cli(
                "ingest",
                "--live",
                "--twin",
                str(spec_path),
                "--store",
                str(tmp_path / "store"),
                "--duration",
                "5",
            )
        finally:
            stop.set()
            thread.join()
            publisher.loop_stop()
            publisher.disconnect()
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    with Store.open(tmp_path / "store", spec_path, read_only=True) as store:
        stored = store.query()
        quarantined = store.quarantine()
    assert {"T", "Tc", "Ca"} <= set(stored["tag"].astype(str))
    assert set(stored["source"].astype(str)) >= {f"opcua:{plant.endpoint}"}
    assert (quarantined["reason"] == "malformed_payload").sum() >= 1
    assert "worldtwin store quarantine" in result.stdout
