"""``worldtwin serve-plant``: a registered twin behind a real OPC UA server, driven from the command line."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.telemetry.live import ReactorEnv, reactor_spec, wait_for
from worldtwin.cli import app
from worldtwin.sim.registry import register, registered
from worldtwin.telemetry.local_broker import free_port

TEST_TWIN = "tests/reactor-v1"


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    if TEST_TWIN not in registered():
        register(TEST_TWIN, lambda **kw: ReactorEnv(reactor_spec(), **kw), description="test reactor")


@pytest.mark.network
def test_serves_a_registered_twin_that_a_client_reads_and_steers() -> None:
    from asyncua import Client, ua

    port = free_port()
    result: dict[str, Any] = {}

    def serve() -> None:
        args = [
            "serve-plant",
            TEST_TWIN,
            "--opcua",
            "--port",
            str(port),
            "--time-scale",
            "20",
            "--duration",
            "6",
        ]
        result["run"] = CliRunner().invoke(app, args)

    thread = threading.Thread(target=serve)
    thread.start()

    async def steer() -> list[float]:
        endpoint = f"opc.tcp://127.0.0.1:{port}/worldtwin/"
        for _ in range(100):  # the server needs a moment to start
            try:
                async with Client(endpoint) as client:
                    index = await client.get_namespace_index("urn:worldtwin:reactor")
                    await client.get_node(f"ns={index};s=Tc.setpoint").write_value(
                        ua.DataValue(ua.Variant(350.0, ua.VariantType.Double))
                    )
                    seen = []
                    for _ in range(40):
                        seen.append(float(await client.get_node(f"ns={index};s=Tc").read_value()))
                        await asyncio.sleep(0.05)
                    return seen
            except OSError:
                await asyncio.sleep(0.1)
        raise AssertionError("the plant server never came up")

    applied = asyncio.run(steer())
    thread.join(30)
    run = result["run"]
    assert run.exit_code == 0, run.output
    assert f"opc.tcp://127.0.0.1:{port}/worldtwin/" in run.output
    snippet = yaml.safe_load(run.output[run.output.index("sources:") :].split("\nstep ")[0])
    assert snippet["sources"][0]["nodes"]["T"] == "nsu=urn:worldtwin:reactor;s=T"
    assert applied[0] < applied[-1] <= 350.0  # moving towards the set-point at the rate limit


def test_needs_a_transport(cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    run = cli("serve-plant", TEST_TWIN)
    assert run.returncode == 2
    assert "--opcua" in run.stderr


def test_unknown_twin_is_a_clear_error(cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    run = cli("serve-plant", "worldtwin/no-such-plant-v1", "--opcua")
    assert run.returncode == 2
    assert "no twin registered" in run.stderr and "Traceback" not in run.stderr


def test_help_has_an_example(cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    run = cli("serve-plant", "--help")
    assert run.returncode == 0 and "Example:" in run.stdout and "--time-scale" in run.stdout


@pytest.mark.network
def test_a_built_in_twin_served_by_the_console_script_is_ingested() -> None:
    """The real command in a subprocess, with a twin that ships with worldtwin, read by the OPC UA source."""
    from tests.cli.conftest import WORLDTWIN
    from tests.telemetry.live import MemorySink
    from worldtwin.sim.registry import spec_of
    from worldtwin.telemetry.plant_server import endpoint_url, spec_source
    from worldtwin.telemetry.sources import Ingest
    from worldtwin.telemetry.sources.opcua import OpcUaClientSource

    twin_id = "worldtwin/packaging-line-v1"
    twin = spec_of(twin_id)
    port = free_port()
    args = [
        str(WORLDTWIN),
        "serve-plant",
        twin_id,
        "--opcua",
        "--port",
        str(port),
        "--time-scale",
        "600",
        "--duration",
        "20",
    ]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sink = MemorySink()
        source = OpcUaClientSource(
            twin, spec_source(twin, endpoint_url("127.0.0.1", port), publishing_interval=0.1)
        )
        with Ingest(sink) as ingest:
            ingest.add(source)
            wait_for(lambda: len(sink.of("line.throughput")) >= 3, timeout=30, what="line throughput samples")
        assert len(sink.tags()) == len(twin.tag_names)  # every tag arrived
        assert source.stats.connects == 1  # earlier attempts, while the server was starting, were retried
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert "writable set-point: nsu=urn:worldtwin:packaging-line;s=filler.speed.setpoint" in out
