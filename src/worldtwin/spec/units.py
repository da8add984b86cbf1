"""Engineering units: one shared pint registry, parsing with clear errors, and value conversion.

Plants speak in units pint does not know out of the box (currencies, item counts), so the registry
adds them. Everything in worldtwin that touches a unit goes through this module.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pint

ureg: pint.UnitRegistry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
# Plant-floor units pint lacks. Currencies are independent dimensions: converting EUR to USD is a
# business decision, not a unit conversion, so it is refused.
ureg.define("EUR = [currency_eur]")
ureg.define("USD = [currency_usd]")
ureg.define("item = [count] = items = pcs = unit_count")
ureg.define("batch = [batch_count] = batches")
# Gauge pressures (relative to 1 standard atmosphere) and gas volume at normal conditions (0 °C, 1 atm).
ureg.define("barg = bar; offset: 1.01325 = bar_g")
ureg.define("psig = psi; offset: 14.69595 = psi_g")
ureg.define("Nm3 = 44.6150 * mol = normal_cubic_meter")


# Plant shorthand for powers of lengths: m3/h, cm2, ft3 → m^3/h, cm^2, ft^3.
_LENGTH_POWER = re.compile(r"\b(m|cm|mm|dm|km|ft|in)([23])\b")


class UnitParseError(ValueError):
    """A unit string pint cannot read."""


@lru_cache(maxsize=512)
def parse_unit(text: str) -> pint.Unit:
    """Parse a unit string such as ``"degC"``, ``"kmol/m^3"``, ``"%"`` or ``""`` (dimensionless)."""
    cleaned = text.strip()
    if cleaned in ("", "1", "-", "dimensionless"):
        return ureg.dimensionless
    try:
        parsed = ureg.parse_units(_LENGTH_POWER.sub(r"\1^\2", cleaned))
    except (
        pint.errors.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        AttributeError,
        TypeError,
        ValueError,
        AssertionError,
        KeyError,
    ) as exc:
        raise UnitParseError(f"unknown unit {text!r}") from exc
    return parsed


def is_valid_unit(text: str) -> bool:
    try:
        parse_unit(text)
    except UnitParseError:
        return False
    return True


def compatible(a: str, b: str) -> bool:
    """True when values in unit ``a`` can be converted to unit ``b``."""
    return bool(parse_unit(a).dimensionality == parse_unit(b).dimensionality)


def convert(values: np.ndarray | float, source: str, target: str) -> np.ndarray:
    """Convert ``values`` from ``source`` to ``target`` units (offset units such as degC handled).

    Raises :class:`pint.DimensionalityError` when the units measure different things.
    """
    if source == target:
        return np.asarray(values, dtype=float)
    quantity = ureg.Quantity(np.asarray(values, dtype=float), parse_unit(source))
    return np.asarray(quantity.to(parse_unit(target)).magnitude, dtype=float)


def seconds(value: float | str) -> float:
    """A duration given as a number of seconds or a string with a time unit (``"5 min"``) → seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    try:
        quantity: pint.Quantity | float = ureg.Quantity(value)
    except (
        pint.errors.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        ValueError,
        TypeError,
        AttributeError,
    ) as exc:
        raise ValueError(f"cannot read {value!r} as a duration; write e.g. 10, '10 s' or '5 min'") from exc
    if isinstance(quantity, int | float):
        return float(quantity)
    if quantity.dimensionality != ureg.second.dimensionality:
        raise ValueError(f"{value!r} is not a duration; write e.g. 10, '10 s' or '5 min'")
    return float(quantity.to("s").magnitude)
