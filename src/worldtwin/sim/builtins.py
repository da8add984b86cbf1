"""Registration of the twins that ship with worldtwin (one ``register`` call per twin)."""

from __future__ import annotations

from worldtwin.sim.registry import register

__all__ = ["register"]

register(
    "worldtwin/packaging-line-v1",
    "worldtwin.sim.packaging_line:PackagingLineEnv",
    spec="packaging-line.yaml",
    description="SimPy bottling line: filler, capper, labeller, packer; breakdowns, changeovers, energy.",
)
register(
    "worldtwin/cstr-v1",
    "worldtwin.sim.cstr:CSTREnv",
    spec="cstr.yaml",
    description="Jacketed CSTR, exothermic A → B; coolant temperature and feed flow as actions.",
)
register(
    "worldtwin/thermal-storage-v1",
    "worldtwin.sim.thermal:ThermalStorageEnv",
    spec="thermal-storage.yaml",
    description="Hot-water store with electric heater; energy price known ahead; slow multi-rate sensors.",
)
register(
    "gym/pendulum-v1",
    "worldtwin.sim.gym_adapter:GymTwinEnv",
    kwargs={
        "env": "Pendulum-v1",
        "obs_names": ["cos_theta", "sin_theta", "omega"],
        "action_names": ["torque"],
        "units": {"omega": "rad/s", "torque": "N*m"},
    },
    description="Gymnasium Pendulum-v1 through the Gymnasium adapter (spec generated from its spaces).",
)
