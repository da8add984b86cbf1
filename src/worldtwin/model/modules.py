"""Building blocks of the world model: SIGReg, ensemble layers and the two latent predictors.

Ensembles are vectorised: every predictor weight carries a leading head dimension ``K`` and one
batched matmul runs all heads at once, so an ensemble of 5 costs about one wide network, not five
networks. Shapes use ``K`` heads, ``B`` batch, ``C`` context steps, ``D`` latent, ``E`` condition.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sigreg(
    z: Tensor, *, projections: int = 256, knots: int = 17, generator: torch.Generator | None = None
) -> Tensor:
    """Sketched isotropic Gaussian regulariser (LeJEPA, arXiv 2511.08544) of a batch ``z`` (N, D).

    Projects ``z`` on random unit directions and compares each projection's empirical characteristic
    function with N(0, 1)'s by the Epps–Pulley statistic (trapezoid rule on s ∈ [0, 3]). About 0 for
    N(0, I) samples (its expectation is O(1) however large N is) and of order N for a collapsed batch.
    """
    n, d = z.shape
    directions = torch.randn(d, projections, generator=generator, device=z.device, dtype=z.dtype)
    directions = directions / directions.norm(dim=0, keepdim=True)  # (D, M) unit columns
    h = z @ directions  # (N, M)
    s = torch.linspace(0, 3, knots, device=z.device, dtype=z.dtype)  # (S,)
    weights = torch.full((knots,), 2 * 3 / (knots - 1), device=z.device, dtype=z.dtype)
    weights[[0, -1]] /= 2  # trapezoid ends; the 2 folds in the mirrored half of the even integrand
    target = torch.exp(-0.5 * s**2)  # (S,) characteristic function of N(0, 1)
    sh = h.unsqueeze(-1) * s  # (N, M, S)
    real = sh.cos().mean(0) - target  # (M, S)
    imag = sh.sin().mean(0)  # (M, S)
    statistic = n * ((real**2 + imag**2) * weights * target).sum(-1)  # (M,)
    return statistic.mean()


class EnsembleLinear(nn.Module):
    """``K`` independent linear layers applied in one batched matmul: (K, B, in) → (K, B, out)."""

    def __init__(self, heads: int, inputs: int, outputs: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(heads, inputs, outputs))
        self.bias = nn.Parameter(torch.empty(heads, 1, outputs))

    def reset_parameters(self, generator: torch.Generator, zero: bool = False) -> None:
        bound = 0.0 if zero else 1 / math.sqrt(self.weight.shape[1])  # nn.Linear's default range
        nn.init.uniform_(self.weight, -bound, bound, generator=generator)
        nn.init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        flat = x.reshape(x.shape[0], -1, x.shape[-1])  # (K, B*, in)
        out = torch.baddbmm(self.bias, flat, self.weight)  # (K, B*, out)
        return out.reshape(*x.shape[:-1], -1)


def mlp(inputs: int, width: int, outputs: int) -> nn.Sequential:
    """Linear → LayerNorm → SiLU → Linear → SiLU → Linear (the shared encoder/readout trunk)."""
    return nn.Sequential(
        nn.Linear(inputs, width),
        nn.LayerNorm(width),
        nn.SiLU(),
        nn.Linear(width, width),
        nn.SiLU(),
        nn.Linear(width, outputs),
    )


class MLPPredictor(nn.Module):
    """Residual MLP heads: z' = z_t + f_k([z_{t-C+1..t}, e_t]) for every head k."""

    def __init__(self, heads: int, latent: int, cond: int, context: int, width: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [
                EnsembleLinear(heads, context * latent + cond, width),
                EnsembleLinear(heads, width, width),
                EnsembleLinear(heads, width, latent),
            ]
        )

    def reset_parameters(self, generator: torch.Generator) -> None:
        for layer in self.layers[:-1]:
            layer.reset_parameters(generator)  # type: ignore[operator]
        self.layers[-1].reset_parameters(generator, zero=True)  # type: ignore[operator]  # starts as ẑ = z

    def forward(self, z: Tensor, e: Tensor) -> Tensor:
        """z (K, B, C, D), e (K, B, C, E) → next latent (K, B, D)."""
        x = torch.cat([z.flatten(-2), e[..., -1, :]], dim=-1)  # (K, B, C*D + E)
        for layer in self.layers[:-1]:
            x = F.silu(layer(x))  # (K, B, width)
        return z[..., -1, :] + self.layers[-1](x)  # (K, B, D)


class AdaLNBlock(nn.Module):
    """A transformer block: LayerNorm shift/scale and residual gates from the condition (AdaLN-zero)."""

    def __init__(self, heads: int, width: int, cond: int, attention_heads: int, mlp_ratio: int = 2) -> None:
        super().__init__()
        self.attention_heads = attention_heads
        self.modulation = EnsembleLinear(heads, cond, 6 * width)  # zero-initialised: starts as the identity
        self.qkv = EnsembleLinear(heads, width, 3 * width)
        self.out = EnsembleLinear(heads, width, width)
        self.up = EnsembleLinear(heads, width, mlp_ratio * width)
        self.down = EnsembleLinear(heads, mlp_ratio * width, width)

    def reset_parameters(self, generator: torch.Generator) -> None:
        self.modulation.reset_parameters(generator, zero=True)
        for layer in (self.qkv, self.out, self.up, self.down):
            layer.reset_parameters(generator)

    def forward(self, x: Tensor, e: Tensor, last_only: bool = False) -> Tensor:
        """x (K, B, C, W) tokens, e (K, B, C, E) per-token condition → (K, B, C, W).

        ``last_only``: return only the newest token (K, B, 1, W), skipping the others' query and MLP
        work; the final block of a predictor needs nothing else.
        """
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(F.silu(e)).chunk(6, -1)  # (K, B, C, W)
        h = F.layer_norm(x, x.shape[-1:]) * (1 + scale1) + shift1  # (K, B, C, W)
        k_heads, batch, steps, width = h.shape
        q, k, v = self.qkv(h).view(k_heads * batch, steps, 3, self.attention_heads, -1).permute(2, 0, 3, 1, 4)
        if last_only:  # the newest token attends to every token: no mask needed
            q, x = q[:, :, -1:], x[:, :, -1:]
            gate1, shift2, scale2, gate2 = (
                gate1[:, :, -1:],
                shift2[:, :, -1:],
                scale2[:, :, -1:],
                gate2[:, :, -1:],
            )
        attended = F.scaled_dot_product_attention(
            q, k, v, is_causal=not last_only
        )  # (K*B, heads, C', W/heads)
        attended = attended.transpose(1, 2).reshape(k_heads, batch, -1, width)  # (K, B, C', W)
        x = x + gate1 * self.out(attended)
        h = F.layer_norm(x, x.shape[-1:]) * (1 + scale2) + shift2
        return x + gate2 * self.down(F.gelu(self.up(h)))  # (K, B, C', W)


class TransformerPredictor(nn.Module):
    """Causal transformer heads over the latent context, the condition injected by AdaLN-zero (as in LeWM)."""

    def __init__(
        self,
        heads: int,
        latent: int,
        cond: int,
        context: int,
        width: int,
        depth: int = 2,
        attention_heads: int = 4,
    ) -> None:
        super().__init__()
        self.embed = EnsembleLinear(heads, latent, width)
        self.position = nn.Parameter(torch.zeros(heads, 1, context, width))
        self.blocks = nn.ModuleList([AdaLNBlock(heads, width, cond, attention_heads) for _ in range(depth)])
        self.head = EnsembleLinear(heads, width, latent)

    def reset_parameters(self, generator: torch.Generator) -> None:
        nn.init.normal_(self.position, std=0.02, generator=generator)
        self.embed.reset_parameters(generator)
        self.head.reset_parameters(generator)
        for block in self.blocks:
            block.reset_parameters(generator)  # type: ignore[operator]

    def forward(self, z: Tensor, e: Tensor) -> Tensor:
        """z (K, B, C, D), e (K, B, C, E) → next latent (K, B, D)."""
        x = self.embed(z) + self.position  # (K, B, C, width)
        for i, block in enumerate(self.blocks):
            x = block(x, e, last_only=i == len(self.blocks) - 1)
        x = F.layer_norm(x[..., -1, :], x.shape[-1:])  # (K, B, width) the newest token
        return z[..., -1, :] + self.head(x)  # (K, B, D)
