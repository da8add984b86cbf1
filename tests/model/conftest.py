"""Shared fixtures: the pendulum data and one tiny model trained once per session."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from .plant import pendulum_spec, pendulum_table, tiny_config


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
