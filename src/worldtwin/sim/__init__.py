"""Everything that can be ``reset()`` and ``step()``ed: the env contract, registry, twins, data collection."""

from worldtwin.sim.checker import ConformanceError, check_twin_env
from worldtwin.sim.collect import collect
from worldtwin.sim.env import TwinEnv, action_bounds, default_action
from worldtwin.sim.policies import POLICIES, make_policy
from worldtwin.sim.probe import PlantProfile, probe_plant
from worldtwin.sim.registry import TwinEntry, builtin_spec, make, register, registered, spec_of

__all__ = [
    "POLICIES",
    "ConformanceError",
    "PlantProfile",
    "TwinEntry",
    "TwinEnv",
    "action_bounds",
    "builtin_spec",
    "check_twin_env",
    "collect",
    "default_action",
    "make",
    "make_policy",
    "probe_plant",
    "register",
    "registered",
    "spec_of",
]

from worldtwin.sim import builtins as _builtins  # noqa: F401  (registers the built-in twins)
