"""Random variates for the line, drawn from numpy in blocks and handed out one at a time.

A scalar numpy draw costs about a microsecond; a block of 2048 costs about as much as a few
scalars. Each stream owns its own generator (spawned from the env's ``np_random``), so the
sequence one station sees does not depend on what the other stations did — changing one machine's
speed leaves the others' random numbers alone (common random numbers for what-if comparisons).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

BLOCK = 2048


def stream(sample: Callable[[int], np.ndarray]) -> Iterator[float]:
    """An endless iterator of Python floats, refilled ``BLOCK`` at a time from ``sample(n)``."""
    while True:
        yield from sample(BLOCK).tolist()


def gamma_around_one(rng: np.random.Generator, cv: float) -> Iterator[float]:
    """Multipliers with mean 1 and coefficient of variation ``cv`` (exactly 1 when ``cv`` is 0)."""
    if cv == 0:
        return stream(np.ones)
    shape = 1.0 / (cv * cv)
    return stream(lambda n: rng.gamma(shape, 1.0 / shape, n))


def exponential(rng: np.random.Generator, mean: float) -> Iterator[float]:
    return stream(lambda n: mean * rng.standard_exponential(n))


def lognormal(rng: np.random.Generator, mean: float, cv: float) -> Iterator[float]:
    """Lognormal durations with the given mean and coefficient of variation (constant when ``cv`` is 0)."""
    if cv == 0:
        return stream(lambda n: np.full(n, mean))
    sigma2 = math.log1p(cv * cv)
    return stream(lambda n: rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), n))


def uniform(rng: np.random.Generator) -> Iterator[float]:
    return stream(rng.random)


def weibull_scale(mean: float, shape: float) -> float:
    """The Weibull scale η that gives ``mean`` for ``shape`` β: mean = η Γ(1 + 1/β)."""
    return mean / math.gamma(1.0 + 1.0 / shape)
