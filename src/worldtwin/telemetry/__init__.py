"""Plant data: trajectory tables, the embedded store, imports, live sources and validation."""

from worldtwin.telemetry.samples import Sample, SampleSink
from worldtwin.telemetry.table import (
    EPISODE,
    TIME,
    check_table,
    iter_episodes,
    read_table,
    table_metadata,
    time_seconds,
    write_table,
)

__all__ = [
    "EPISODE",
    "TIME",
    "Sample",
    "SampleSink",
    "check_table",
    "iter_episodes",
    "read_table",
    "table_metadata",
    "time_seconds",
    "write_table",
]
