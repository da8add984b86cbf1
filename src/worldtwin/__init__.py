"""worldtwin: industrial digital twins with a learned world model as their predictive core.

Public API (more arrives as layers land)::

    import worldtwin
    env = worldtwin.make("worldtwin/cstr-v1")        # a Gymnasium env with spaces from the twin spec
    twin = worldtwin.load_spec("reactor.yaml")       # a validated, frozen Twin
    wm = worldtwin.train(data, twin)                 # a calibrated world model (worldtwin.WorldModel)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from worldtwin.errors import WorldtwinError
from worldtwin.sim.registry import make, registered, spec_of
from worldtwin.spec.loading import load_spec, save_spec
from worldtwin.spec.schema import Twin

if TYPE_CHECKING:
    from worldtwin.model import WorldModel, train

__version__ = "0.1.0"

__all__ = [
    "Twin",
    "WorldModel",
    "WorldtwinError",
    "__version__",
    "load_spec",
    "make",
    "registered",
    "save_spec",
    "spec_of",
    "train",
]


def __getattr__(name: str) -> Any:
    """``train`` and ``WorldModel`` import torch, so they load on first use."""
    if name in ("train", "WorldModel"):
        import worldtwin.model

        return getattr(worldtwin.model, name)
    raise AttributeError(f"module 'worldtwin' has no attribute {name!r}")
