"""Registration of the twins that ship with worldtwin (one ``register`` call per twin)."""

from __future__ import annotations

from worldtwin.sim.registry import register

__all__ = ["register"]
