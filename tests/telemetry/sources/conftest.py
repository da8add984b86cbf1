"""Fixtures for the live-source tests: a real local broker, a memory sink, a publisher, a test plant."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.telemetry.live import MemorySink, reactor_spec
from worldtwin.spec import Twin
from worldtwin.telemetry.local_broker import LocalBroker


@pytest.fixture
def reactor() -> Twin:
    return reactor_spec()


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def broker() -> Iterator[LocalBroker]:
    """Debian mosquitto when installed (make test installs it), else amqtt; 127.0.0.1, ephemeral port."""
    with LocalBroker() as running:
        yield running


@pytest.fixture
def publisher(broker: LocalBroker) -> Iterator[Any]:
    """A connected paho client on the test broker (messages are published with wait_for_publish by tests)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.reconnect_delay_set(0.1, 0.5)
    client.connect(broker.host, broker.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()
