"""Shared console objects and small formatting helpers for CLI commands."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console()
err_console = Console(stderr=True)


def progress() -> Progress:
    """The progress bar used by long-running commands (simulate, ingest, train)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


def split_names(value: str | None) -> list[str]:
    """Parse a comma-separated list option such as ``--obs T,Ca``."""
    return [part.strip() for part in (value or "").split(",") if part.strip()]
