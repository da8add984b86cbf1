"""The simulated plant behind OPC UA: tags readable, set-points writable and clipped like actuators."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from tests.telemetry.live import ReactorEnv, reactor_spec, wait_for
from worldtwin.errors import SimulationError
from worldtwin.spec import Twin
from worldtwin.telemetry.local_broker import free_port
from worldtwin.telemetry.plant_server import PlantServer, namespace_uri, serve_in_thread, spec_source

pytestmark = pytest.mark.network


@pytest.fixture
def reactor() -> Twin:
    return reactor_spec()


async def _client_session(endpoint: str, body: Any) -> Any:
    from asyncua import Client

    async with Client(endpoint) as client:
        index = await client.get_namespace_index("urn:worldtwin:reactor")
        return await body(client, index)


def test_written_setpoint_is_applied_through_bounds_and_rate_limit(reactor: Twin) -> None:
    from asyncua import ua

    applied: list[float] = []
    with serve_in_thread(
        ReactorEnv(reactor),
        port=free_port(),
        time_scale=20.0,
        on_step=lambda tags: applied.append(tags["Tc"]),
    ) as plant:

        async def write_and_read(client: Any, index: int) -> tuple[float, str]:
            setpoint = client.get_node(f"ns={index};s=Tc.setpoint")
            await setpoint.write_value(ua.DataValue(ua.Variant(500.0, ua.VariantType.Double)))
            unit = await (
                await client.get_node(f"ns={index};s=T").get_child("0:EngineeringUnits")
            ).read_value()
            return float(await setpoint.read_value()), unit.DisplayName.Text

        requested, unit = asyncio.run(_client_session(plant.endpoint, write_and_read))
        wait_for(lambda: len(applied) > 20 and applied[-1] == 360.0, timeout=20, what="Tc to reach its bound")
    assert requested == 500.0 and plant.setpoints["Tc"] == 500.0
    assert unit == "K"
    moves = [b - a for a, b in itertools.pairwise(applied) if b != a]
    assert moves and max(moves) <= 5.0 + 1e-9  # max_rate 5 K/s × Δt 1 s
    assert max(applied) == 360.0  # upper bound of the action


def test_a_setpoint_of_the_wrong_type_is_refused_by_the_server(reactor: Twin) -> None:
    from asyncua import ua

    with serve_in_thread(ReactorEnv(reactor), port=free_port(), time_scale=20.0) as plant:

        async def write_text(client: Any, index: int) -> None:
            await client.get_node(f"ns={index};s=Tc.setpoint").write_value("hot")

        with pytest.raises(ua.UaStatusCodeError, match="BadTypeMismatch"):
            asyncio.run(_client_session(plant.endpoint, write_text))
        steps = plant.steps
        wait_for(lambda: plant.steps > steps + 2, what="more steps")
    assert plant.setpoints["Tc"] == 300.0


def test_tags_are_read_only(reactor: Twin) -> None:
    from asyncua import ua

    with serve_in_thread(ReactorEnv(reactor), port=free_port(), time_scale=20.0) as plant:

        async def write_measurement(client: Any, index: int) -> None:
            await client.get_node(f"ns={index};s=T").write_value(1.0)

        with pytest.raises(ua.UaStatusCodeError, match=r"BadUserAccessDenied|BadNotWritable"):
            asyncio.run(_client_session(plant.endpoint, write_measurement))


def test_episodes_restart_when_the_env_truncates(reactor: Twin) -> None:
    with serve_in_thread(
        ReactorEnv(reactor, max_episode_steps=3), port=free_port(), time_scale=50.0
    ) as plant:
        wait_for(lambda: plant.episodes >= 2, timeout=20, what="two finished episodes")


def test_spec_source_maps_every_tag_by_namespace_uri(reactor: Twin) -> None:
    source = spec_source(reactor, "opc.tcp://127.0.0.1:4841/worldtwin/")
    assert source.nodes == {t: f"nsu={namespace_uri(reactor)};s={t}" for t in reactor.tag_names}
    assert source.publishing_interval == reactor.sample_period


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan")])
def test_time_scale_must_be_positive(reactor: Twin, scale: float) -> None:
    with pytest.raises(SimulationError, match="time scale"):
        PlantServer(ReactorEnv(reactor), time_scale=scale)
