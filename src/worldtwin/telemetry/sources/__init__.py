"""Live sources: OPC UA subscriptions and MQTT (JSON or Sparkplug B) behind one :class:`Source` protocol.

``sources_from_spec(twin)`` builds one source per live entry of the spec's ``sources:``; an
:class:`Ingest` runs them and writes batches into any :class:`~worldtwin.telemetry.samples.SampleSink`::

    with Ingest(store) as ingest:
        for source in sources_from_spec(twin):
            ingest.add(source)
        ...                                     # ingest.status().line() for a status line

The protocol modules import their optional dependency (asyncua, paho-mqtt/protobuf) only when used.
"""

from __future__ import annotations

from typing import Any

from worldtwin.errors import DataError, require
from worldtwin.spec.schema import MqttSource, OpcUaSource, Twin
from worldtwin.telemetry.sources.base import (
    REJECT_REASONS,
    Backoff,
    Emitter,
    Ingest,
    IngestStatus,
    MemoryQuarantine,
    Reject,
    RejectSink,
    Source,
    SourceStats,
    TagMapper,
)

__all__ = [
    "REJECT_REASONS",
    "Backoff",
    "Emitter",
    "Ingest",
    "IngestStatus",
    "MemoryQuarantine",
    "Reject",
    "RejectSink",
    "Source",
    "SourceStats",
    "TagMapper",
    "live_source",
    "sources_from_spec",
]


def live_source(twin: Twin, config: OpcUaSource | MqttSource, **options: Any) -> Source:
    """The source object for one ``sources:`` entry of type ``opcua`` or ``mqtt``."""
    if isinstance(config, OpcUaSource):
        require("asyncua", "opcua")
        from worldtwin.telemetry.sources.opcua import OpcUaClientSource

        return OpcUaClientSource(twin, config, **options)
    require("paho.mqtt.client", "mqtt")
    if config.payload == "sparkplug":
        require("google.protobuf", "mqtt")
        from worldtwin.telemetry.sources.sparkplug import SparkplugSource

        return SparkplugSource(twin, config, **options)
    from worldtwin.telemetry.sources.mqtt import MqttJsonSource

    return MqttJsonSource(twin, config, **options)


def sources_from_spec(twin: Twin) -> list[Source]:
    """One live source per ``opcua`` / ``mqtt`` entry of ``twin.sources`` (file and simulator entries are
    not live and are skipped). Raises :class:`DataError` when the spec has no live source."""
    live = [s for s in twin.sources if isinstance(s, OpcUaSource | MqttSource)]
    if not live:
        raise DataError(
            f"twin '{twin.name}' has no live source (type: opcua or mqtt) under 'sources:'; add one, "
            "e.g. '- {type: opcua, endpoint: opc.tcp://127.0.0.1:4840/worldtwin/, nodes: {T: ns=2;s=T}}'"
        )
    return [live_source(twin, config) for config in live]
