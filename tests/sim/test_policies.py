from __future__ import annotations

import numpy as np
import pytest

from worldtwin.errors import SimulationError
from worldtwin.sim import make, probe_plant
from worldtwin.sim.env import TwinEnv, action_bounds, max_step_change
from worldtwin.sim.policies import POLICIES, EnvelopeGuard, ExcitationPolicy, make_policy
from worldtwin.sim.probe import PlantProfile


@pytest.fixture(scope="module")
def cstr() -> TwinEnv:
    return make("worldtwin/cstr-v1")


@pytest.fixture(scope="module")
def cstr_profile(cstr: TwinEnv) -> PlantProfile:
    return probe_plant(cstr, seed=0)


def rollout(
    env: TwinEnv, policy: ExcitationPolicy, episodes: int, steps: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """Observations, applied actions and the number of episodes that ended early.

    Checks on the way that every action is inside bounds and rate limits (the env clips nothing).
    """
    observations, actions, ended = [], [], 0
    limit = max_step_change(env.twin)
    for episode in range(episodes):
        obs, info = env.reset(seed=100 + episode)
        previous = info["action_applied"]
        policy.reset(seed=200 + episode)
        for _ in range(steps):
            action = policy(obs)
            assert np.all(np.abs(action - previous) <= limit + 1e-9)
            obs, _, terminated, truncated, info = env.step(action)
            np.testing.assert_array_equal(info["action_applied"], action)
            observations.append(obs)
            actions.append(action)
            previous = action
            if terminated or truncated:
                ended += 1
                break
    return np.asarray(observations), np.asarray(actions), ended


def test_bump_test_finds_the_reactors_gains_time_constants_and_fold(
    cstr: TwinEnv, cstr_profile: PlantProfile
):
    names = list(cstr_profile.measured)
    temperature, feed_temperature = names.index("T"), names.index("Tf")
    assert cstr_profile.gain[temperature, 0] == pytest.approx(2.1, abs=0.3)  # K of T per K of Tc, low branch
    assert cstr_profile.gain[temperature, 1] > 0  # more feed at 350 K warms the reactor
    assert np.all(cstr_profile.gain[feed_temperature] == 0)  # disturbances do not answer to actions
    assert np.all((cstr_profile.time_constant > 20) & (cstr_profile.time_constant < 300))  # about 1-2 min
    # Pushing Tc and q up ignites the reactor near Tc = 303 K: open-loop moves upward are held to a
    # fraction of that, downward moves (away from the trip) are free.
    assert 0 < cstr_profile.safe_up[0] < 3.0
    low, _ = action_bounds(cstr.twin)
    assert cstr_profile.safe_down[0] == pytest.approx(300.0 - low[0])


@pytest.mark.parametrize("name", list(POLICIES))
def test_policy_keeps_the_reactor_inside_its_limits_and_is_informative(cstr, cstr_profile, name: str) -> None:
    policy = make_policy(name, cstr, seed=0, profile=cstr_profile)
    observations, actions, ended = rollout(cstr, policy, episodes=3, steps=500)
    names = cstr.twin.measured_names
    limit = cstr.twin.limits[0]
    assert ended == 0 and observations[:, names.index(limit.tag)].max() < limit.max
    low, high = action_bounds(cstr.twin)
    assert np.all(actions >= low) and np.all(actions <= high)
    assert np.all(actions.std(axis=0) > 0.02 * (high - low)), actions.std(axis=0)
    assert observations[:, names.index("T")].std() > 1.0
    assert observations[:, names.index("Ca")].std() > 0.01


def test_closed_loop_explores_where_open_loop_must_not_go(cstr, cstr_profile) -> None:
    """Feedback holds the open-loop unstable 350 K point; open-loop excitation stays on the low branch."""
    temperature = cstr.twin.measured_names.index("T")
    settled = {}
    for name in ("random-walk", "pid"):
        observations, _, _ = rollout(cstr, make_policy(name, cstr, seed=1, profile=cstr_profile), 1, 600)
        settled[name] = observations[200:, temperature]
    assert settled["random-walk"].max() < 335.0
    assert 340.0 < np.median(settled["pid"]) < 360.0


def test_policies_are_reproducible(cstr, cstr_profile) -> None:
    policy = make_policy("closed-loop-dither", cstr, seed=0, profile=cstr_profile)
    first = rollout(cstr, policy, 1, 200)[1]
    again = rollout(cstr, policy, 1, 200)[1]
    np.testing.assert_array_equal(first, again)


def test_guard_pulls_actions_away_from_a_limit(cstr, cstr_profile) -> None:
    guard = EnvelopeGuard(cstr.twin, cstr_profile)
    action = np.array([305.0, 110.0])
    nominal = cstr_profile.nominal.copy()
    np.testing.assert_array_equal(guard(nominal, nominal, action), action)
    hot = nominal.copy()
    hot[cstr.twin.measured_names.index("T")] = 399.0
    pulled = guard(hot, hot, action)
    low, _ = action_bounds(cstr.twin)
    assert pulled[0] == pytest.approx(low[0], abs=1.0)  # coldest coolant
    assert pulled[1] == action[1]  # feed flow moves T too little to be trusted with it
    rising = nominal.copy()
    rising[cstr.twin.measured_names.index("T")] += 15.0  # still below the band, but climbing fast
    assert guard(rising, nominal, action)[0] < action[0]


def test_thermal_storage_policies_respect_both_limits() -> None:
    env = make("worldtwin/thermal-storage-v1")
    profile = probe_plant(env, seed=0)
    names = env.twin.measured_names
    for name in ("random-walk", "pid"):
        observations, actions, ended = rollout(env, make_policy(name, env, seed=0, profile=profile), 1, 1440)
        assert ended == 0
        assert observations[:, names.index("T_bot")].max() < 95.0
        assert observations[:, names.index("T_top")].min() > 45.0
        assert actions.std() > 0.02 * 120.0  # 2 % of the heater's span, as for the reactor


def test_policies_work_without_limits_or_setpoint_objectives() -> None:
    env = make("gym/pendulum-v1")
    profile = probe_plant(env, seed=0)
    for name in POLICIES:
        policy = make_policy(name, env, seed=0, profile=profile)
        _, actions, _ = rollout(env, policy, 1, 200)
        assert np.all(np.abs(actions) <= 2.0) and actions.std() > 0.1, name
    # The undamped pendulum never settles after a bump: no loop is tuned from it, pid random-walks.
    assert not profile.settled[0] and make_policy("pid", env, profile=profile).loops == []


def test_unknown_policy_is_a_clear_error(cstr, cstr_profile) -> None:
    with pytest.raises(
        SimulationError, match="unknown excitation policy 'bang-bang'; choose one of random-walk"
    ):
        make_policy("bang-bang", cstr, profile=cstr_profile)
