"""Everything that can be ``reset()`` and ``step()``ed: the env contract, registry, twins, data collection."""

from worldtwin.sim.checker import ConformanceError, check_twin_env
from worldtwin.sim.env import TwinEnv, action_bounds, default_action
from worldtwin.sim.registry import TwinEntry, builtin_spec, make, register, registered, spec_of

__all__ = [
    "ConformanceError",
    "TwinEntry",
    "TwinEnv",
    "action_bounds",
    "builtin_spec",
    "check_twin_env",
    "default_action",
    "make",
    "register",
    "registered",
    "spec_of",
]

from worldtwin.sim import builtins as _builtins  # noqa: F401  (registers the built-in twins)
