"""``WorldModel``: the trained network with everything needed to use it on tables in engineering units.

    wm = worldtwin.train(data, spec)                       # or WorldModel.load("models/reactor")
    fc = wm.forecast(history_df, future_df)                # Forecast(mean, lower, upper), one column per tag
    wm.surprise(df), wm.ood_score(df)                      # per-row anomaly / out-of-distribution scores
    env = wm.as_env()                                      # the model as a Gymnasium env ("dream" env)
    wm.save("models/reactor")

Forecast convention (the table split at "now"): ``history`` is the table up to and including the
latest row t_n — its actions are the ones applied during [t_n, t_n+1) — and ``future`` holds the
next rows t_n+1 … t_n+H with their action and known-input columns. Forecast row j predicts the tags at
future row j's time; the actions of the last future row are not needed for it but must be present.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch

from worldtwin import __version__
from worldtwin.errors import CheckpointError, DataError, ModelError
from worldtwin.model.calibrate import Bands, Monitors, latent_residuals, mahalanobis, roll_out
from worldtwin.model.checkpoint import read_checkpoint, write_checkpoint
from worldtwin.model.data import Layout, Scaler, conditions, pieces
from worldtwin.model.forecast import Forecast
from worldtwin.model.jepa import JEPA, NetConfig
from worldtwin.spec.schema import Twin
from worldtwin.telemetry.table import EPISODE

if TYPE_CHECKING:
    from worldtwin.model.env import DreamEnv

CHUNK = 2048
"""Rows scored per pass by ``surprise``/``ood_score`` (bounds memory on long tables)."""
SURPRISE_HORIZON = 10
"""Default look-back of ``surprise``: chosen on injected CSTR faults (docs/world-model.md)."""


class WorldModel:
    """A trained, calibrated world model of one twin. Build with :func:`worldtwin.train` or :meth:`load`."""

    def __init__(
        self,
        spec: Twin,
        net: JEPA,
        tags: Scaler,
        inputs: Scaler,
        anchor: np.ndarray,
        bands: Bands,
        monitors: Monitors,
        info: dict[str, Any],
        *,
        start_y: np.ndarray,
        start_cond: np.ndarray,
        start_time: np.ndarray,
    ) -> None:
        self.spec, self.net, self.tags, self.inputs = spec, net.eval(), tags, inputs
        self.anchor, self.bands, self.monitors, self.info = anchor, bands, monitors, info
        # Start windows for as_env: scaled tags and conditions (n, rows, ·), time of the last row (n,).
        self.start_y, self.start_cond, self.start_time = start_y, start_cond, start_time
        self.layout = Layout.from_spec(spec)
        self.device = next(net.parameters()).device

    def __repr__(self) -> str:
        c = self.net.config
        return (
            f"WorldModel(twin={self.spec.name!r}, predicts={list(self.layout.predicted)}, "
            f"inputs={list(self.layout.inputs)}, latent={c.latent_dim}, predictor={c.predictor!r}, "
            f"ensemble={c.ensemble})"
        )

    @property
    def predicted_names(self) -> list[str]:
        return list(self.layout.predicted)

    @property
    def level(self) -> float:
        return self.bands.level

    # --- forecasting -------------------------------------------------------------------------------

    def forecast(self, history: pd.DataFrame, future: pd.DataFrame) -> Forecast:
        """Forecast every predicted tag over ``future``'s rows (the convention: see the module docstring)."""
        rows = self.net.config.rows_needed
        recent = history.iloc[-rows:]  # only these rows are read, so only these are checked
        self.layout.check(recent, "history")
        self.layout.check(future, "future", inputs_only=True)
        if len(recent) < rows:
            raise DataError(
                f"history has {len(history)} row(s); this model needs the last {rows} to start a "
                "forecast (its encoder window plus predictor context)"
            )
        if EPISODE in recent.columns and recent[EPISODE].nunique() > 1:
            raise DataError(
                f"the last {rows} history rows span episodes {recent[EPISODE].unique().tolist()}; "
                "pass rows of one episode"
            )
        if len(future) == 0:
            raise DataError(
                "future has no rows; pass one row per step to forecast, with the action and "
                "known-input columns"
            )
        columns = [c for c in ("time", *self.layout.inputs) if c in future.columns and c in recent.columns]
        joined = pd.concat([recent[columns], future[columns]], ignore_index=True)
        y = torch.from_numpy(self.tags(recent[list(self.layout.predicted)].to_numpy(float)))[None]
        cond = torch.from_numpy(conditions(joined, self.layout, self.inputs))[None]
        horizon = len(future)
        rollouts = roll_out(self.net, y.to(self.device), cond.to(self.device), horizon)
        mean = rollouts.decoded(self.anchor_weights(horizon))[0]  # (H, m) normalised
        half = self.bands.half_width(rollouts.spread)[0] * self.tags.std  # (H, m) engineering units
        mean = self.tags.inverse(mean)
        frame = lambda values: pd.DataFrame(values, index=future.index, columns=self.predicted_names)  # noqa: E731
        return Forecast(frame(mean), frame(mean - half), frame(mean + half), level=self.level)

    def anchor_weights(self, horizon: int) -> np.ndarray:
        """(horizon, m) anchoring shares; past the validated horizon the last one is kept."""
        extra = max(0, horizon - len(self.anchor))
        return np.concatenate([self.anchor, np.repeat(self.anchor[-1:], extra, axis=0)])[:horizon]

    # --- anomaly scores ----------------------------------------------------------------------------

    def surprise(self, data: pd.DataFrame, horizon: int = SURPRISE_HORIZON) -> pd.Series:
        """Per-row prediction surprise ‖ẑ_t − z_t‖², whitened per latent dimension, averaged over them.

        ẑ_t is what the model predicted for row t ``horizon`` steps earlier, under the logged inputs, and
        z_t the encoding of what was measured: ≈ 1 on data like the training data, large after a
        fault. ``horizon=1`` is the classic one-step JEPA surprise; the default 10 also catches slow
        faults (drift, a frozen sensor) that one step hides (docs/world-model.md). NaN for the first
        ``window + context + horizon - 1`` rows of each episode or gap-free piece.
        ``wm.monitors.surprise_threshold[horizon - 1]`` is the 99th percentile on held-out data.
        """
        limit = len(self.monitors.residual_var)
        if not 1 <= horizon <= limit:
            raise ModelError(
                f"surprise horizon {horizon} is outside 1..{limit}, the horizons this model calibrated"
            )
        return self._score(data, horizon).rename("surprise")

    def ood_score(self, data: pd.DataFrame) -> pd.Series:
        """Per-row Mahalanobis distance² of the latent from the training latents (≈ χ²_D in distribution).

        Above ``wm.monitors.ood_threshold`` (99th percentile on held-out data) the model is outside what
        it was trained on and its forecasts should not be trusted. NaN for the first ``window - 1`` rows.
        """
        return self._score(data, None).rename("ood")

    def _score(self, data: pd.DataFrame, horizon: int | None) -> pd.Series:
        """Surprise at ``horizon`` (or, for None, the OOD score) of every row, in chunks of CHUNK rows."""
        self.layout.check(data, "data")
        out = pd.Series(np.nan, index=data.index, dtype=float)
        w, rows = self.net.config.window, self.net.config.rows_needed
        first = w - 1 if horizon is None else rows + horizon - 1  # rows before the first score
        for piece in pieces(data, self.layout):
            y = self.tags(piece[list(self.layout.predicted)].to_numpy(float))
            cond = conditions(piece, self.layout, self.inputs)
            for start in range(0, max(len(piece) - first, 0), CHUNK):
                stop = min(start + first + CHUNK, len(piece))
                y_t = torch.from_numpy(y[start:stop])[None].to(self.device)
                c_t = torch.from_numpy(cond[start:stop])[None].to(self.device)
                if horizon is None:
                    with torch.no_grad():
                        z = self.net.encode(y_t, c_t)[0].double().cpu().numpy()  # (T', D)
                    values = mahalanobis(z, self.monitors.latent_mean, self.monitors.latent_precision)
                else:
                    residual = (
                        latent_residuals(self.net, y_t, c_t, horizon)[1][0].double().cpu().numpy()
                    )  # (n, D)
                    values = (residual**2 / self.monitors.residual_var[horizon - 1]).mean(-1)
                out.loc[piece.index[start + first : stop]] = values
        return out

    # --- the model as an environment -----------------------------------------------------------------

    def as_env(
        self, *, max_episode_steps: int | None = 200, member: Literal["mean", "sample"] = "mean"
    ) -> DreamEnv:
        """The model behind the twin's Gymnasium contract: same spaces, reward and ``info`` as the plant.

        Episodes start from windows of the training data; ``member="sample"`` follows one randomly drawn
        ensemble head per episode instead of the ensemble mean.
        """
        from worldtwin.model.env import DreamEnv

        return DreamEnv(self, max_episode_steps=max_episode_steps, member=member)

    # --- persistence ---------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the model directory (safetensors + JSON + curves + model card); returns its path."""
        from worldtwin.model.report import write_card, write_curves

        manifest = {
            "worldtwin_version": __version__,
            "spec": self.spec.model_dump(mode="json"),
            "spec_hash": self.spec.spec_hash(),
            "net": self.net.config.to_dict(),
            "level": self.level,
            "monitors": {
                "surprise_threshold": self.monitors.surprise_threshold.tolist(),
                "ood_threshold": self.monitors.ood_threshold,
            },
            **self.info,
        }
        tensors = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        arrays = {
            "tags.mean": self.tags.mean,
            "tags.std": self.tags.std,
            "inputs.mean": self.inputs.mean,
            "inputs.std": self.inputs.std,
            "anchor": self.anchor,
            "bands.scale": self.bands.scale,
            "bands.quantile": self.bands.quantile,
            "monitors.residual_var": self.monitors.residual_var,
            "monitors.latent_mean": self.monitors.latent_mean,
            "monitors.latent_precision": self.monitors.latent_precision,
            "start.y": self.start_y,
            "start.cond": self.start_cond,
            "start.time": self.start_time,
        }
        tensors |= {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}
        out = write_checkpoint(path, manifest, tensors)
        write_curves(out, self.info.get("curves", {}))
        write_card(out, self)
        return out

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> WorldModel:
        """Load a model directory; :class:`CheckpointError` when it is damaged, tampered with or foreign."""
        manifest, tensors = read_checkpoint(path, device)
        try:
            spec = Twin.model_validate(manifest["spec"])
            if spec.spec_hash() != manifest["spec_hash"]:
                raise CheckpointError(
                    f"{path}: the spec in model.json does not match its recorded hash; the "
                    "manifest was edited. Retrain or restore the original directory"
                )
            net = JEPA(NetConfig(**manifest["net"]), torch.Generator().manual_seed(0)).to(device)
            net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")}, strict=True)
            array = lambda key: tensors[key].cpu().numpy()  # noqa: E731
            bands = Bands(array("bands.scale"), array("bands.quantile"), float(manifest["level"]))
            monitors = Monitors(
                array("monitors.residual_var"),
                np.asarray(manifest["monitors"]["surprise_threshold"], dtype=float),
                array("monitors.latent_mean"),
                array("monitors.latent_precision"),
                float(manifest["monitors"]["ood_threshold"]),
            )
            info: dict[str, Any] = {
                k: manifest[k] for k in ("data", "train", "metrics", "curves") if k in manifest
            }
            model = cls(
                spec,
                net,
                Scaler(array("tags.mean"), array("tags.std")),
                Scaler(array("inputs.mean"), array("inputs.std")),
                array("anchor"),
                bands,
                monitors,
                info,
                start_y=array("start.y"),
                start_cond=array("start.cond"),
                start_time=array("start.time"),
            )
        except CheckpointError:
            raise
        except (
            KeyError,
            TypeError,
            ValueError,
            RuntimeError,
        ) as exc:  # pydantic's ValidationError is a ValueError
            detail = json.dumps(str(exc))[:300]
            raise CheckpointError(
                f"{path}: the checkpoint does not fit together ({detail}); it is damaged or "
                "was written by an incompatible version. Retrain the model"
            ) from None
        model._check_shapes(path)
        return model

    def _check_shapes(self, path: str | Path) -> None:
        m, horizon = len(self.layout.predicted), self.anchor.shape[0]
        expected = {
            "anchor": (horizon, m),
            "bands.quantile": (horizon, m),
            "bands.scale": (horizon, m),
            "tags.mean": (m,),
            "inputs.mean": (len(self.layout.inputs),),
        }
        actual = {
            "anchor": self.anchor.shape,
            "bands.quantile": self.bands.quantile.shape,
            "bands.scale": self.bands.scale.shape,
            "tags.mean": self.tags.mean.shape,
            "inputs.mean": self.inputs.mean.shape,
        }
        wrong = {k: (actual[k], v) for k, v in expected.items() if actual[k] != v}
        if wrong or self.net.config.n_obs != m or self.net.config.n_cond != self.layout.n_cond:
            raise CheckpointError(
                f"{path}: tensor shapes do not match the spec ({wrong or 'network sizes'}); the "
                "checkpoint is damaged or mixes two models. Retrain the model"
            )
