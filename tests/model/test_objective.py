"""The training objective's named terms and where its gradients go."""

from __future__ import annotations

import pytest
import torch

from worldtwin.model.jepa import JEPA, NetConfig
from worldtwin.model.objective import objective


def _batch(net: JEPA, rollout: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    rows = net.config.window - 1 + net.config.context + rollout
    return torch.randn(16, rows, net.config.n_obs, generator=g), torch.randn(
        16, rows, net.config.n_cond, generator=g
    )


@pytest.mark.parametrize("anchored", ["auto", "on", "off"])
def test_objective_returns_finite_named_terms(anchored: str) -> None:
    g = torch.Generator().manual_seed(0)
    net = JEPA(NetConfig(n_obs=3, n_cond=2, latent_dim=8, ensemble=3, width=16), g)
    y, cond = _batch(net, 5, g)
    terms = objective(
        net,
        y,
        cond,
        sigreg_weight=0.1,
        anchored=anchored,
        head_weights=torch.ones(3, 16),  # type: ignore[arg-type]
        generator=g,
    )
    assert set(terms) == {"loss", "latent", "sigreg", "reconstruction", "readout_direct", "readout_anchored"}
    assert all(torch.isfinite(v) and v.ndim == 0 for v in terms.values())
    rollout = {
        "auto": 0.5 * (terms["readout_direct"] + terms["readout_anchored"]),
        "on": terms["readout_anchored"],
        "off": terms["readout_direct"],
    }[anchored]
    expected = terms["latent"] + 0.1 * terms["sigreg"] + terms["reconstruction"] + rollout
    assert terms["loss"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_latent_term_trains_the_encoder_through_the_targets_too() -> None:
    """No stop-gradient: the encoded targets z_{t+1..t+R} receive gradient from the prediction term."""
    g = torch.Generator().manual_seed(1)
    net = JEPA(NetConfig(n_obs=2, n_cond=1, latent_dim=4, ensemble=2, width=8), g)
    y, cond = _batch(net, 4, g)
    y.requires_grad_()
    terms = objective(
        net, y, cond, sigreg_weight=0.0, anchored="off", head_weights=torch.ones(2, 16), generator=g
    )
    terms["latent"].backward()
    assert y.grad is not None
    assert y.grad[:, -1].abs().sum() > 0  # the last row only enters as a prediction target


def test_head_weights_select_what_each_head_learns_from() -> None:
    g = torch.Generator().manual_seed(2)
    net = JEPA(NetConfig(n_obs=2, n_cond=1, latent_dim=4, ensemble=2, width=8), g)
    y, cond = _batch(net, 3, g)
    weights = torch.ones(2, 16)
    weights[1] = 0.0  # head 1 sees none of this batch in the latent term
    objective(net, y, cond, sigreg_weight=0.0, anchored="off", head_weights=weights, generator=g)[
        "latent"
    ].backward()
    grad = net.predictor.layers[-1].weight.grad  # type: ignore[index]  (the last layer: it starts at zero)
    assert grad[0].abs().sum() > 0 and grad[1].abs().sum() == 0
