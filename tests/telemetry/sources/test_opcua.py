"""OPC UA source against a real asyncua server (the simulated plant): data, units, errors, reconnect."""

from __future__ import annotations

import asyncio
import itertools
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.telemetry.live import REACTOR_YAML, MemorySink, ReactorEnv, wait_for
from worldtwin.spec import Twin, parse_spec
from worldtwin.spec.schema import OpcUaSource
from worldtwin.telemetry.local_broker import free_port
from worldtwin.telemetry.plant_server import namespace_uri, serve_in_thread, spec_source
from worldtwin.telemetry.sources import Backoff, Ingest, MemoryQuarantine
from worldtwin.telemetry.sources.opcua import OpcUaClientSource

pytestmark = pytest.mark.network

SCALE = 20.0  # 1 s sample period → one step every 50 ms


def _source(twin: Twin, config: OpcUaSource) -> OpcUaClientSource:
    return OpcUaClientSource(twin, config, backoff=Backoff(0.1, 0.5), watchdog=0.3, timeout=2.0)


def test_subscription_delivers_every_tag_with_simulated_timestamps(reactor: Twin, sink: MemorySink) -> None:
    with serve_in_thread(ReactorEnv(reactor), port=free_port(), time_scale=SCALE) as plant:
        config = spec_source(reactor, plant.endpoint, publishing_interval=0.05)
        source = _source(reactor, config)
        with Ingest(sink, max_delay=0.05) as ingest:
            ingest.add(source)
            assert source.subscribed.wait(20)
            wait_for(lambda: len(sink.of("T")) >= 10, what="10 samples of T")
            status = ingest.status()
    assert sink.tags() == {"T", "Ca", "Tc"}
    times = sorted({s.time for s in sink.of("T")})
    steps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    assert steps and all(
        step == pytest.approx(round(step)) and step >= 1 for step in steps
    )  # multiples of Δt
    assert all(s.value == 300.0 for s in sink.of("Tc"))  # the default action, applied
    assert status.rejects == 0 and source.stats.errors == 0 and source.stats.connects == 1


def test_plain_ns_node_ids_work_too(reactor: Twin, sink: MemorySink) -> None:
    with serve_in_thread(ReactorEnv(reactor), port=free_port(), time_scale=SCALE) as plant:
        config = OpcUaSource(
            type="opcua", endpoint=plant.endpoint, nodes={"Ca": "ns=2;s=Ca"}, publishing_interval=0.05
        )
        source = _source(reactor, config)
        with Ingest(sink) as ingest:
            ingest.add(source)
            wait_for(lambda: len(sink.of("Ca")) >= 3, timeout=20, what="samples of Ca")
    assert sink.tags() == {"Ca"}


def test_engineering_units_are_converted_or_rejected(reactor: Twin, sink: MemorySink) -> None:
    """The server declares T in K and Ca in mol/L; this client's spec wants T in degC and Ca in bar."""
    client_twin = parse_spec(
        REACTOR_YAML.replace("unit: K, range: [250, 450]", "unit: degC").replace("unit: mol/L", "unit: bar")
    )
    with serve_in_thread(ReactorEnv(reactor), port=free_port(), time_scale=SCALE) as plant:
        uri = namespace_uri(reactor)
        config = OpcUaSource(
            type="opcua",
            endpoint=plant.endpoint,
            publishing_interval=0.05,
            nodes={"T": f"nsu={uri};s=T", "Ca": f"nsu={uri};s=Ca"},
        )
        source = _source(client_twin, config)
        quarantine = MemoryQuarantine()
        with Ingest(sink, quarantine) as ingest:
            ingest.add(source)
            wait_for(
                lambda: len(sink.of("T")) >= 3 and len(quarantine.rejects) >= 3,
                timeout=20,
                what="converted T and rejected Ca",
            )
    assert all(10 < s.value < 100 for s in sink.of("T"))  # ~320 K is ~47 °C
    assert not sink.of("Ca")
    assert {r.reason for r in quarantine.rejects} == {"unit_mismatch"}
    assert all(r.tag == "Ca" and "'mol/L'" in r.detail for r in quarantine.rejects)


def test_a_node_the_server_lacks_is_an_error_and_the_rest_still_flows(
    reactor: Twin, sink: MemorySink
) -> None:
    with serve_in_thread(ReactorEnv(reactor), port=free_port(), time_scale=SCALE) as plant:
        config = OpcUaSource(
            type="opcua",
            endpoint=plant.endpoint,
            publishing_interval=0.05,
            nodes={"T": "ns=2;s=T", "Ca": "ns=2;s=NoSuchNode"},
        )
        source = _source(reactor, config)
        with Ingest(sink) as ingest:
            ingest.add(source)
            wait_for(lambda: len(sink.of("T")) >= 3, timeout=20, what="samples of T")
    assert source.stats.errors == 1
    assert "NoSuchNode" in source.stats.last_error and "'Ca'" in source.stats.last_error


def test_bad_status_code_becomes_a_bad_quality_reject(reactor: Twin, sink: MemorySink) -> None:
    from asyncua import Client, ua

    with serve_in_thread(ReactorEnv(reactor), port=free_port(), time_scale=SCALE) as plant:
        config = OpcUaSource(
            type="opcua",
            endpoint=plant.endpoint,
            publishing_interval=0.05,
            nodes={"Tc": "ns=2;s=Tc.setpoint"},
        )
        source = _source(reactor, config)
        quarantine = MemoryQuarantine()
        with Ingest(sink, quarantine) as ingest:
            ingest.add(source)
            assert source.subscribed.wait(20)
            wait_for(lambda: len(sink.of("Tc")) >= 1, timeout=20, what="the initial set-point")

            async def write_bad() -> None:
                async with Client(plant.endpoint) as client:
                    node = client.get_node("ns=2;s=Tc.setpoint")
                    await node.write_value(
                        ua.DataValue(StatusCode=ua.StatusCode(ua.StatusCodes.BadSensorFailure))
                    )

            asyncio.run(write_bad())
            wait_for(lambda: len(quarantine.rejects) >= 1, timeout=20, what="the bad_quality reject")
    assert (
        quarantine.rejects[0].reason == "bad_quality" and "BadSensorFailure" in quarantine.rejects[0].detail
    )


def test_reconnects_with_backoff_when_the_server_restarts(reactor: Twin, sink: MemorySink) -> None:
    port = free_port()
    source: Any = None
    with Ingest(sink, max_delay=0.05) as ingest:
        with serve_in_thread(ReactorEnv(reactor), port=port, time_scale=SCALE) as plant:
            source = _source(reactor, spec_source(reactor, plant.endpoint, publishing_interval=0.05))
            ingest.add(source)
            wait_for(lambda: len(sink.of("T")) >= 3, timeout=20, what="data before the restart")
        wait_for(
            lambda: not source.stats.connected, timeout=10, what="the source to notice the server is gone"
        )
        before = len(sink.samples)
        with serve_in_thread(ReactorEnv(reactor), port=port, time_scale=SCALE, seed=1):
            wait_for(lambda: source.stats.connects >= 2, timeout=20, what="the reconnect")
            wait_for(lambda: len(sink.samples) >= before + 6, timeout=20, what="data after the restart")
    assert source.stats.disconnects >= 1 and source.stats.errors >= 1
    assert (
        "connection lost" in source.stats.last_error
        or "Refused" in source.stats.last_error
        or "refused" in source.stats.last_error
    )


def test_signed_and_encrypted_session_with_user_and_password(
    reactor: Twin, sink: MemorySink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Basic256Sha256 + SignAndEncrypt with self-made certificates; a user whose password is in the env."""
    from asyncua import Server, ua
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from asyncua.crypto.permission_rules import User, UserRole
    from asyncua.server.user_managers import UserManager
    from cryptography.x509.oid import ExtendedKeyUsageOID

    class OneUser(UserManager):
        def get_user(
            self,
            iserver: Any,
            username: str | None = None,
            password: str | None = None,
            certificate: Any = None,
        ) -> User | None:
            return User(role=UserRole.User) if (username, password) == ("ingest", "s3cret") else None

    async def certificates() -> None:
        for who, use in (
            ("server", ExtendedKeyUsageOID.SERVER_AUTH),
            ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
        ):
            await setup_self_signed_certificate(
                tmp_path / f"{who}-key.pem",
                tmp_path / f"{who}-cert.der",
                f"urn:worldtwin:test-{who}",
                "localhost",
                [use],
                {"commonName": f"worldtwin test {who}"},
            )

    asyncio.run(certificates())
    port = free_port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/secure/"
    ready, stop = threading.Event(), threading.Event()

    async def serve() -> None:
        server = Server(user_manager=OneUser())
        await server.init()
        server.set_endpoint(endpoint)
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        server.set_security_IDs(["Username"])
        await server.load_certificate(str(tmp_path / "server-cert.der"))
        await server.load_private_key(str(tmp_path / "server-key.pem"))
        node = await server.nodes.objects.add_variable(ua.NodeId("T", 2), "2:T", 300.0)
        async with server:
            ready.set()
            value = 300.0
            while not stop.is_set():
                value += 1.0
                await node.write_value(value)
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(30)
    monkeypatch.setenv("WT_TEST_OPCUA_PASSWORD", "s3cret")
    security = f"Basic256Sha256,SignAndEncrypt,{tmp_path / 'client-cert.der'},{tmp_path / 'client-key.pem'}"
    try:
        config = OpcUaSource(
            type="opcua",
            endpoint=endpoint,
            nodes={"T": "ns=2;s=T"},
            publishing_interval=0.05,
            security=security,
            username="ingest",
            password_env="WT_TEST_OPCUA_PASSWORD",
        )
        source = _source(reactor, config)
        with Ingest(sink) as ingest:
            ingest.add(source)
            wait_for(lambda: len(sink.of("T")) >= 3, timeout=30, what="samples over the encrypted session")
        assert source.stats.errors == 0
        # the wrong password is refused by the server and reported, not ignored
        monkeypatch.setenv("WT_TEST_OPCUA_PASSWORD", "wrong")
        refused = _source(reactor, config)
        with Ingest(MemorySink()) as ingest:
            ingest.add(refused)
            wait_for(lambda: refused.stats.errors >= 1, timeout=30, what="the refused login")
        assert not refused.subscribed.is_set()
        assert "BadUserAccessDenied" in refused.stats.last_error or "Identity" in refused.stats.last_error
    finally:
        stop.set()
        thread.join(10)


def test_spec_mistakes_fail_at_start(reactor: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    from worldtwin.errors import DataError

    monkeypatch.delenv("WT_UNSET_PASSWORD", raising=False)
    incomplete = OpcUaSource(
        type="opcua",
        endpoint="opc.tcp://127.0.0.1:1/",
        nodes={"T": "ns=2;s=T"},
        security="Basic256Sha256,SignAndEncrypt",
    )
    with pytest.raises(DataError, match="incomplete"):
        _source(reactor, incomplete).start(Ingest(MemorySink()))
    no_password = OpcUaSource(
        type="opcua",
        endpoint="opc.tcp://127.0.0.1:1/",
        nodes={"T": "ns=2;s=T"},
        username="u",
        password_env="WT_UNSET_PASSWORD",
    )
    with pytest.raises(DataError, match="WT_UNSET_PASSWORD"):
        _source(reactor, no_password).start(Ingest(MemorySink()))
