"""``worldtwin ingest --live``: run the spec's live sources into a store, with a status line.

The ``ingest`` command (cli/telemetry.py) owns the store and calls :func:`ingest_live`; this module
only runs sources and reports. Stop with Ctrl-C (everything received is written before exit) or
give a duration.
"""

from __future__ import annotations

import time
from urllib.parse import urlparse

from rich.console import Console
from rich.live import Live
from rich.markup import escape

from worldtwin.cli.output import err_console
from worldtwin.spec.schema import MqttSource, OpcUaSource, Twin
from worldtwin.telemetry.samples import SampleSink
from worldtwin.telemetry.sources import Ingest, IngestStatus, RejectSink, sources_from_spec
from worldtwin.telemetry.sources.base import is_loopback


def insecure_sources(twin: Twin) -> list[str]:
    """Warnings for live sources that talk to another machine without encryption."""
    warnings = []
    for source in twin.sources:
        if isinstance(source, OpcUaSource) and source.security == "None":
            host = urlparse(source.endpoint).hostname or ""
            if not is_loopback(host):
                warnings.append(
                    f"OPC UA {source.endpoint} without security: readings and credentials travel "
                    "in clear text; set 'security:' on this source (docs/live-sources.md)"
                )
        elif isinstance(source, MqttSource) and not source.tls and not is_loopback(source.host):
            warnings.append(
                f"MQTT {source.host}:{source.port} without TLS: set 'tls: true' on this source "
                "(docs/live-sources.md)"
            )
    return warnings


def ingest_live(
    twin: Twin,
    sink: SampleSink,
    *,
    quarantine: RejectSink | None = None,
    duration: float | None = None,
    status_every: float = 1.0,
    console: Console = err_console,
) -> IngestStatus:
    """Run every live source of ``twin`` into ``sink`` until Ctrl-C or ``duration`` seconds; returns the
    final status (samples stored, rejects by reason, source errors)."""
    sources = sources_from_spec(twin)
    for warning in insecure_sources(twin):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    names = ", ".join(s.name for s in sources)
    console.print(
        f"ingesting live data for twin '{twin.name}' from {escape(names)} — Ctrl-C to stop", highlight=False
    )
    ingest = Ingest(sink, quarantine)
    for source in sources:
        ingest.add(source)
    deadline = None if duration is None else time.monotonic() + duration
    with ingest, Live(console=console, auto_refresh=False, transient=False) as live:
        try:
            while deadline is None or time.monotonic() < deadline:
                time.sleep(
                    status_every
                    if deadline is None
                    else max(min(status_every, deadline - time.monotonic()), 0)
                )
                live.update(escape(ingest.status().line()), refresh=True)
        except KeyboardInterrupt:
            console.print("stopping: writing what was received…")
    final = ingest.status()
    console.print(
        f"stored {final.samples_stored:,} samples, {final.rejects:,} rejected "
        f"({', '.join(f'{k} {v}' for k, v in sorted(final.rejects_by_reason.items())) or 'none'})",
        highlight=False,
    )
    for name, stats in final.sources.items():
        if stats.errors:
            console.print(
                f"[yellow]{escape(name)}[/yellow]: {stats.errors} error(s), last: {escape(stats.last_error)}",
                highlight=False,
            )
        if stats.unknown_names:
            top = ", ".join(f"{n} ×{c}" for n, c in stats.unknown_names.most_common(5))
            console.print(
                f"{escape(name)}: values of unmapped metrics (not stored): {escape(top)}", highlight=False
            )
    return final
