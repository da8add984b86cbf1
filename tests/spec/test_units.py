from __future__ import annotations

import numpy as np
import pint
import pytest

from worldtwin.spec.units import UnitParseError, compatible, convert, parse_unit, seconds


@pytest.mark.parametrize(
    "text", ["K", "degC", "kmol/m^3", "m3/h", "%", "EUR/MWh", "items/h", "barg", "Nm3/h", ""]
)
def test_plant_units_parse(text: str) -> None:
    parse_unit(text)


def test_unknown_unit_raises() -> None:
    with pytest.raises(UnitParseError, match="furlongz"):
        parse_unit("furlongz")


def test_offset_and_gauge_conversions() -> None:
    np.testing.assert_allclose(convert([0.0, 100.0], "degC", "K"), [273.15, 373.15])
    np.testing.assert_allclose(convert(0.0, "barg", "bar"), 1.01325)
    np.testing.assert_allclose(convert(3.6, "m3/h", "L/s"), 1.0)


def test_incompatible_units_refuse_to_convert() -> None:
    assert not compatible("K", "bar")
    assert not compatible("EUR", "USD")
    with pytest.raises(pint.DimensionalityError):
        convert(1.0, "K", "bar")


@pytest.mark.parametrize(
    ("value", "expected"), [(5, 5.0), ("500 ms", 0.5), ("5 min", 300.0), ("2 h", 7200.0)]
)
def test_durations(value: object, expected: float) -> None:
    assert seconds(value) == pytest.approx(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["10 kg", "soon", True])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        seconds(value)  # type: ignore[arg-type]
