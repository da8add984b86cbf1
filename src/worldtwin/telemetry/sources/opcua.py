"""OPC UA live source: a subscription to the nodes the spec maps to tags, reconnecting with backoff.

The source runs an asyncua client on its own thread and event loop. Each session:

1. connects (``security`` from the spec, NoSecurity by default — loopback only, see docs/live-sources.md);
2. resolves every node id of the spec's ``nodes`` mapping. ``nsu=<namespace uri>;s=...`` ids are
   turned into the server's current namespace index, which is safer than a hard-coded ``ns=2``.
   A node the server does not have is reported as a source error and skipped; the others still run;
3. reads each node's ``EngineeringUnits`` property when it has one: a unit compatible with the tag's
   unit is converted, an incompatible one makes every value of that node a ``unit_mismatch`` reject;
4. subscribes to data changes at the spec's ``publishing_interval``.

Each notification becomes a sample stamped with the value's SourceTimestamp (else ServerTimestamp,
else the time of receipt); a status code that is not Good becomes a ``bad_quality`` reject. When the
connection is lost (asyncua's watchdog notices within ``watchdog`` seconds) the session ends and the
source reconnects after an exponential :class:`~.base.Backoff` delay, then re-subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worldtwin.errors import DataError, require
from worldtwin.spec.schema import OpcUaSource, Twin
from worldtwin.telemetry.samples import Sample
from worldtwin.telemetry.sources.base import (
    Backoff,
    Emitter,
    Reject,
    SourceStats,
    TagMapper,
    password_from_env,
)


class OpcUaClientSource:
    """Samples from an OPC UA server's data-change subscription (see module docstring)."""

    def __init__(
        self,
        twin: Twin,
        config: OpcUaSource,
        *,
        name: str | None = None,
        backoff: Backoff | None = None,
        timeout: float = 4.0,
        watchdog: float = 1.0,
        queue_size: int = 0,
    ) -> None:
        self.config = config
        self.name = name or f"opcua:{config.endpoint}"
        self.stats = SourceStats()
        self.mapper = TagMapper(twin, self.name, self.stats)
        self.backoff = backoff or Backoff()
        self.timeout, self.watchdog, self.queue_size = timeout, watchdog, queue_size
        self.subscribed = threading.Event()
        """Set while a subscription is live (tests and benchmarks wait on it)."""
        self._out: Emitter | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    # the Source protocol
    def start(self, out: Emitter) -> None:
        require("asyncua", "opcua")
        self._check_config()
        self._out = out
        ready = threading.Event()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._main(ready)), name=self.name, daemon=True
        )
        self._thread.start()
        ready.wait(5.0)

    def deliver(self, reading: Sample | Reject) -> None:
        if self._out is None:
            return
        if isinstance(reading, Reject):
            self._out.emit((), (reading,))
        else:
            self._out.emit((reading,))

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise DataError(f"OPC UA source {self.name} did not stop within {timeout} s")
        self._thread = None

    def _check_config(self) -> None:
        """Mistakes in the spec entry fail at start, not later on the client thread."""
        if self.config.security != "None" and len(self.config.security.split(",")) < 4:
            raise DataError(
                f"security {self.config.security!r} of {self.name} is incomplete; expected 'None' or "
                "'Policy,Mode,client-cert.pem,client-key.pem[,server-cert.pem]'"
            )
        if self.config.username:
            password_from_env(self.config.password_env, self.name)

    # the client thread
    async def _main(self, ready: threading.Event) -> None:
        from asyncua import ua

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        ready.set()
        while not self._stop.is_set():
            try:
                await self._session()
            except (OSError, TimeoutError, ConnectionError, ua.UaError) as exc:
                self.stats.error(f"{self.config.endpoint}: {type(exc).__name__}: {exc}")
            except Exception as exc:  # anything else asyncua raises must not end a long-running ingest
                self.stats.error(
                    f"{self.config.endpoint}: unexpected {type(exc).__name__}: {exc}; reconnecting"
                )
            self.subscribed.clear()
            if self.stats.connected:
                self.stats.disconnects += 1
            self.stats.connected = False
            if not self._stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.backoff.next())

    async def _session(self) -> None:
        from asyncua import Client

        assert self._stop is not None
        client = Client(self.config.endpoint, timeout=self.timeout, watchdog_intervall=self.watchdog)
        await self._configure_security(client)
        lost = asyncio.Event()

        async def on_lost(exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        await client.connect()
        try:
            nodes = await self._resolve(client)
            handler = _DataChangeHandler(self, nodes)
            subscription = await client.create_subscription(self.config.publishing_interval * 1000, handler)
            if nodes:
                await subscription.subscribe_data_change(
                    [node for node, _, _ in nodes.values()], queuesize=self.queue_size
                )
            self.stats.connected = True
            self.stats.connects += 1
            self.backoff.reset()
            self.subscribed.set()
            stop_wait = asyncio.ensure_future(self._stop.wait())
            lost_wait = asyncio.ensure_future(lost.wait())
            await asyncio.wait([stop_wait, lost_wait], return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            lost_wait.cancel()
            if lost.is_set():
                raise ConnectionError("connection lost; reconnecting with backoff")
        finally:
            await self._disconnect(client)

    async def _disconnect(self, client: Any) -> None:
        from asyncua import ua

        with contextlib.suppress(OSError, TimeoutError, ConnectionError, ua.UaError):
            await asyncio.wait_for(client.disconnect(), self.timeout)

    async def _configure_security(self, client: Any) -> None:
        if self.config.security != "None":
            parts = self.config.security.split(",")
            # The session's application URI must be the one in the client certificate (OPC UA Part 4).
            client.application_uri = _certificate_uri(parts[2]) or client.application_uri
            await client.set_security_string(self.config.security)
        if self.config.username:
            client.set_user(self.config.username)
            password = password_from_env(self.config.password_env, self.name)
            if password is not None:
                client.set_password(password)

    async def _resolve(self, client: Any) -> dict[Any, tuple[Any, str, str | None]]:
        """node id → (node, tag, declared unit) for every mapped node the server has."""
        from asyncua import ua

        resolved: dict[Any, tuple[Any, str, str | None]] = {}
        for tag, text in self.config.nodes.items():
            try:
                node = client.get_node(await _node_id(client, text))
                await node.read_browse_name()
            except (ua.UaError, ValueError) as exc:
                self.stats.error(
                    f"node {text!r} of tag {tag!r} not found on {self.config.endpoint} ({exc}); "
                    "check the node id in the spec (browse the server, e.g. with opcua-client)"
                )
                continue
            resolved[node.nodeid] = (node, tag, await _engineering_unit(node))
        return resolved


class _DataChangeHandler:
    """asyncua subscription callback: one notification → one sample or reject."""

    def __init__(self, source: OpcUaClientSource, nodes: dict[Any, tuple[Any, str, str | None]]) -> None:
        self.source = source
        self.tags = {node_id: (tag, unit) for node_id, (_, tag, unit) in nodes.items()}

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        source = self.source
        source.stats.messages += 1
        source.stats.last_message = time.time()
        tag, unit = self.tags[node.nodeid]
        value = data.monitored_item.Value
        stamp = _epoch(value.SourceTimestamp) or _epoch(value.ServerTimestamp) or time.time()
        status = value.StatusCode
        if status is not None and not status.is_good():
            reading: Any = source.mapper.reject(
                "bad_quality",
                f"{tag!r} ({node.nodeid.to_string()}) has status {status.name}",
                stamp,
                repr(val),
                metric=node.nodeid.to_string(),
            )
        else:
            reading = source.mapper.reading([tag], stamp, val, unit)
        if reading is not None:
            source.deliver(reading)

    def status_change_notification(self, status: Any) -> None:
        self.source.stats.error(f"subscription status changed: {status.Status}")


async def _node_id(client: Any, text: str) -> Any:
    """A NodeId for ``text``; ``nsu=<uri>;`` prefixes are mapped to the server's namespace index."""
    from asyncua import ua

    if text.startswith("nsu="):
        uri, _, rest = text[4:].partition(";")
        index = await client.get_namespace_index(uri)
        return ua.NodeId.from_string(f"ns={index};{rest}")
    return ua.NodeId.from_string(text)


async def _engineering_unit(node: Any) -> str | None:
    """The DisplayName of the node's EngineeringUnits property, when it has one."""
    from asyncua import ua

    try:
        prop = await node.get_child("0:EngineeringUnits")
        info = await prop.read_value()
    except ua.UaError:
        return None
    text = getattr(getattr(info, "DisplayName", None), "Text", None)
    return str(text) if text else None


def _certificate_uri(path: str) -> str | None:
    """The application URI (subjectAltName URI) of a PEM or DER certificate file."""
    from cryptography import x509

    data = Path(path).read_bytes()
    cert = (
        x509.load_pem_x509_certificate(data)
        if data.startswith(b"-----")
        else x509.load_der_x509_certificate(data)
    )
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def _epoch(stamp: datetime | None) -> float | None:
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()
