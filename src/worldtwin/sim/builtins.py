"""Registration of the twins that ship with worldtwin (one ``register`` call per twin)."""

from __future__ import annotations

from worldtwin.sim.registry import register

__all__ = ["register"]

register("worldtwin/cstr-v1", "worldtwin.sim.cstr:CSTREnv", spec="cstr.yaml",
         description="Jacketed CSTR, exothermic A → B; coolant temperature and feed flow as actions")
register("worldtwin/thermal-storage-v1", "worldtwin.sim.thermal:ThermalStorageEnv", spec="thermal-storage.yaml",
         description="Hot-water store with electric heater, energy price known ahead, slow multi-rate sensors")
