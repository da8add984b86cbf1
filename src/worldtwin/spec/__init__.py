"""The twin spec: typed models, YAML load/save with located errors, units, inference from data."""

from worldtwin.spec.checks import check_twin
from worldtwin.spec.loading import dump_spec, load_spec, parse_spec, save_spec
from worldtwin.spec.schema import (
    Action,
    Asset,
    FileSource,
    HardLimit,
    Metadata,
    ModelConfig,
    MqttSource,
    Objective,
    OpcUaSource,
    SimulatorSource,
    Tag,
    Twin,
)

__all__ = [
    "Action",
    "Asset",
    "FileSource",
    "HardLimit",
    "Metadata",
    "ModelConfig",
    "MqttSource",
    "Objective",
    "OpcUaSource",
    "SimulatorSource",
    "Tag",
    "Twin",
    "check_twin",
    "dump_spec",
    "load_spec",
    "parse_spec",
    "save_spec",
]
