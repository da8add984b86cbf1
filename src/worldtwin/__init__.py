"""worldtwin: industrial digital twins with a learned world model as their predictive core.

Public API (more arrives as layers land)::

    import worldtwin
    env = worldtwin.make("worldtwin/cstr-v1")        # a Gymnasium env with spaces from the twin spec
    twin = worldtwin.load_spec("reactor.yaml")       # a validated, frozen Twin
"""

from worldtwin.errors import WorldtwinError
from worldtwin.sim.registry import make, registered, spec_of
from worldtwin.spec.loading import load_spec, save_spec
from worldtwin.spec.schema import Twin

__version__ = "0.1.0"

__all__ = ["Twin", "WorldtwinError", "__version__", "load_spec", "make", "registered", "save_spec", "spec_of"]
