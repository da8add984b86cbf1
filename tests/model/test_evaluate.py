"""The evaluation harness: metrics against hand-computed cases, shared origins, fault detection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from worldtwin.errors import DataError
from worldtwin.model.baselines import ARX, Persistence, ZScore
from worldtwin.model.eval_windows import Roles, split_episodes, to_episodes
from worldtwin.model.evaluate import auroc, evaluate_detection, evaluate_forecasts
from worldtwin.model.forecast import Forecast

RAMP = Roles(targets=("x",), inputs=())


def test_auroc_matches_hand_counts_with_ties() -> None:
    # pairs (pos > neg): 3 > {1, 2} → 2, 2 vs {1, 2} → 1 + 0.5 tie, 0 vs {1, 2} → 0; total 3.5 of 6
    assert auroc([3.0, 2.0, 0.0], [1.0, 2.0]) == pytest.approx(3.5 / 6)
    assert auroc([5, 6], [1, 2]) == 1.0 and auroc([1, 2], [5, 6]) == 0.0
    with pytest.raises(DataError, match="NaN"):
        auroc([np.nan], [1.0])


def test_persistence_nrmse_and_coverage_on_a_hand_computed_ramp() -> None:
    # x = t on every episode: persistence is off by exactly h at horizon h
    table = pd.DataFrame({"episode": np.repeat([0, 1], 20), "time": np.tile(np.arange(20.0), 2)})
    table["x"] = table["time"]
    model = Persistence(RAMP)
    model.calibrate(to_episodes(table, RAMP), horizon=3)  # errors are exactly 1, 2, 3 → half-widths 1, 2, 3
    result = evaluate_forecasts({"p": model}, table, RAMP, horizons=(1, 3), origins=1000, history_rows=2)
    std = np.arange(20.0).std()
    scores = result.scores["p"]
    assert scores.nrmse[1]["x"] == pytest.approx(1 / std) and scores.nrmse[3]["x"] == pytest.approx(3 / std)
    assert scores.coverage == 1.0  # truth lies exactly on the upper edge: inside
    assert scores.width == pytest.approx(np.mean([2, 4, 6]) / std)
    assert len(result.origins) == 2 * (20 - 3 - 1)  # every valid origin of both episodes


class Oracle:
    """Reads the truth from the table it holds: NRMSE 0; records which columns the future carried."""

    def __init__(self, table: pd.DataFrame) -> None:
        self.table = table
        self.future_columns: set[str] = set()

    def forecast(self, history: pd.DataFrame, future: pd.DataFrame) -> Forecast:
        self.future_columns |= set(future.columns)
        truth = self.table.loc[future.index, ["h1", "h2"]]
        return Forecast(truth, truth - 1, truth + 1)


def test_every_model_gets_the_same_origins_and_no_future_targets(
    tanks: pd.DataFrame, tank_roles: Roles
) -> None:
    roles = tank_roles
    oracle = Oracle(tanks)
    persistence = Persistence(roles)
    persistence.calibrate(to_episodes(tanks, roles), 10)
    result = evaluate_forecasts(
        {"oracle": oracle, "persistence": persistence}, tanks, roles, horizons=(1, 10), origins=30, seed=3
    )
    assert oracle.future_columns == {"episode", "time", "q"}
    assert result.scores["oracle"].mean_nrmse(10) == 0.0 and result.scores["oracle"].coverage == 1.0
    assert result.ratio("oracle", "persistence", 10) == 0.0
    again = evaluate_forecasts({"p": persistence}, tanks, roles, horizons=(1, 10), origins=30, seed=3)
    assert again.origins == result.origins
    assert again.scores["p"].nrmse == result.scores["persistence"].nrmse


def test_a_forecast_of_the_wrong_shape_is_reported() -> None:
    class Short:
        def forecast(self, history: pd.DataFrame, future: pd.DataFrame) -> Forecast:
            frame = pd.DataFrame({"x": [0.0]})
            return Forecast(frame, frame, frame)

    table = pd.DataFrame({"time": np.arange(30.0), "x": np.arange(30.0)})
    with pytest.raises(DataError, match="returned a forecast with 1 rows"):
        evaluate_forecasts({"short": Short()}, table, RAMP, horizons=(1, 5), origins=3, history_rows=2)


def test_split_by_episode_has_no_leakage(tanks: pd.DataFrame) -> None:
    parts = split_episodes(tanks, seed=1)
    sets = [set(p["episode"]) for p in parts]
    assert all(sets) and not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sum(len(p) for p in parts) == len(tanks)
    with pytest.raises(DataError, match="need at least 3"):
        split_episodes(tanks[tanks.episode < 2])


def test_model_surprise_detects_injected_faults_better_than_zscores(
    tanks: pd.DataFrame, tank_roles: Roles
) -> None:
    roles = tank_roles
    train, validation, test = split_episodes(tanks, (0.5, 0.25, 0.25), seed=0)
    train_eps, val_eps = to_episodes(train, roles), to_episodes(validation, roles)
    arx = ARX.fit(train_eps, val_eps, roles, orders=(2, 3), ridges=(1e-6,), horizons=(1, 10))
    arx.surprise_steps = (1, 10)
    zscore = ZScore.fit(train_eps, roles)
    result = evaluate_detection({"arx": arx, "zscore": zscore}, test, roles, window=40, warmup=16, seed=0)
    assert result.windows >= 6
    assert set(result.auroc["arx"]) == {"stuck", "drift", "spike", "bias"}
    for kind in ("drift", "spike", "bias"):
        assert result.auroc["arx"][kind] >= 0.95, (kind, result.auroc)
    assert np.mean(list(result.auroc["arx"].values())) > np.mean(list(result.auroc["zscore"].values()))


class NoiseEnergy:
    """A calibrated surprise (≈ 1 on white noise of std 1): squared first difference / 2."""

    def surprise(self, frame: pd.DataFrame) -> pd.Series:
        return (frame["x"].diff() ** 2 / 2).fillna(1.0)


def test_two_sided_auroc_sees_a_stuck_sensor_that_lowers_surprise() -> None:
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "episode": np.repeat(np.arange(4), 300),
            "time": np.tile(np.arange(300.0), 4),
            "x": rng.standard_normal(1200),
        }
    )
    result = evaluate_detection(
        {"energy": NoiseEnergy()},
        table,
        RAMP,
        kinds=("stuck", "bias"),
        window=40,
        warmup=10,
        calibrated=["energy"],
        seed=0,
    )
    assert result.auroc["energy"]["stuck"] < 0.05  # one-sided: a frozen reading looks *less* surprising
    assert result.two_sided["energy"]["stuck"] > 0.95
    assert set(result.to_dict()["two_sided"]) == {"energy"}
