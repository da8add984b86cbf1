"""Jacketed continuous stirred-tank reactor with an exothermic first-order reaction A → B.

The classic nonisothermal CSTR of process-control textbooks (``worldtwin/cstr-v1``)::

    dCa/dt = q/V·(Caf − Ca) − k(T)·Ca
    dT/dt  = q/V·(Tf − T) + (−ΔH)/(ρ·Cp)·k(T)·Ca + UA/(V·ρ·Cp)·(Tc − T)
    k(T)   = k0·exp(−E/R / T)

Time is in minutes inside the equations (the spec's sample period is converted). Parameters, units
and the reference operating point come from the CSTR example of Seborg, Edgar, Mellichamp & Doyle,
*Process Dynamics and Control* (Wiley), as used in J. D. Hedengren's APMonitor process-control
course ("Stirred reactor", apmonitor.com/pdc): V = 100 L, q = 100 L/min, ρ = 1000 g/L,
Cp = 0.239 J/(g·K), ΔH = −5·10⁴ J/mol, E/R = 8750 K, k0 = 7.2·10¹⁰ 1/min, UA = 5·10⁴ J/(min·K),
Caf = 1 mol/L, Tf = 350 K. They were checked against two independent public implementations of the
same model (a MATLAB data file and B. Lie's Modelica ``ModSeborgCSTRorg``, where k0 = exp(8750/350)),
and ``tests/sim/test_cstr.py`` checks the textbook steady states: with Tc = 300 K the reactor has a
stable low-conversion state (Ca = 0.877 mol/L, T = 324.5 K), the unstable middle state
(Ca = 0.5 mol/L, T = 350 K) and an ignited state near 370 K.

What the twin adds to the textbook model, all seeded through the ``rng`` argument:

- actions: coolant (jacket) temperature ``Tc`` [K] and feed flow ``q`` [L/min], both rate-limited;
  the textbook model lumps the jacket into ``Tc``, so coolant flow has no literature parameters here
  and feed flow is the second, physically meaningful handle (throughput against conversion);
- disturbances: feed concentration ``Caf`` and feed temperature ``Tf`` drift (Ornstein–Uhlenbeck)
  around a level that steps at random times;
- measurement noise on every measured tag; KPIs computed from the measurements, as a plant would;
- a trip at T > 400 K (thermal runaway), declared in ``twins/cstr.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from worldtwin.sim.physics import Array, PhysicsTwinEnv, Rows, ar1_step, rk4
from worldtwin.spec.schema import Twin

# Stable low-conversion steady state at the default operating point (Tc = 300 K, q = 100 L/min,
# nominal feed); the initial state of every episode is drawn around it.
STEADY_CA = 0.8773  # mol/L
STEADY_T = 324.48  # K


@dataclass(frozen=True)
class CSTRParams:
    """Physical, disturbance and instrument parameters. Units in the comments; time in minutes."""

    volume: float = 100.0  # V, reactor volume [L]
    density: float = 1000.0  # ρ, liquid density [g/L]
    heat_capacity: float = 0.239  # Cp, specific heat capacity [J/(g·K)]
    reaction_enthalpy: float = -5.0e4  # ΔH, molar heat of reaction [J/mol] (negative: exothermic)
    activation_temperature: float = 8750.0  # E/R [K]
    rate_constant: float = 7.2e10  # k0, pre-exponential factor [1/min]
    heat_transfer: float = 5.0e4  # UA, jacket heat-transfer coefficient × area [J/(min·K)]
    feed_concentration: float = 1.0  # nominal Caf [mol/L]
    feed_temperature: float = 350.0  # nominal Tf [K]

    sample_minutes: float = 0.1  # Δt, one env step [min]; set from the spec's sample_period
    substeps: int = 5  # RK4 steps per sample period, at least
    step_safety: float = 0.1  # RK4 step × fastest rate stays below this (shorter steps in a runaway)

    disturbance_minutes: float = 20.0  # correlation time of the feed drift [min]
    step_minutes: float = 60.0  # mean time between steps of the feed level [min]; inf: never
    feed_concentration_drift: float = 0.01  # stationary std of the Caf drift [mol/L]
    feed_temperature_drift: float = 0.7  # stationary std of the Tf drift [K]
    feed_concentration_step: float = 0.02  # std of the Caf level around nominal [mol/L]
    feed_temperature_step: float = 1.5  # std of the Tf level around nominal [K]

    initial_concentration_spread: float = 0.01  # std of Ca at reset [mol/L]
    initial_temperature_spread: float = 1.0  # std of T at reset [K]

    concentration_noise: float = 0.004  # analyzer noise on Ca and Caf [mol/L]
    temperature_noise: float = 0.1  # thermocouple noise on T and Tf [K]

    def noiseless(self) -> CSTRParams:
        """The same plant without measurement noise, feed disturbances or random initial states."""
        return replace(
            self,
            step_minutes=float("inf"),
            feed_concentration_drift=0.0,
            feed_temperature_drift=0.0,
            feed_concentration_step=0.0,
            feed_temperature_step=0.0,
            initial_concentration_spread=0.0,
            initial_temperature_spread=0.0,
            concentration_noise=0.0,
            temperature_noise=0.0,
        )


STATE = ("Ca", "T", "Caf", "Tf", "Caf_level", "Tf_level")
"""State: reactor Ca [mol/L] and T [K], feed Caf [mol/L] and Tf [K], the feed levels they drift around."""


def reactor_rates(
    ca: Array, t: Array, caf: Array, tf: Array, tc: Array, q: Array, p: CSTRParams
) -> tuple[Array, Array]:
    """dCa/dt [mol/(L·min)] and dT/dt [K/min] of the reactor (the balances in the module docstring)."""
    rate = p.rate_constant * np.exp(-p.activation_temperature / t) * ca  # mol/(L·min)
    dilution = q / p.volume  # 1/min
    heat = p.density * p.heat_capacity  # J/(L·K)
    dca = dilution * (caf - ca) - rate
    dt = (
        dilution * (tf - t)
        - p.reaction_enthalpy / heat * rate
        + p.heat_transfer / (p.volume * heat) * (tc - t)
    )
    return dca, dt


def fastest_rate(ca: Array, t: Array, q: Array, p: CSTRParams) -> Array:
    """A bound on the reactor's fastest rate [1/min]: flushing, jacket cooling and the reaction's
    self-acceleration (k·(1 + β·(E/R)/T²·Ca), β = −ΔH/(ρ·Cp)); it sets the RK4 step during a runaway."""
    k = p.rate_constant * np.exp(-p.activation_temperature / t)
    heat = p.density * p.heat_capacity
    beta = -p.reaction_enthalpy / heat
    return (
        q / p.volume
        + p.heat_transfer / (p.volume * heat)
        + k * (1.0 + beta * p.activation_temperature / (t * t) * np.abs(ca))
    )


def initial_state(params: CSTRParams, rng: np.random.Generator, batch: int) -> Array:
    """States around the stable low-conversion steady state, with random feed levels."""
    z = rng.standard_normal((batch, 6))
    caf_level = params.feed_concentration + params.feed_concentration_step * z[:, 4]
    tf_level = params.feed_temperature + params.feed_temperature_step * z[:, 5]
    return np.stack(
        [
            STEADY_CA + params.initial_concentration_spread * z[:, 0],
            STEADY_T + params.initial_temperature_spread * z[:, 1],
            caf_level + params.feed_concentration_drift * z[:, 2],
            tf_level + params.feed_temperature_drift * z[:, 3],
            caf_level,
            tf_level,
        ],
        axis=1,
    )


def transition(state: Array, action: Array, params: CSTRParams, rng: np.random.Generator) -> Array:
    """Advance ``state`` (B, 6) one sample period under ``action`` (B, 2) = [Tc K, q L/min].

    The reactor is integrated with RK4 while the feed holds its value (zero-order hold); then the feed
    disturbances take one exact Ornstein–Uhlenbeck step, and their levels jump with the probability
    of a Poisson event in Δt.
    """
    tc, q = action[:, 0], action[:, 1]
    caf, tf = state[:, 2], state[:, 3]

    def derivative(x: Array, rows: Rows) -> Array:
        rates = np.empty_like(x)
        rates[:, 0], rates[:, 1] = reactor_rates(
            x[:, 0], x[:, 1], caf[rows], tf[rows], tc[rows], q[rows], params
        )
        return rates

    reactor = rk4(
        derivative,
        state[:, :2],
        params.sample_minutes,
        params.substeps,
        stiffness=lambda x, rows: fastest_rate(x[:, 0], x[:, 1], q[rows], params),
        safety=params.step_safety,
    )

    z = rng.standard_normal((state.shape[0], 4))
    jump = rng.random((state.shape[0], 1)) < -np.expm1(-params.sample_minutes / params.step_minutes)
    nominal = np.array([params.feed_concentration, params.feed_temperature])
    step_std = np.array([params.feed_concentration_step, params.feed_temperature_step])
    levels = np.where(jump, nominal + step_std * z[:, 2:], state[:, 4:])
    decay = float(np.exp(-params.sample_minutes / params.disturbance_minutes))
    drift_std = np.array([params.feed_concentration_drift, params.feed_temperature_drift])
    feed = ar1_step(state[:, 2:4], levels, decay, drift_std, z[:, :2])
    return np.concatenate([reactor, feed, levels], axis=1)


def observe(state: Array, action: Array, params: CSTRParams, rng: np.random.Generator) -> Mapping[str, Array]:
    """Instrument readings: noisy Ca, T, Caf, Tf and the KPIs computed from them."""
    z = rng.standard_normal((state.shape[0], 4))
    ca = state[:, 0] + params.concentration_noise * z[:, 0]
    t = state[:, 1] + params.temperature_noise * z[:, 1]
    caf = state[:, 2] + params.concentration_noise * z[:, 2]
    tf = state[:, 3] + params.temperature_noise * z[:, 3]
    return {
        "Ca": ca,
        "T": t,
        "conversion": 100.0 * (1.0 - ca / caf),  # %
        "production": action[:, 1] * (caf - ca),  # mol/min of B leaving the reactor
        "Caf": caf,
        "Tf": tf,
    }


class CSTREnv(PhysicsTwinEnv[CSTRParams]):
    """``worldtwin/cstr-v1``: the reactor behind the Gymnasium contract (spec: ``twins/cstr.yaml``)."""

    state_names = STATE
    measured = ("Ca", "T", "conversion", "production", "Caf", "Tf")
    actions = ("Tc", "q")
    initial_state = staticmethod(initial_state)
    transition = staticmethod(transition)
    observe = staticmethod(observe)

    def __init__(
        self,
        twin: Twin,
        params: CSTRParams | None = None,
        max_episode_steps: int | None = None,
        **overrides: Any,
    ) -> None:
        params = replace(params or CSTRParams(), sample_minutes=twin.sample_period / 60.0, **overrides)
        super().__init__(twin, params, max_episode_steps=max_episode_steps)
