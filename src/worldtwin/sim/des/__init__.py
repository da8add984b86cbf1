"""Discrete-event (SimPy) models of production lines: configuration, machines and conveyors, the line."""

from worldtwin.sim.des.config import BOTTLING_LINE, STATES, LineConfig, ProductConfig, StationConfig
from worldtwin.sim.des.line import PackagingLine, action_tag_names, measured_tag_names

__all__ = [
    "BOTTLING_LINE",
    "STATES",
    "LineConfig",
    "PackagingLine",
    "ProductConfig",
    "StationConfig",
    "action_tag_names",
    "measured_tag_names",
]
