"""The learned world model: JEPA latent dynamics, ensemble, calibration, surprise, checkpoints."""

from worldtwin.model.forecast import Forecast, Forecaster

__all__ = ["Forecast", "Forecaster"]
