"""The worldtwin exception tree.

Every error a user can cause derives from :class:`WorldtwinError`. The CLI prints these as plain
messages (no traceback) and exits with status 2; anything else is a bug and keeps its traceback.

    WorldtwinError
    ├── SpecError            a twin spec is malformed or inconsistent (carries every problem found)
    ├── UnknownTwinError     ``worldtwin.make`` got an id that is not registered (suggests close ids)
    ├── SimulationError      a simulator was driven outside its contract (step before reset, bad action)
    ├── DataError            a dataset or stream breaks the trajectory-table contract
    ├── ModelError           a world model cannot be trained, loaded or used as asked
    │   └── CheckpointError  a checkpoint is missing, tampered with, foreign or from another version
    └── DependencyError      an optional extra is needed but not installed (names the pip extra)

Messages follow one rule: name the bad value, say what was expected, say what to do next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class WorldtwinError(Exception):
    """Base class for every error a user can cause and fix."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec or a file, located as precisely as we can.

    ``path`` is the key path inside the document, e.g. ``("tags", 3, "range")``; ``line`` is the
    1-based line in the source file when it is known.
    """

    path: tuple[str | int, ...]
    message: str
    value: object = None
    expected: str = ""
    hint: str = ""
    line: int | None = None

    @property
    def key(self) -> str:
        """Render the path the way a user would type it: ``tags[3].range``."""
        out = ""
        for part in self.path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out or "<document>"

    def render(self, source: str | None = None) -> str:
        where = source or "<spec>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.key}: {self.message}"
        if self.value is not None:
            text += f"\n    got:      {self.value!r}"
        if self.expected:
            text += f"\n    expected: {self.expected}"
        if self.hint:
            text += f"\n    fix:      {self.hint}"
        return text


class SpecError(WorldtwinError):
    """A twin spec failed to load or validate. ``problems`` lists every issue found, not just the first."""

    def __init__(self, problems: Sequence[Problem], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        count = len(self.problems)
        head = f"{source or 'twin spec'}: {count} problem{'s' if count != 1 else ''} found"
        body = "\n".join(p.render(source) for p in self.problems)
        super().__init__(f"{head}\n{body}")


class UnknownTwinError(WorldtwinError, KeyError):
    """No twin is registered under the requested id."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class SimulationError(WorldtwinError):
    """A simulator was used outside its contract."""


class DataError(WorldtwinError):
    """A dataset breaks the trajectory-table contract (see README, "Dataset schema")."""


class ModelError(WorldtwinError):
    """A world model cannot be trained, loaded or used as asked."""


class CheckpointError(ModelError):
    """A checkpoint is missing, unreadable, tampered with or not a worldtwin checkpoint."""


class DependencyError(WorldtwinError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


def require(module: str, extra: str) -> object:
    """Import an optional dependency or raise a :class:`DependencyError` that says how to get it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(
            f"this feature needs the Python package '{module}', which is not installed.\n"
            f"    fix: pip install 'worldtwin[{extra}]'"
        ) from exc
