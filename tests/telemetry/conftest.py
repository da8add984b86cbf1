"""Fixtures for the telemetry tests: the test plant spec, its bad-input corpus and a fresh store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from worldtwin.spec.loading import load_spec
from worldtwin.spec.schema import Twin
from worldtwin.telemetry.store import Store

HERE = Path(__file__).parent
SPEC = HERE / "plant.yaml"
CORPUS = HERE / "corpus"


@pytest.fixture
def plant() -> Twin:
    return load_spec(SPEC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store of the test plant, opened from its spec file (so its file sources resolve)."""
    with Store.open(tmp_path / "plant.store", SPEC) as opened:
        yield opened
