"""Shared fixtures for the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from worldtwin.spec import Twin, load_spec

HERE = Path(__file__).parent


@pytest.fixture
def tank_spec() -> Twin:
    """A small valid spec: a buffer tank with a valve, a known-ahead inflow and a slow analyzer."""
    return load_spec(HERE / "spec" / "valid.yaml")
