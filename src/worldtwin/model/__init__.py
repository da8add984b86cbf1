"""The learned world model: JEPA latent dynamics, ensemble, calibration, surprise, checkpoints.

``train``, ``TrainConfig`` and ``WorldModel`` import torch, so they load on first use; the
``Forecast``/``Forecaster`` contract stays importable without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from worldtwin.model.forecast import Forecast, Forecaster

if TYPE_CHECKING:
    from worldtwin.model.training import TrainConfig, train
    from worldtwin.model.world_model import WorldModel

_LAZY = {
    "train": "worldtwin.model.training",
    "TrainConfig": "worldtwin.model.training",
    "WorldModel": "worldtwin.model.world_model",
}

__all__ = ["Forecast", "Forecaster", "TrainConfig", "WorldModel", "train"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'worldtwin.model' has no attribute {name!r}")
