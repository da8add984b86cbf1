"""``worldtwin serve-plant TWIN --opcua``: a built-in twin as a simulated plant behind an OPC UA server."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
import yaml
from rich.markup import escape

from worldtwin.cli.output import console, err_console
from worldtwin.errors import SimulationError
from worldtwin.sim.registry import make
from worldtwin.telemetry.plant_server import SETPOINT_SUFFIX, PlantServer, namespace_uri, spec_source
from worldtwin.telemetry.sources.base import is_loopback


def register(app: typer.Typer) -> None:
    app.command("serve-plant")(serve_plant)


def serve_plant(
    twin: Annotated[
        str, typer.Argument(help="Registered twin id, e.g. worldtwin/cstr-v1 ('worldtwin twins' lists them).")
    ],
    opcua: Annotated[
        bool, typer.Option("--opcua", help="Serve the plant over OPC UA (the one transport so far).")
    ] = False,
    host: Annotated[
        str, typer.Option(help="Address to bind. Anything but loopback exposes writable set-points.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port of the OPC UA endpoint.")] = 4840,
    time_scale: Annotated[
        float, typer.Option(help="Simulated seconds per wall second (60: a minute per second).")
    ] = 1.0,
    seed: Annotated[
        int, typer.Option(help="Seed of the first episode (the next episodes use seed+1, ...).")
    ] = 0,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many wall seconds (default: Ctrl-C).")
    ] = None,
) -> None:
    """Run a built-in twin as a simulated plant behind a real OPC UA server.

    Every tag is a readable variable (node id s=<tag>, with its engineering unit); every action has a
    writable set-point (s=<tag>.setpoint) that is applied through the twin's bounds and rate limits.
    The plant advances one sample period every sample_period / time-scale wall seconds. It prints the
    'sources:' entry that ingests it. No security: keep it on 127.0.0.1.

    Example:  worldtwin serve-plant worldtwin/cstr-v1 --opcua --time-scale 60
    """
    if not opcua:
        raise SimulationError("choose how to serve the plant: add --opcua (the only transport so far)")
    env = make(twin)
    plant = PlantServer(env, host=host, port=port, time_scale=time_scale, seed=seed)
    if not is_loopback(host):
        err_console.print(
            f"[yellow]warning:[/yellow] serving on {escape(host)} without security: anyone who can "
            "reach this port can read the plant and write its set-points",
            highlight=False,
        )
    try:
        asyncio.run(_serve(plant, duration))
    except KeyboardInterrupt:
        err_console.print("plant server stopped")


async def _serve(plant: PlantServer, duration: float | None) -> None:
    async with plant:
        spec = plant.twin
        console.print(
            f"[bold]{escape(spec.name)}[/bold] plant on [bold]{plant.endpoint}[/bold] "
            f"(namespace {namespace_uri(spec)}), Δt = {spec.sample_period:g} s × 1/{plant.time_scale:g}",
            highlight=False,
        )
        for name in spec.action_names:
            console.print(
                f"  writable set-point: nsu={namespace_uri(spec)};s={name}{SETPOINT_SUFFIX}", highlight=False
            )
        entry = spec_source(spec, plant.endpoint).model_dump(mode="json", exclude_defaults=True)
        console.print(
            "add to the twin spec to ingest it:\n" + yaml.safe_dump({"sources": [entry]}, sort_keys=False),
            markup=False,
            highlight=False,
        )
        started = time.monotonic()
        while duration is None or time.monotonic() - started < duration:
            await asyncio.sleep(
                1.0 if duration is None else min(1.0, max(duration - (time.monotonic() - started), 0))
            )
            setpoints = ", ".join(f"{k}={v:g}" for k, v in plant.setpoints.items())
            err_console.print(
                f"step {plant.steps:,} · simulated {plant.steps * spec.sample_period:,.0f} s · "
                f"episode {plant.episodes} · {setpoints}",
                highlight=False,
            )
