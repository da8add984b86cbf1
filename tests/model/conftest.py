"""Shared fixtures: a tiny tank plant (evaluation tests), pendulum data, one tiny model trained once."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from worldtwin.model.eval_windows import Roles

from .plant import pendulum_spec, pendulum_table, tiny_config

ROLES = Roles(targets=("h1", "h2"), inputs=("q",))


def tank_table(episodes: int, steps: int, *, seed: int = 0, noise: float = 0.01) -> pd.DataFrame:
    """Two cascaded tanks (outflow ∝ √level) under a random-step inflow, with sensor noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for episode in range(episodes):
        h = rng.uniform(0.5, 1.5, size=2)
        q = rng.uniform(0.3, 1.0)
        for k in range(steps):
            if k % 15 == 0:
                q = rng.uniform(0.3, 1.0)
            rows.append((episode, float(k), *(h + noise * rng.standard_normal(2)), q))
            out1, out2 = 0.6 * np.sqrt(h[0]), 0.6 * np.sqrt(h[1])
            h = np.maximum(h + 0.2 * np.array([q - out1, out1 - out2]), 1e-3)
    return pd.DataFrame(rows, columns=["episode", "time", "h1", "h2", "q"])


@pytest.fixture(scope="module")
def tanks() -> pd.DataFrame:
    return tank_table(12, 160)


@pytest.fixture
def tank_roles() -> Roles:
    return ROLES


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; two OpenMP threads on a busy 2-core machine are far slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def pendulum_data() -> pd.DataFrame:
    return pendulum_table(30, 120, seed=1)


@pytest.fixture(scope="session")
def pendulum_model(pendulum_data: pd.DataFrame):
    from worldtwin.model import train

    return train(pendulum_data, pendulum_spec(), tiny_config())
