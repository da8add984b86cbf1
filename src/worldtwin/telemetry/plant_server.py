"""A simulated plant behind a real OPC UA server: any :class:`~worldtwin.sim.env.TwinEnv` and its spec.

The server exposes one folder ``Objects/<twin name>`` in the namespace ``urn:worldtwin:<twin name>``:

* one read-only variable per tag, node id ``s=<tag>`` — measured tags and the action *applied* last
  step — with an ``EngineeringUnits`` property (the spec unit) and an ``EURange`` when the tag has a
  range;
* one writable variable per action, node id ``s=<tag>.setpoint``: what a client writes there is the
  *requested* set-point. Each step applies it through the env's bounds and rate-limit clipping, so
  the ``s=<tag>`` variable shows what the plant actually did.

Every ``sample_period / time_scale`` wall seconds the env advances one step and every tag is written
with a SourceTimestamp of ``start + simulated seconds`` (so timestamps are spaced by the spec's
sample period whatever the time scale). An episode that ends is reset with the next seed.

The server binds 127.0.0.1 by default, with NoSecurity: a test and demo plant, not a production
endpoint. :func:`spec_source` gives the ``sources:`` entry that ingests this server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any

import numpy as np

from worldtwin.errors import SimulationError, require
from worldtwin.sim.env import TwinEnv
from worldtwin.spec.schema import OpcUaSource, Twin

SETPOINT_SUFFIX = ".setpoint"


def namespace_uri(twin: Twin) -> str:
    return f"urn:worldtwin:{twin.name}"


def endpoint_url(host: str, port: int) -> str:
    return f"opc.tcp://{host}:{port}/worldtwin/"


def spec_source(twin: Twin, endpoint: str, publishing_interval: float | None = None) -> OpcUaSource:
    """The ``sources:`` entry that subscribes to every tag this server publishes."""
    uri = namespace_uri(twin)
    return OpcUaSource(
        type="opcua",
        endpoint=endpoint,
        nodes={t: f"nsu={uri};s={t}" for t in twin.tag_names},
        publishing_interval=publishing_interval or twin.sample_period,
    )


class PlantServer:
    """An asyncua server stepping ``env`` in scaled real time. See also :func:`serve_in_thread`."""

    def __init__(
        self,
        env: TwinEnv,
        *,
        host: str = "127.0.0.1",
        port: int = 4840,
        time_scale: float = 1.0,
        seed: int | None = 0,
        on_step: Callable[[dict[str, float]], None] | None = None,
    ) -> None:
        if not time_scale > 0 or not math.isfinite(time_scale):
            raise SimulationError(
                f"time scale {time_scale!r} must be a positive number (1 = real time, "
                "60 = one simulated minute per second)"
            )
        require("asyncua", "opcua")
        self.env = env
        self.twin: Twin = env.twin
        self.host, self.port, self.time_scale, self.seed = host, port, time_scale, seed
        self.on_step = on_step
        self.endpoint = endpoint_url(host, port)
        self.steps = 0
        self.episodes = 0
        self.setpoints: dict[str, float] = {}
        """The requested set-points as last written by a client (before clipping)."""
        self._server: Any = None
        self._tag_nodes: dict[str, Any] = {}
        self._setpoint_nodes: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._start_wall = 0.0

    async def __aenter__(self) -> PlantServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        from asyncua import Server, ua

        logging.getLogger("asyncua").setLevel(logging.ERROR)  # NoSecurity warnings are expected on loopback
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"worldtwin simulated plant: {self.twin.metadata.title or self.twin.name}")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        index = await server.register_namespace(namespace_uri(self.twin))
        folder = await server.nodes.objects.add_folder(
            ua.NodeId(ua.String(self.twin.name), ua.Int16(index)), f"{index}:{self.twin.name}"
        )
        _, info = self.env.reset(seed=self.seed)
        tags = info["tags"]
        for tag in self.twin.tags:
            node = await folder.add_variable(
                ua.NodeId(ua.String(tag.name), ua.Int16(index)),
                f"{index}:{tag.name}",
                float(tags[tag.name]),
                varianttype=ua.VariantType.Double,
            )
            await _add_unit_properties(node, tag.unit, tag.range)
            self._tag_nodes[tag.name] = node
        for name in self.twin.action_names:
            start = float(tags[name])
            node = await folder.add_variable(
                ua.NodeId(ua.String(name + SETPOINT_SUFFIX), ua.Int16(index)),
                f"{index}:{name}{SETPOINT_SUFFIX}",
                start,
                varianttype=ua.VariantType.Double,
            )
            await node.set_writable()
            await _add_unit_properties(node, self.twin.tag(name).unit, None)
            self._setpoint_nodes[name] = node
            self.setpoints[name] = start
        self._server = server
        await server.start()
        self._start_wall = time.time()
        await self._write(tags, self._start_wall)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def _run(self) -> None:
        period = self.twin.sample_period / self.time_scale
        next_tick = time.monotonic() + period
        while True:
            await asyncio.sleep(max(next_tick - time.monotonic(), 0.0))
            next_tick += period
            await self._step()

    async def _step(self) -> None:
        action = np.asarray([self._requested(name) for name in self.twin.action_names], dtype=np.float64)
        _, _, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        stamp = self._start_wall + self.steps * self.twin.sample_period
        if terminated or truncated:
            self.episodes += 1
            seed = None if self.seed is None else self.seed + self.episodes
            _, info = self.env.reset(seed=seed)
        tags = info["tags"]
        await self._write(tags, stamp)
        if self.on_step is not None:
            self.on_step(tags)

    def _requested(self, name: str) -> float:
        value = self._server.read_attribute_value(self._setpoint_nodes[name].nodeid).Value.Value
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            self.setpoints[name] = float(value)
        return self.setpoints[name]  # a non-finite or not_numeric write keeps the last good set-point

    async def _write(self, tags: dict[str, float], stamp: float) -> None:
        from asyncua import ua

        when = ua.DateTime.fromtimestamp(stamp, UTC)
        now = ua.DateTime.now(UTC)
        for name, node in self._tag_nodes.items():
            value = ua.DataValue(
                ua.Variant(float(tags[name]), ua.VariantType.Double),
                SourceTimestamp=when,
                ServerTimestamp=now,
            )
            await self._server.write_attribute_value(node.nodeid, value)


async def _add_unit_properties(node: Any, unit: str, tag_range: tuple[float, float] | None) -> None:
    from asyncua import ua

    info = ua.EUInformation(
        NamespaceUri="https://pint.readthedocs.io",
        UnitId=-1,
        DisplayName=ua.LocalizedText(unit),
        Description=ua.LocalizedText(unit),
    )
    await node.add_property(0, "EngineeringUnits", info)
    if tag_range is not None:
        await node.add_property(0, "EURange", ua.Range(Low=tag_range[0], High=tag_range[1]))


@contextlib.contextmanager
def serve_in_thread(env: TwinEnv, **options: Any) -> Iterator[PlantServer]:
    """Run a :class:`PlantServer` on a background thread for the duration of a ``with`` block."""
    plant = PlantServer(env, **options)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(plant.start())
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(plant.stop())
        loop.close()

    thread = threading.Thread(target=run, name=f"plant-server:{plant.port}", daemon=True)
    thread.start()
    started.wait(60)
    if failure:
        raise failure[0]
    try:
        yield plant
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
