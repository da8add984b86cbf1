from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import fsolve

from worldtwin.errors import SpecError
from worldtwin.sim import make, spec_of
from worldtwin.sim.cstr import (
    STEADY_CA,
    STEADY_T,
    CSTREnv,
    CSTRParams,
    initial_state,
    observe,
    reactor_rates,
    transition,
)

NOMINAL = CSTRParams()


def steady_state(guess: tuple[float, float], tc: float = 300.0, q: float = 100.0) -> np.ndarray:
    def residual(x: np.ndarray) -> list[float]:
        dca, dt = reactor_rates(x[0], x[1], 1.0, 350.0, tc, q, NOMINAL)
        return [float(dca), float(dt)]

    return np.asarray(fsolve(residual, guess, xtol=1e-12))


@pytest.mark.parametrize(
    ("guess", "expected"),
    [
        # Textbook steady states at Tc = 300 K, q = 100 L/min (Seborg et al.; Hedengren's APMonitor CSTR).
        ((0.9, 320.0), (0.8773, 324.48)),  # stable, low conversion: the default operating point
        ((0.5, 350.0), (0.5000, 350.01)),  # unstable middle state, the classic control target
        ((0.2, 370.0), (0.2088, 369.70)),  # ignited
    ],
)
def test_rates_reproduce_the_textbook_steady_states(guess, expected) -> None:
    ca, t = steady_state(guess)
    assert ca == pytest.approx(expected[0], abs=1e-3)
    assert t == pytest.approx(expected[1], abs=0.02)


def test_initial_state_is_the_documented_steady_state() -> None:
    ca, t = steady_state((STEADY_CA, STEADY_T))
    assert pytest.approx(ca, abs=1e-4) == STEADY_CA
    assert pytest.approx(t, abs=0.01) == STEADY_T


def test_transition_matches_solve_ivp_over_1000_steps_with_varying_actions() -> None:
    """Noise off, the fixed-step integrator tracks a tight adaptive solver through operating changes,
    including ignition of the reactor (the stiffest stretch the model has)."""
    params = NOMINAL.noiseless()
    rng = np.random.default_rng(0)
    state = initial_state(params, rng, 1)
    choices = np.random.default_rng(1)
    actions = np.repeat(
        np.column_stack([choices.uniform(290, 306, 50), choices.uniform(85, 115, 50)]), 20, axis=0
    )
    reference = state[0, :2].copy()
    worst = 0.0
    temperatures = []
    for tc, q in actions:
        state = transition(state, np.array([[tc, q]]), params, rng)

        def rhs(_t: float, x: np.ndarray, tc: float = tc, q: float = q) -> list[float]:
            return [float(v) for v in reactor_rates(x[0], x[1], 1.0, 350.0, tc, q, params)]

        solution = solve_ivp(
            rhs, (0.0, params.sample_minutes), reference, method="DOP853", rtol=1e-10, atol=1e-12
        )
        assert solution.success
        reference = solution.y[:, -1]
        worst = max(worst, float(np.max(np.abs(state[0, :2] - reference) / np.abs(reference))))
        temperatures.append(reference[1])
    assert len(actions) == 1000
    assert max(temperatures) > 400 and min(temperatures) < 320  # the trajectory ignited and came back
    assert worst < 1e-6


def test_transition_is_vectorised_row_by_row() -> None:
    params = NOMINAL.noiseless()
    states = initial_state(params, np.random.default_rng(0), 3) + np.array(
        [[0.0, 0.0, 0, 0, 0, 0], [-0.3, 25.0, 0, 0, 0, 0], [-0.6, 50.0, 0, 0, 0, 0]]
    )
    actions = np.array([[295.0, 90.0], [300.0, 100.0], [305.0, 110.0]])
    batch = transition(states, actions, params, np.random.default_rng(1))
    for row in range(3):
        alone = transition(states[row : row + 1], actions[row : row + 1], params, np.random.default_rng(1))
        np.testing.assert_allclose(batch[row], alone[0], rtol=1e-13)


def test_transition_is_pure_and_seeded() -> None:
    state = initial_state(NOMINAL, np.random.default_rng(0), 8)
    frozen = state.copy()
    action = np.tile([300.0, 100.0], (8, 1))
    first = transition(state, action, NOMINAL, np.random.default_rng(5))
    again = transition(state, action, NOMINAL, np.random.default_rng(5))
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(state, frozen)
    assert not np.array_equal(first, transition(state, action, NOMINAL, np.random.default_rng(6)))


def test_feed_disturbances_drift_and_step_around_nominal() -> None:
    rng = np.random.default_rng(3)
    state = initial_state(NOMINAL, rng, 64)
    action = np.tile([300.0, 100.0], (64, 1))
    feed = []
    for _ in range(2000):  # 200 min: several correlation times and level steps
        state = transition(state, action, NOMINAL, rng)
        feed.append(state[:, 2:4].copy())
    feed_array = np.asarray(feed)
    expected_std = np.hypot(
        [NOMINAL.feed_concentration_drift, NOMINAL.feed_temperature_drift],
        [NOMINAL.feed_concentration_step, NOMINAL.feed_temperature_step],
    )
    spread = feed_array.reshape(-1, 2).std(axis=0)
    np.testing.assert_allclose(spread, expected_std, rtol=0.25)
    mean = feed_array.reshape(-1, 2).mean(axis=0)
    assert np.all(np.abs(mean - [1.0, 350.0]) < 3 * expected_std / np.sqrt(64))
    assert np.all(np.diff(feed_array[:, 0, 0]) != 0)  # it moves every step


def test_instruments_are_noisy_and_kpis_follow_the_measurements() -> None:
    state = np.tile([0.5, 350.0, 1.0, 350.0, 1.0, 350.0], (20000, 1))
    action = np.tile([300.0, 100.0], (20000, 1))
    readings = observe(state, action, NOMINAL, np.random.default_rng(0))
    assert readings["T"].std() == pytest.approx(NOMINAL.temperature_noise, rel=0.05)
    assert readings["Ca"].std() == pytest.approx(NOMINAL.concentration_noise, rel=0.05)
    np.testing.assert_allclose(readings["conversion"], 100 * (1 - readings["Ca"] / readings["Caf"]))
    np.testing.assert_allclose(readings["production"], 100.0 * (readings["Caf"] - readings["Ca"]))
    quiet = observe(state[:1], action[:1], NOMINAL.noiseless(), np.random.default_rng(0))
    assert quiet["conversion"][0] == pytest.approx(50.0)


def test_env_runs_at_the_specs_sample_period_and_trips_on_runaway() -> None:
    env = make("worldtwin/cstr-v1")
    assert env.params.sample_minutes == pytest.approx(env.twin.sample_period / 60.0)
    env.reset(seed=0)
    for step in range(600):  # noqa: B007 (read after the loop)
        _, _, terminated, _, info = env.step(np.array([315.0, 120.0]))  # hot coolant, high feed: runaway
        if terminated:
            break
    assert terminated, "the T > 400 K trip never fired"
    assert info["tags"]["T"] > 400.0 and step > 5


def test_env_holds_the_default_operating_point() -> None:
    env = make("worldtwin/cstr-v1")
    obs, _ = env.reset(seed=1)
    for _ in range(300):
        obs, *_ = env.step(np.array([300.0, 100.0]))
    temperature = obs[env.twin.measured_names.index("T")]
    assert 318.0 < temperature < 332.0  # still on the low-conversion branch after 30 min


def test_env_refuses_a_spec_that_renames_its_tags() -> None:
    spec = spec_of("worldtwin/cstr-v1")
    renamed = spec.model_copy(
        update={
            "tags": [t.model_copy(update={"name": "Temp"}) if t.name == "T" else t for t in spec.tags],
            "limits": [],
            "objectives": [],
        }
    )
    with pytest.raises(SpecError, match="measures exactly the tags"):
        CSTREnv(renamed)
