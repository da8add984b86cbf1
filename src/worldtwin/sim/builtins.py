"""Registration of the twins that ship with worldtwin (one ``register`` call per twin)."""

from __future__ import annotations

from worldtwin.sim.registry import register

__all__ = ["register"]

register(
    "worldtwin/packaging-line-v1",
    "worldtwin.sim.packaging_line:PackagingLineEnv",
    spec="packaging-line.yaml",
    description="SimPy bottling line: filler, capper, labeller, packer; breakdowns, changeovers, energy.",
)
