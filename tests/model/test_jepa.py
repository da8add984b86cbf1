"""The network's four verbs and their shapes."""

from __future__ import annotations

import pytest
import torch

from worldtwin.model.jepa import JEPA, NetConfig


@pytest.mark.parametrize("predictor, context", [("mlp", 1), ("mlp", 2), ("transformer", 3)])
def test_shapes_of_encode_predict_rollout_readout(predictor: str, context: int) -> None:
    g = torch.Generator().manual_seed(0)
    config = NetConfig(
        n_obs=3,
        n_cond=4,
        latent_dim=8,
        window=3,
        context=context,
        predictor=predictor,  # type: ignore[arg-type]
        ensemble=5,
        width=16,
        cond_dim=6,
    )
    net = JEPA(config, g).eval()
    batch, rows = 7, config.rows_needed + 10
    y, cond = torch.randn(batch, rows, 3, generator=g), torch.randn(batch, rows, 4, generator=g)
    z = net.encode(y, cond)
    assert z.shape == (batch, rows - 2, 8)  # one latent per full window of 3 rows
    e = net.embed(cond)
    assert e.shape == (batch, rows, 6)
    assert net.predict(z[:, :context].unsqueeze(0), e[:, :context]).shape == (5, batch, 8)
    z_hat = net.rollout(z[:, :context], e[:, : context + 9])
    assert z_hat.shape == (5, batch, 10, 8)
    assert net.readout(z_hat).shape == (5, batch, 10, 3)


def test_rollout_feeds_its_own_predictions_back() -> None:
    g = torch.Generator().manual_seed(1)
    net = JEPA(NetConfig(n_obs=2, n_cond=1, latent_dim=4, context=2, ensemble=2, width=8), g).eval()
    z, e = torch.randn(3, 2, 4, generator=g), torch.randn(3, 4, net.config.cond_dim, generator=g)
    z_hat = net.rollout(z, e)  # 3 steps
    first = net.predict(z.unsqueeze(0), e[:, :2])
    context = torch.cat([z[:, 1:].unsqueeze(0).expand(2, -1, -1, -1), first.unsqueeze(2)], dim=2)
    second = net.predict(context, e[:, 1:3])
    assert torch.allclose(z_hat[:, :, 0], first) and torch.allclose(z_hat[:, :, 1], second)


def test_no_conditions_still_builds() -> None:
    net = JEPA(
        NetConfig(n_obs=2, n_cond=0, latent_dim=4, ensemble=1, width=8), torch.Generator().manual_seed(0)
    )
    y, cond = torch.randn(2, 6, 2), torch.zeros(2, 6, 0)
    z = net.encode(y, cond)
    assert net.rollout(z[:, :1], net.embed(cond[:, 2:-1])).shape == (1, 2, 3, 4)


def test_initialisation_is_reproducible_from_the_generator() -> None:
    config = NetConfig(n_obs=2, n_cond=1, ensemble=3, width=8)
    a, b = JEPA(config, torch.Generator().manual_seed(5)), JEPA(config, torch.Generator().manual_seed(5))
    c = JEPA(config, torch.Generator().manual_seed(6))
    assert all(
        torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))
