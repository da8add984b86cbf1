"""SIGReg, ensemble layers and the two predictors."""

from __future__ import annotations

import torch

from worldtwin.model.modules import AdaLNBlock, EnsembleLinear, MLPPredictor, TransformerPredictor, sigreg


def test_sigreg_is_small_for_gaussian_samples_and_large_for_collapsed_ones() -> None:
    g = torch.Generator().manual_seed(0)
    gaussian = torch.randn(1024, 16, generator=g)
    collapsed = torch.randn(1024, 1, generator=g).expand(1024, 16) * 0.01  # every sample on one point
    scaled = gaussian * 3.0  # isotropic but the wrong variance
    value = sigreg(gaussian, generator=g).item()
    assert value < 2.0  # under N(0, I) the statistic's expectation is about 1.06 whatever the batch size
    assert sigreg(collapsed, generator=g).item() > 100 * value
    assert sigreg(scaled, generator=g).item() > 10 * value


def test_sigreg_gradient_pushes_towards_the_gaussian() -> None:
    g = torch.Generator().manual_seed(1)
    z = (torch.randn(256, 4, generator=g) * 0.2).requires_grad_()
    optimiser = torch.optim.SGD([z], lr=1.0)
    before = sigreg(z, generator=g).item()
    for _ in range(30):
        optimiser.zero_grad()
        sigreg(z, projections=32, generator=g).backward()
        optimiser.step()
    assert sigreg(z, generator=g).item() < 0.1 * before
    assert 0.7 < z.detach().std().item() < 1.3


def test_ensemble_linear_heads_are_independent() -> None:
    g = torch.Generator().manual_seed(2)
    layer = EnsembleLinear(3, 4, 5)
    layer.reset_parameters(g)
    x = torch.randn(3, 7, 2, 4, generator=g)  # (K, B, T, in)
    out = layer(x)
    assert out.shape == (3, 7, 2, 5)
    for k in range(3):
        assert torch.allclose(out[k], x[k] @ layer.weight[k] + layer.bias[k], atol=1e-6)


def test_predictors_map_context_to_next_latent() -> None:
    g = torch.Generator().manual_seed(3)
    z, e = torch.randn(4, 6, 3, 8, generator=g), torch.randn(4, 6, 3, 5, generator=g)  # K=4, B=6, C=3
    for predictor in (MLPPredictor(4, 8, 5, 3, 16), TransformerPredictor(4, 8, 5, 3, 16)):
        predictor.reset_parameters(g)
        assert predictor(z, e).shape == (4, 6, 8)


def test_mlp_predictor_starts_as_the_identity() -> None:
    g = torch.Generator().manual_seed(5)
    predictor = MLPPredictor(2, 8, 5, 1, 16)
    predictor.reset_parameters(g)
    z, e = torch.randn(2, 3, 1, 8, generator=g), torch.randn(2, 3, 1, 5, generator=g)
    assert torch.equal(predictor(z, e), z[..., -1, :])


def test_adaln_zero_block_starts_as_the_identity_and_depends_on_the_condition_after_training() -> None:
    g = torch.Generator().manual_seed(4)
    block = AdaLNBlock(2, 16, 5, 4)
    block.reset_parameters(g)
    x, e = torch.randn(2, 3, 4, 16, generator=g), torch.randn(2, 3, 4, 5, generator=g)
    assert torch.equal(block(x, e), x)
    torch.nn.init.normal_(block.modulation.weight, generator=g)
    assert not torch.allclose(block(x, e), block(x, -e))
