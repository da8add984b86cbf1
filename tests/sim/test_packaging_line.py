"""The packaging-line twin: contract, material balance, failures, changeovers, maintenance, energy."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from worldtwin.errors import SimulationError
from worldtwin.sim import check_twin_env, make
from worldtwin.sim.des import BOTTLING_LINE, STATES, LineConfig, PackagingLine, measured_tag_names
from worldtwin.sim.des.config import CHANGEOVER, DOWN, MAINTENANCE, RUNNING
from worldtwin.sim.env import default_action
from worldtwin.sim.packaging_line import PackagingLineEnv

TWIN_ID = "worldtwin/packaging-line-v1"
STATIONS = BOTTLING_LINE.station_names
DT = 60.0


def with_stations(config: LineConfig, **changes: float) -> LineConfig:
    """The same line with every station's parameters changed the same way."""
    stations = tuple(dataclasses.replace(s, **changes) for s in config.stations)
    return dataclasses.replace(config, stations=stations)


def action(env: PackagingLineEnv, **values: float) -> np.ndarray:
    """The default action with some entries set by tag name (dots written as '__')."""
    vector = default_action(env.twin)
    for name, value in values.items():
        vector[env.twin.action_names.index(name.replace("__", "."))] = value
    return vector


def run(env: PackagingLineEnv, act: np.ndarray, steps: int) -> list[dict[str, float]]:
    return [env.step(act)[4]["tags"] for _ in range(steps)]


def test_conforms_to_the_twin_contract() -> None:
    check_twin_env(lambda: make(TWIN_ID))


def test_samples_exactly_the_spec_tags() -> None:
    env = make(TWIN_ID)
    _, info = env.reset(seed=1)
    assert sorted(env.twin.measured_names) == sorted(measured_tag_names(BOTTLING_LINE))
    assert set(info["tags"]) == set(env.twin.tag_names)


def test_items_are_conserved_under_changeovers_maintenance_and_speed_changes() -> None:
    env = make(TWIN_ID)
    env.reset(seed=11, options={"product": 0})
    rng = np.random.default_rng(0)
    for step in range(240):
        speeds = {
            f"{s.name}__speed": rng.uniform(s.min_speed_per_min, s.max_speed_per_min)
            for s in BOTTLING_LINE.stations
        }
        if step % 60 == 0:  # one maintenance per hour, station by station
            speeds[f"{STATIONS[step // 60]}__pm"] = 1.0
        env.step(action(env, line__next_product=2, **speeds))
        line = env.line
        assert line.initial_wip + line.started == line.completed + line.scrapped + line.wip
    assert line.completed > 5_000
    assert line.scrapped > 0
    assert sum(s.changeovers for s in line.stations) > 0
    assert sum(s.maintenances for s in line.stations) == 4


def test_breakdowns_and_jams_come_at_the_configured_mean_running_time() -> None:
    config = with_stations(
        BOTTLING_LINE,
        jam_mtbf_s=300.0,
        jam_mttr_s=20.0,
        breakdown_mtbf_s=900.0,
        breakdown_mttr_s=120.0,
        breakdown_repair_cv=0.5,
    )
    line = PackagingLine(config, np.random.default_rng(3), product=1, buffer_levels=[50, 100, 100])
    line.run(30 * 3600.0)
    running = line.running_seconds()
    for station, run_s in zip(line.stations, running, strict=True):
        assert station.breakdowns > 60, station.config.name
        assert run_s / station.jams == pytest.approx(300.0, rel=0.12), station.config.name
        assert run_s / station.breakdowns == pytest.approx(900.0, rel=0.2), station.config.name
        expected_down = station.jams * 20.0 + station.breakdowns * 120.0
        assert station.time_in_state[DOWN] == pytest.approx(expected_down, rel=0.15), station.config.name


def test_jams_come_more_often_at_higher_speed() -> None:
    config = with_stations(BOTTLING_LINE, jam_mtbf_s=300.0, jam_speed_exponent=2.0, breakdown_mtbf_s=1e9)
    per_hour = []
    for fraction in (0.5, 1.0):
        line = PackagingLine(config, np.random.default_rng(5), product=1)
        line.set_speeds([fraction * s.nominal_speed_per_min for s in config.stations])
        line.run(10 * 3600.0)
        per_hour.append(line.stations[0].jams / (line.running_seconds()[0] / 3600.0))
    assert per_hour[1] / per_hour[0] == pytest.approx(4.0, rel=0.25)


def test_a_changeover_costs_the_configured_time_on_every_machine() -> None:
    env = make(TWIN_ID)
    env.reset(seed=2, options={"product": 0})
    tags = run(env, action(env, line__next_product=2), 90)
    assert tags[-1]["line.product"] == 2
    assert all(tags[-1][f"{s}.product"] == 2 for s in STATIONS)
    for station, config in zip(env.line.stations, BOTTLING_LINE.stations, strict=True):
        assert station.changeovers == 1
        assert sum(t[f"{config.name}.changeover"] for t in tags) * DT == pytest.approx(config.changeover_s)
    # Downstream machines change over while the filler still is, once the old product has passed them.
    last = {s: max(k for k, t in enumerate(tags) if t[f"{s}.changeover"] > 0) for s in STATIONS}
    assert last["capper"] <= last["filler"]
    # The new product has longer cycles: the line runs slower after the changeover.
    assert tags[-1]["filler.rate"] < 0.75 * tags[0]["filler.rate"]


def test_running_the_same_product_again_needs_no_changeover() -> None:
    env = make(TWIN_ID)
    env.reset(seed=2, options={"product": 1})
    tags = run(env, action(env, line__next_product=1), 60)
    assert tags[-1]["line.lot_remaining"] > 0
    assert all(station.changeovers == 0 for station in env.line.stations)
    assert sum(t["filler.changeover"] for t in tags) == 0


def test_a_maintenance_trigger_takes_its_time_and_renews_the_machine() -> None:
    env = make(TWIN_ID)
    env.reset(seed=4)
    age_before = env.step(action(env))[4]["tags"]["labeller.age"]
    tags = [env.step(action(env, labeller__pm=1.0))[4]["tags"]]
    tags += run(env, action(env), 45)
    labeller = BOTTLING_LINE.stations[2]
    assert env.line.stations[2].maintenances == 1
    assert sum(t["labeller.maintenance"] for t in tags) * DT == pytest.approx(labeller.pm_duration_s)
    assert all(env.line.stations[i].maintenances == 0 for i in (0, 1, 3))
    assert age_before > 0.5
    assert tags[-1]["labeller.age"] < (45 * DT - labeller.pm_duration_s) / 3600 + 1e-9


def test_holding_the_trigger_does_not_stack_maintenances() -> None:
    env = make(TWIN_ID)
    env.reset(seed=4)
    run(env, action(env, filler__pm=1.0), 30)  # 30 min, shorter than one 40 min maintenance
    assert env.line.stations[0].maintenances == 0
    assert env.line.stations[0].state == MAINTENANCE


def test_higher_speed_gives_more_throughput_and_uses_more_energy() -> None:
    totals = []
    for fraction in (0.5, 0.75, 1.0):
        env = make(TWIN_ID)
        env.reset(seed=6, options={"product": 1})
        speeds = {f"{s.name}__speed": fraction * s.max_speed_per_min for s in BOTTLING_LINE.stations}
        target = action(env, **speeds)
        for _ in range(10):  # ramp within the rate limit
            env.step(target)
        start_items, start_energy = env.line.completed, env.line.energy_kwh
        run(env, target, 120)
        totals.append((env.line.completed - start_items, env.line.energy_kwh - start_energy))
    items, energy = np.asarray(totals).T
    assert np.all(np.diff(items) > 0)
    assert np.all(np.diff(energy) > 0)


def test_buffers_stay_within_their_capacity_and_fill_up_behind_a_slow_machine() -> None:
    env = make(TWIN_ID)
    env.reset(seed=8)
    levels = []
    slow_capper = action(env, filler__speed=132, capper__speed=40)
    for tags in run(env, slow_capper, 60) + run(env, action(env), 60):
        levels.append([tags[f"buffer{k}.level"] for k in (1, 2, 3)])
        assert 0 <= tags["line.wip"] <= sum(BOTTLING_LINE.buffer_capacities) + len(STATIONS)
    levels_arr = np.asarray(levels)
    capacities = np.asarray(BOTTLING_LINE.buffer_capacities)
    assert np.all(levels_arr >= 0) and np.all(levels_arr <= capacities)
    assert levels_arr[:, 0].max() == capacities[0]  # the filler was blocked by a full conveyor
    for buffer, capacity in zip(env.line.buffers, capacities, strict=True):
        assert sum(count for _, count in buffer.runs) == buffer.level <= capacity


def test_state_shares_power_and_energy_add_up() -> None:
    env = make(TWIN_ID)
    _, info = env.reset(seed=9, options={"product": 0})
    energy = info["tags"]["line.energy"]
    rng = np.random.default_rng(1)
    act = action(env, filler__pm=0.0)
    for step in range(120):
        act = action(
            env,
            line__next_product=int(step > 30) * 2,
            **{
                f"{s.name}__speed": rng.uniform(s.min_speed_per_min, s.max_speed_per_min)
                for s in BOTTLING_LINE.stations
            },
            packer__pm=float(step == 50),
        )
        _, _, _, _, info = env.step(act)
        tags, applied = info["tags"], info["action_applied"]
        line_power = 0.0
        for k, config in enumerate(BOTTLING_LINE.stations):
            shares = [tags[f"{config.name}.{state}"] for state in STATES]
            assert sum(shares) == pytest.approx(1.0, abs=1e-9)
            power = dict(config.power_kw, running=config.running_power_kw(applied[k]))
            assert tags[f"{config.name}.power"] == pytest.approx(
                sum(power[s] * shares[i] for i, s in enumerate(STATES))
            )
            line_power += tags[f"{config.name}.power"]
        assert tags["line.power"] == pytest.approx(line_power)
        assert tags["line.energy"] - energy == pytest.approx(line_power * DT / 3600.0)
        energy = tags["line.energy"]
        good = tags["line.throughput"] * DT / 3600.0
        assert tags["line.specific_energy"] == pytest.approx(line_power * DT / 3.6 / max(good, 1.0))
    spent = env.line.state_fractions()
    assert spent[:, CHANGEOVER].min() > 0 and spent[3, MAINTENANCE] > 0 and spent[:, RUNNING].min() > 0.3


def test_reset_options_are_checked() -> None:
    env = make(TWIN_ID)
    with pytest.raises(SimulationError, match="unknown reset options"):
        env.reset(seed=0, options={"speed": 3})
    with pytest.raises(SimulationError, match=r"buffer1 level 999 outside 0\.\.150"):
        env.reset(seed=0, options={"buffer_levels": [999, 0, 0]})


def test_bad_line_configurations_and_mismatched_specs_are_refused() -> None:
    with pytest.raises(SimulationError, match="2 buffer capacities for 4 stations"):
        dataclasses.replace(BOTTLING_LINE, buffer_capacities=(10, 10))
    with pytest.raises(SimulationError, match="power_kw lacks the states"):
        with_stations(BOTTLING_LINE, power_kw={"running": 1.0})
    three = dataclasses.replace(
        BOTTLING_LINE, stations=BOTTLING_LINE.stations[:3], buffer_capacities=(10, 10)
    )
    with pytest.raises(SimulationError, match="does not fit the packaging line"):
        PackagingLineEnv(config=three)
    slow_filler = dataclasses.replace(BOTTLING_LINE.stations[0], max_speed_per_min=130.0)
    slow = dataclasses.replace(BOTTLING_LINE, stations=(slow_filler, *BOTTLING_LINE.stations[1:]))
    with pytest.raises(SimulationError, match=r"filler.speed bounds \[40, 132\] reach outside"):
        PackagingLineEnv(config=slow)


def test_benchmark_quick_mode_runs_and_the_shell_does_not_change_the_simulation(tmp_path: Path) -> None:
    script = Path(__file__).parents[2] / "benchmarks" / "packaging_line.py"
    out = tmp_path / "result.json"
    args = [sys.executable, str(script), "--quick", "--hours", "0.25", "--repeats", "1", "--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"twin env.step", "line run+sample", "line one run", "textbook SimPy"}
    shipped = {name: row["items_shipped"] for name, row in results.items()}
    assert shipped["twin env.step"] == shipped["line run+sample"] == shipped["line one run"] > 1000
    assert all(row["sim_hours_per_s"] > 0 for row in results.values())
