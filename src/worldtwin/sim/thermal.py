"""Electrically heated hot-water store serving a process heat demand (``worldtwin/thermal-storage-v1``).

A slow plant with an energy price and multi-rate instruments. Two fully mixed nodes (top and bottom
half of the tank, a standard reduced model of a stratified store); the heater sits in the bottom
node, hot water is drawn from the top and returns cold into the bottom::

    C·dT_top/dt = ṁ·cp·(T_bot − T_top) + G(ΔT)·(T_bot − T_top) − UA·(T_top − T_amb)
    C·dT_bot/dt = ṁ·cp·(T_ret − T_bot) + G(ΔT)·(T_top − T_bot) + η·P − UA·(T_bot − T_amb)
    G(ΔT)       = G_cond + G_buoy·σ((T_bot − T_top)/δ)       (fast buoyant mixing when the bottom is hotter)

with C = ρ·cp·V/2. Water properties at 60 °C: ρ = 983 kg/m³, cp = 4.18 kJ/(kg·K) (IAPWS-IF97 tables).
The loss coefficient UA = 8 W/K per node corresponds to a 10 m³ tank (about 26 m² of surface) under
100 mm of mineral wool (k ≈ 0.035 W/(m·K) → U ≈ 0.3 W/(m²·K)). Conduction and plume mixing between
the nodes (G_cond, G_buoy) are illustrative choices, not fitted values.

Time is in seconds. Disturbances, all seeded through ``rng``:

- the draw ``ṁ`` [kg/s] follows a daily demand profile (morning and evening peaks) times a slowly
  varying random factor;
- the ambient temperature [°C] follows a daily sine plus an Ornstein–Uhlenbeck deviation, and is read
  by a weather station every 10 min (held in between: ``sampling_period``/``resample: last``);
- the electricity price [EUR/MWh] has a fixed day-ahead-market shape (hourly steps, peaks at 08:00
  and 18:00) scaled by a per-episode factor; it is a ``known_ahead`` disturbance;
- the tank's state of charge [%] comes from the tank controller every 5 min (held in between).

Episodes start at midnight, so ``time mod 86400`` is the time of day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from worldtwin.sim.physics import Array, PhysicsTwinEnv, ar1_step, rk4
from worldtwin.spec.schema import Twin

DAY = 86400.0  # s
# Day-ahead price shape [EUR/MWh] for hours 0..23: night trough, morning and evening peaks, solar dip.
PRICE_PROFILE = np.array(
    [62, 58, 55, 53, 55, 62, 85, 120, 130, 110, 90, 75, 65, 60, 65, 80, 105, 140, 160, 150, 125, 100, 85, 70],
    dtype=float,
)


@dataclass(frozen=True)
class ThermalParams:
    """Tank, demand, weather, market and instrument parameters. Units in the comments; time in seconds."""

    volume: float = 10.0  # V, tank volume [m³]
    density: float = 983.0  # ρ, water at 60 °C [kg/m³]
    heat_capacity: float = 4180.0  # cp [J/(kg·K)]
    loss_coefficient: float = 8.0  # UA per node [W/K]
    conduction: float = 50.0  # G_cond, mixing conductance between nodes [W/K]
    buoyant_mixing: float = 50000.0  # G_buoy, plume mixing when the bottom is hotter [W/K]
    inversion_width: float = 0.5  # δ of the smooth buoyancy switch [K]
    heater_efficiency: float = 0.98  # η [-]
    return_temperature: float = 40.0  # T_ret of the consumer return [°C]

    sample_seconds: float = 60.0  # Δt, one env step [s]; set from the spec's sample_period
    substeps: int = 2  # RK4 steps per sample period (the fastest mode is minutes long)

    draw_base: float = 0.12  # demand floor [kg/s]
    draw_peaks: tuple[tuple[float, float, float], ...] = (
        (7.5, 1.2, 0.45),
        (12.5, 1.5, 0.15),
        (19.0, 1.8, 0.40),
    )
    """Demand peaks as (hour of day, width in hours, height in kg/s)."""
    draw_variation: float = 0.2  # stationary std of the relative demand deviation [-]
    draw_correlation: float = 3600.0  # correlation time of the demand deviation [s]

    ambient_mean: float = 12.0  # daily mean ambient temperature [°C]
    ambient_swing: float = 6.0  # amplitude of the daily ambient sine [K], warmest at 15:00
    ambient_variation: float = 1.5  # stationary std of the weather deviation [K]
    ambient_correlation: float = 3.0 * 3600.0  # its correlation time [s]

    price_spread: float = 0.15  # std of the log of the per-episode price factor [-]

    initial_temperature: float = 65.0  # mean top temperature at reset [°C]
    initial_spread: float = 2.0  # std of the node temperatures at reset [K]

    temperature_noise: float = 0.05  # RTD noise on the node temperatures [K]
    flow_noise: float = 0.01  # relative noise of the draw flow meter [-]
    ambient_noise: float = 0.2  # weather station noise [K]
    soc_noise: float = 0.5  # state-of-charge estimate noise [%]
    ambient_period: float = 600.0  # weather station update period [s] (spec: sampling_period)
    soc_period: float = 300.0  # tank controller update period [s] (spec: sampling_period)
    soc_low: float = 40.0  # tank temperature at 0 % charge [°C]
    soc_high: float = 90.0  # tank temperature at 100 % charge [°C]

    def noiseless(self) -> ThermalParams:
        """The same plant with deterministic weather, demand, price and instruments."""
        return replace(
            self,
            draw_variation=0.0,
            ambient_variation=0.0,
            price_spread=0.0,
            initial_spread=0.0,
            temperature_noise=0.0,
            flow_noise=0.0,
            ambient_noise=0.0,
            soc_noise=0.0,
        )


STATE = ("T_top", "T_bot", "clock", "draw_dev", "ambient_dev", "price_factor", "ambient_held", "soc_held")
"""State: node temperatures [°C], seconds since midnight of day 0, demand deviation [-], weather
deviation [K], per-episode price factor [-], and the held readings of the slow instruments."""


def draw_profile(clock: Array, p: ThermalParams) -> Array:
    """Expected hot-water draw [kg/s] at ``clock`` seconds (daily Gaussian peaks over a floor)."""
    hour = (clock % DAY) / 3600.0
    flow = np.full_like(hour, p.draw_base)
    for centre, width, height in p.draw_peaks:
        distance = (hour - centre + 12.0) % 24.0 - 12.0  # wraps around midnight
        flow = flow + height * np.exp(-0.5 * (distance / width) ** 2)
    return flow


def ambient_profile(clock: Array, p: ThermalParams) -> Array:
    """Expected ambient temperature [°C]: a daily sine, warmest at 15:00."""
    return p.ambient_mean + p.ambient_swing * np.sin(2.0 * np.pi * ((clock % DAY) - 9.0 * 3600.0) / DAY)


def price(clock: Array, factor: Array) -> Array:
    """Electricity price [EUR/MWh]: the hourly day-ahead shape times the episode's factor."""
    hour = ((clock % DAY) // 3600.0).astype(int)
    return PRICE_PROFILE[hour] * factor


def node_rates(x: Array, draw: Array, ambient: Array, power_kw: Array, p: ThermalParams) -> Array:
    """dT/dt [K/s] of the top and bottom node, ``x`` = (B, 2) node temperatures [°C]."""
    top, bottom = x[:, 0], x[:, 1]
    capacity = p.density * p.heat_capacity * p.volume / 2.0  # J/K per node
    flow = draw * p.heat_capacity  # W/K carried by the draw
    inversion = 1.0 / (1.0 + np.exp(-(bottom - top) / p.inversion_width))
    mixing = p.conduction + p.buoyant_mixing * inversion
    d_top = flow * (bottom - top) + mixing * (bottom - top) - p.loss_coefficient * (top - ambient)
    d_bottom = (
        flow * (p.return_temperature - bottom)
        + mixing * (top - bottom)
        + p.heater_efficiency * 1000.0 * power_kw
        - p.loss_coefficient * (bottom - ambient)
    )
    return np.stack([d_top, d_bottom], axis=1) / capacity


def state_of_charge(x: Array, p: ThermalParams) -> Array:
    """Stored heat above the return temperature as % of the 40→90 °C capacity, from the mean temperature."""
    return 100.0 * (0.5 * (x[:, 0] + x[:, 1]) - p.soc_low) / (p.soc_high - p.soc_low)


def initial_state(params: ThermalParams, rng: np.random.Generator, batch: int) -> Array:
    """A charged, mildly stratified tank at midnight, with random weather, demand and price factor."""
    z = rng.standard_normal((batch, 7))
    tanks = np.stack(
        [
            params.initial_temperature + params.initial_spread * z[:, 0],
            params.initial_temperature - 5.0 + params.initial_spread * z[:, 1],
        ],
        axis=1,
    )
    clock = np.zeros(batch)
    ambient_dev = params.ambient_variation * z[:, 3]
    return np.column_stack(
        [
            tanks,
            clock,
            params.draw_variation * z[:, 2],
            ambient_dev,
            np.exp(params.price_spread * z[:, 4]),
            ambient_profile(clock, params) + ambient_dev + params.ambient_noise * z[:, 5],
            state_of_charge(tanks, params) + params.soc_noise * z[:, 6],
        ]
    )


def transition(state: Array, action: Array, params: ThermalParams, rng: np.random.Generator) -> Array:
    """Advance ``state`` (B, 8) one sample period under ``action`` (B, 1) = heater power [kW].

    The tank is integrated with RK4 under the draw and ambient of the period's start (zero-order
    hold); the demand and weather deviations take one exact Ornstein–Uhlenbeck step; the slow
    instruments take a fresh reading when their sampling instant falls inside the period.
    """
    clock = state[:, 2]
    draw = draw_profile(clock, params) * np.maximum(1.0 + state[:, 3], 0.0)
    ambient = ambient_profile(clock, params) + state[:, 4]
    power = action[:, 0]
    tanks = rk4(
        lambda x, rows: node_rates(x, draw[rows], ambient[rows], power[rows], params),
        state[:, :2],
        params.sample_seconds,
        params.substeps,
    )

    z = rng.standard_normal((state.shape[0], 4))
    dt = params.sample_seconds
    draw_dev = ar1_step(
        state[:, 3], 0.0, float(np.exp(-dt / params.draw_correlation)), params.draw_variation, z[:, 0]
    )
    ambient_dev = ar1_step(
        state[:, 4], 0.0, float(np.exp(-dt / params.ambient_correlation)), params.ambient_variation, z[:, 1]
    )
    new_clock = clock + dt

    fresh_ambient = np.floor(new_clock / params.ambient_period) > np.floor(clock / params.ambient_period)
    ambient_reading = ambient_profile(new_clock, params) + ambient_dev + params.ambient_noise * z[:, 2]
    fresh_soc = np.floor(new_clock / params.soc_period) > np.floor(clock / params.soc_period)
    soc_reading = state_of_charge(tanks, params) + params.soc_noise * z[:, 3]
    return np.column_stack(
        [
            tanks,
            new_clock,
            draw_dev,
            ambient_dev,
            state[:, 5],
            np.where(fresh_ambient, ambient_reading, state[:, 6]),
            np.where(fresh_soc, soc_reading, state[:, 7]),
        ]
    )


def observe(
    state: Array, action: Array, params: ThermalParams, rng: np.random.Generator
) -> Mapping[str, Array]:
    """Instrument readings: fast RTDs and flow meter, held slow readings, the price and the KPIs."""
    z = rng.standard_normal((state.shape[0], 3))
    top = state[:, 0] + params.temperature_noise * z[:, 0]
    bottom = state[:, 1] + params.temperature_noise * z[:, 1]
    draw = (
        draw_profile(state[:, 2], params)
        * np.maximum(1.0 + state[:, 3], 0.0)
        * (1.0 + params.flow_noise * z[:, 2])
    )
    tariff = price(state[:, 2], state[:, 5])
    return {
        "T_top": top,
        "T_bot": bottom,
        "soc": state[:, 7],
        "heat_delivered": draw * params.heat_capacity * (top - params.return_temperature) / 1000.0,  # kW
        "energy_cost": action[:, 0] * tariff / 1000.0,  # EUR/h
        "draw": draw,
        "ambient": state[:, 6],
        "price": tariff,
    }


class ThermalStorageEnv(PhysicsTwinEnv[ThermalParams]):
    """``worldtwin/thermal-storage-v1`` behind the Gymnasium contract (``twins/thermal-storage.yaml``)."""

    state_names = STATE
    measured = ("T_top", "T_bot", "soc", "heat_delivered", "energy_cost", "draw", "ambient", "price")
    actions = ("heater",)
    initial_state = staticmethod(initial_state)
    transition = staticmethod(transition)
    observe = staticmethod(observe)

    def __init__(
        self,
        twin: Twin,
        params: ThermalParams | None = None,
        max_episode_steps: int | None = None,
        **overrides: Any,
    ) -> None:
        periods = {tag.name: tag.sampling_period or twin.sample_period for tag in twin.tags}
        params = replace(
            params or ThermalParams(),
            sample_seconds=twin.sample_period,
            ambient_period=periods.get("ambient", twin.sample_period),
            soc_period=periods.get("soc", twin.sample_period),
            **overrides,
        )
        super().__init__(twin, params, max_episode_steps=max_episode_steps)
