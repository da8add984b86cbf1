"""A registry of twins under namespaced, versioned ids: ``worldtwin.make("worldtwin/cstr-v1")``.

Changing a twin's dynamics bumps its version, so datasets and models recorded against
``cstr-v1`` stay meaningful. Every registered twin is also registered with Gymnasium, so
``gymnasium.make("worldtwin/cstr-v1")`` works too.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.resources
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium

from worldtwin.errors import UnknownTwinError
from worldtwin.sim.env import TwinEnv
from worldtwin.spec.loading import parse_spec
from worldtwin.spec.schema import Twin

ID_PATTERN = re.compile(r"^[a-z0-9_\-]+/[a-z0-9_\-]+-v\d+$")


@dataclass(frozen=True)
class TwinEntry:
    """How to build one registered twin."""

    id: str
    entry_point: str | Callable[..., TwinEnv]
    """``"package.module:Class"`` (imported lazily) or a callable returning the env."""
    spec: str | None = None
    """File name of a built-in spec under ``worldtwin/twins/``; passed to the env as ``twin=``."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def load_spec(self) -> Twin | None:
        return builtin_spec(self.spec) if self.spec else None


_REGISTRY: dict[str, TwinEntry] = {}


def register(
    id: str,
    entry_point: str | Callable[..., TwinEnv],
    *,
    spec: str | None = None,
    kwargs: dict[str, Any] | None = None,
    description: str = "",
) -> TwinEntry:
    """Register a twin. ``id`` has the form ``namespace/name-vN``."""
    if not ID_PATTERN.match(id):
        raise ValueError(f"twin id {id!r} must look like 'namespace/name-v1' (lowercase, a version suffix)")
    if id in _REGISTRY:
        raise ValueError(f"twin id {id!r} is already registered; bump the version for new dynamics")
    entry = TwinEntry(id, entry_point, spec, dict(kwargs or {}), description)
    _REGISTRY[id] = entry
    if id not in gymnasium.registry:
        gymnasium.register(id=id, entry_point=lambda **kw: make(id, **kw), disable_env_checker=True)
    return entry


def registered() -> list[str]:
    """Every registered twin id, sorted."""
    return sorted(_REGISTRY)


def entry(id: str) -> TwinEntry:
    """The registry entry for ``id``; a did-you-mean error when it is unknown."""
    try:
        return _REGISTRY[id]
    except KeyError:
        pass
    close = difflib.get_close_matches(id, _REGISTRY, n=3, cutoff=0.5)
    close += [known for known in _REGISTRY if known.split("/")[-1].startswith(id) and known not in close]
    hint = (
        f"did you mean {' or '.join(repr(c) for c in close)}?"
        if close
        else "run 'worldtwin twins' to list them"
    )
    raise UnknownTwinError(f"no twin registered as {id!r}; {hint}")


def make(id: str, **kwargs: Any) -> TwinEnv:
    """Build a registered twin; keyword arguments override the registered defaults."""
    found = entry(id)
    factory = found.entry_point
    if isinstance(factory, str):
        module_name, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attribute)
    options = {**found.kwargs, **kwargs}
    if found.spec is not None:
        options.setdefault("twin", found.load_spec())
    env: TwinEnv = factory(**options)
    env.registry_id = id
    return env


def spec_of(id: str) -> Twin:
    """The twin spec of a registered twin (built the env when the spec is generated, e.g. adapters)."""
    found = entry(id)
    spec = found.load_spec()
    if spec is not None:
        return spec
    env = make(id)
    try:
        return env.twin
    finally:
        env.close()


def builtin_spec(filename: str) -> Twin:
    """Load a spec shipped in the ``worldtwin/twins`` package folder."""
    resource = importlib.resources.files("worldtwin") / "twins" / filename
    return parse_spec(resource.read_text(encoding="utf-8"), source=f"worldtwin/twins/{filename}")
