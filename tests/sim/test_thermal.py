from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from worldtwin.sim import make
from worldtwin.sim.thermal import (
    DAY,
    PRICE_PROFILE,
    ThermalParams,
    draw_profile,
    initial_state,
    observe,
    transition,
)

NOMINAL = ThermalParams()


def test_heater_energy_goes_into_the_water() -> None:
    """No draw, no losses: the mean temperature rises by η·P·t / (ρ·cp·V), whatever the stratification."""
    params = replace(NOMINAL.noiseless(), draw_base=0.0, draw_peaks=(), loss_coefficient=0.0)
    state = initial_state(params, np.random.default_rng(0), 1)
    start = state[0, :2].mean()
    power_kw = 80.0
    for _ in range(120):  # two hours
        state = transition(state, np.array([[power_kw]]), params, np.random.default_rng(1))
    heat = params.heater_efficiency * power_kw * 1000.0 * 120 * params.sample_seconds
    expected_rise = heat / (params.density * params.heat_capacity * params.volume)
    assert state[0, :2].mean() - start == pytest.approx(expected_rise, rel=1e-9)
    assert state[0, 0] == pytest.approx(state[0, 1], abs=1.0)  # heating from below mixes the tank


def test_draw_cools_the_tank_by_the_heat_it_carries_away() -> None:
    params = replace(NOMINAL.noiseless(), loss_coefficient=0.0)
    state = initial_state(params, np.random.default_rng(0), 1)
    before = state[0, :2].mean()
    clock, top, bottom = state[0, 2], state[0, 0], state[0, 1]
    after = transition(state, np.array([[0.0]]), params, np.random.default_rng(0))
    draw = draw_profile(np.array([clock]), params)[0]
    # One minute is short against the hours-long time constants: first-order energy balance.
    expected = -draw * params.heat_capacity * (top - params.return_temperature) * params.sample_seconds
    expected /= params.density * params.heat_capacity * params.volume / 2.0
    assert 2.0 * (after[0, :2].mean() - before) == pytest.approx(expected, rel=0.02)
    assert bottom > params.return_temperature


def test_slow_instruments_hold_their_readings_between_samples() -> None:
    env = make("worldtwin/thermal-storage-v1")
    env.reset(seed=3)
    names = env.twin.measured_names
    rows = [env.step(np.array([60.0]))[0] for _ in range(90)]
    frame = np.asarray(rows)
    minutes = np.arange(1, 91)
    for tag, period in (("ambient", 10), ("soc", 5), ("T_top", 1)):
        assert env.twin.tag(tag).sampling_period in (None, period * 60.0)
        series = frame[:, names.index(tag)]
        changed = minutes[1:][np.diff(series) != 0]
        assert set(changed.tolist()) <= set(range(0, 91, period)), tag
        assert len(changed) >= 90 // period - 1, tag


def test_price_is_the_hourly_profile_times_the_episode_factor() -> None:
    state = initial_state(NOMINAL, np.random.default_rng(7), 1)
    factor = state[0, 5]
    assert factor != 1.0
    hours = []
    for hour in range(24):
        state[0, 2] = hour * 3600.0 + 1800.0
        hours.append(observe(state, np.array([[0.0]]), NOMINAL, np.random.default_rng(0))["price"][0])
    np.testing.assert_allclose(hours, PRICE_PROFILE * factor)
    state[0, 2] = DAY + 7.5 * 3600.0  # the next day repeats the shape
    assert observe(state, np.array([[0.0]]), NOMINAL, np.random.default_rng(0))["price"][0] == pytest.approx(
        PRICE_PROFILE[7] * factor
    )


def test_energy_cost_is_power_times_price() -> None:
    env = make("worldtwin/thermal-storage-v1")
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([10.0]))
    tags = info["tags"]
    assert tags["energy_cost"] == pytest.approx(tags["heater"] * tags["price"] / 1000.0)


def test_episodes_start_at_midnight_and_follow_the_daily_cycle() -> None:
    env = make("worldtwin/thermal-storage-v1")
    _, info = env.reset(seed=0)
    assert info["time"] == 0.0
    draws = [env.step(np.array([35.0]))[-1]["tags"]["draw"] for _ in range(24 * 60)]
    by_hour = np.asarray(draws).reshape(24, 60).mean(axis=1)
    assert by_hour[7] > 2 * by_hour[3] and by_hour[19] > 2 * by_hour[3]  # morning and evening peaks


def test_transition_is_vectorised_and_pure() -> None:
    params = NOMINAL.noiseless()
    states = initial_state(params, np.random.default_rng(0), 3)
    states[:, 0] += [0.0, 5.0, -5.0]
    frozen = states.copy()
    actions = np.array([[0.0], [60.0], [120.0]])
    batch = transition(states, actions, params, np.random.default_rng(1))
    np.testing.assert_array_equal(states, frozen)
    for row in range(3):
        alone = transition(states[row : row + 1], actions[row : row + 1], params, np.random.default_rng(1))
        np.testing.assert_allclose(batch[row], alone[0], rtol=1e-13)
