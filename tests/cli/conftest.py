"""Helpers for exercising the real console script."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

WORLDTWIN = Path(sys.executable).with_name("worldtwin")


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``worldtwin ARGS`` as a user would, in a subprocess; returns the completed process."""

    def run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(WORLDTWIN), *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            env={"COLUMNS": "200", "PATH": str(WORLDTWIN.parent) + ":/usr/bin:/bin"},
        )

    return run
