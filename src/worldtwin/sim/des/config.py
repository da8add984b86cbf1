"""Parameters of a discrete-event packaging line, with plausible defaults for a small bottling line.

Every number carries its unit in its name (``_s`` seconds, ``_kw`` kilowatts, ``_per_min`` items per
minute). The defaults describe a 7,000 bottles/hour line — filler → capper → labeller → case packer —
chosen by the author to be plausible for such a line (see ``docs/packaging-line.md``); they are not
measured on a real plant. Replace them with your own line's figures (OEE reports, machine manuals,
maintenance logs) by passing a :class:`LineConfig` to the twin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from worldtwin.errors import SimulationError

STATES: tuple[str, ...] = ("running", "starved", "blocked", "down", "changeover", "maintenance")
"""Station states, in the order of their numeric codes (``running`` = 0 ... ``maintenance`` = 5)."""
RUNNING, STARVED, BLOCKED, DOWN, CHANGEOVER, MAINTENANCE = range(len(STATES))


@dataclass(frozen=True)
class StationConfig:
    """One machine of the line.

    Processing: each item takes ``60 / speed × cycle_factor(product) × g`` seconds, ``g`` gamma-distributed
    with mean 1 and coefficient of variation ``cycle_cv``.

    Two failure modes, both counted on running time only (a starved or blocked machine does not fail):
    *jams* (minor stops) with exponential time between them, accelerated by speed as
    ``(speed / nominal)^jam_speed_exponent``, cleared in an exponential time of mean ``jam_mttr_s``; and
    *breakdowns* (wear-out) with Weibull time between them (shape ``breakdown_shape``, mean
    ``breakdown_mtbf_s``), repaired in a lognormal time (mean ``breakdown_mttr_s``, coefficient of
    variation ``breakdown_repair_cv``).
    A repair or a preventive maintenance (``pm_duration_s``) makes the machine as good as new for breakdowns.
    """

    name: str
    nominal_speed_per_min: float
    min_speed_per_min: float
    max_speed_per_min: float
    cycle_cv: float = 0.05
    jam_mtbf_s: float = 900.0
    jam_mttr_s: float = 30.0
    jam_speed_exponent: float = 1.0
    breakdown_mtbf_s: float = 8 * 3600.0
    breakdown_shape: float = 1.8
    breakdown_mttr_s: float = 20 * 60.0
    breakdown_repair_cv: float = 0.6
    pm_duration_s: float = 30 * 60.0
    changeover_s: float = 15 * 60.0
    reject_fraction: float = 0.0
    power_kw: dict[str, float] = field(default_factory=dict)
    """Electrical power in each state of :data:`STATES`; ``running`` is at nominal speed."""
    running_power_exponent: float = 2.0
    """Running power = starved power + (running − starved) × (speed / nominal)^exponent."""

    def running_power_kw(self, speed_per_min: float) -> float:
        idle, run = self.power_kw["starved"], self.power_kw["running"]
        relative_speed = speed_per_min / self.nominal_speed_per_min
        return idle + (run - idle) * relative_speed**self.running_power_exponent


@dataclass(frozen=True)
class ProductConfig:
    """A product (format) the line can run. ``cycle_factor`` > 1 means longer cycles (a bigger bottle)."""

    name: str
    cycle_factor: float = 1.0


@dataclass(frozen=True)
class LineConfig:
    """Stations in flow order, the buffers between them, the products and the lot size."""

    stations: tuple[StationConfig, ...]
    buffer_capacities: tuple[int, ...]
    """Items each accumulation conveyor holds; one fewer than there are stations."""
    products: tuple[ProductConfig, ...]
    lot_size: int = 6000
    """Items per production order; at the end of a lot the filler switches to the requested next product."""

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise SimulationError("invalid packaging line configuration:\n  " + "\n  ".join(problems))

    @property
    def station_names(self) -> list[str]:
        return [s.name for s in self.stations]


def _problems(config: LineConfig) -> list[str]:
    out: list[str] = []
    if len(config.stations) < 2:
        out.append(f"{len(config.stations)} stations given; a line needs at least 2")
    if len(config.buffer_capacities) != len(config.stations) - 1:
        out.append(
            f"{len(config.buffer_capacities)} buffer capacities for {len(config.stations)} stations; "
            f"give exactly {len(config.stations) - 1} (one between each pair of stations)"
        )
    out += [
        f"buffer capacity {c} must be a positive whole number of items"
        for c in config.buffer_capacities
        if int(c) != c or c < 1
    ]
    if not config.products:
        out.append("no products given; declare at least one ProductConfig")
    out += [
        f"product {p.name!r}: cycle_factor {p.cycle_factor} must be > 0"
        for p in config.products
        if p.cycle_factor <= 0
    ]
    if config.lot_size < 1:
        out.append(f"lot_size {config.lot_size} must be at least 1 item")
    if len(set(config.station_names)) != len(config.stations):
        out.append(f"station names {config.station_names} must be unique")
    for s in config.stations:
        if not 0 < s.min_speed_per_min <= s.nominal_speed_per_min <= s.max_speed_per_min:
            out.append(
                f"station {s.name!r}: speeds must satisfy 0 < min ≤ nominal ≤ max, got "
                f"{s.min_speed_per_min}, {s.nominal_speed_per_min}, {s.max_speed_per_min} items/min"
            )
        positive = {
            "jam_mtbf_s": s.jam_mtbf_s,
            "jam_mttr_s": s.jam_mttr_s,
            "breakdown_mtbf_s": s.breakdown_mtbf_s,
            "breakdown_shape": s.breakdown_shape,
            "breakdown_mttr_s": s.breakdown_mttr_s,
            "pm_duration_s": s.pm_duration_s,
        }
        out += [
            f"station {s.name!r}: {key} = {value} must be > 0"
            for key, value in positive.items()
            if value <= 0
        ]
        non_negative = {
            "cycle_cv": s.cycle_cv,
            "breakdown_repair_cv": s.breakdown_repair_cv,
            "changeover_s": s.changeover_s,
        }
        out += [
            f"station {s.name!r}: {key} = {value} must be ≥ 0"
            for key, value in non_negative.items()
            if value < 0
        ]
        if not 0 <= s.reject_fraction < 1:
            out.append(f"station {s.name!r}: reject_fraction {s.reject_fraction} must lie in [0, 1)")
        missing = [state for state in STATES if state not in s.power_kw]
        if missing:
            out.append(
                f"station {s.name!r}: power_kw lacks the states {missing}; give kW for all of {STATES}"
            )
    return out


def _power(running: float, idle: float, down: float, setup: float) -> dict[str, float]:
    """Per-state power: starved and blocked machines idle; changeover and PM run at ``setup`` power."""
    return {
        "running": running,
        "starved": idle,
        "blocked": idle,
        "down": down,
        "changeover": setup,
        "maintenance": setup,
    }


BOTTLING_LINE = LineConfig(
    stations=(
        # The filler is the designed bottleneck; downstream machines run 8-17 % faster (a "V-curve"),
        # so they can empty the conveyors after a stop.
        StationConfig(
            "filler",
            nominal_speed_per_min=120,
            min_speed_per_min=40,
            max_speed_per_min=132,
            cycle_cv=0.03,
            jam_mtbf_s=20 * 60,
            jam_mttr_s=45,
            breakdown_mtbf_s=8 * 3600,
            breakdown_mttr_s=25 * 60,
            pm_duration_s=40 * 60,
            changeover_s=20 * 60,
            reject_fraction=0.003,
            power_kw=_power(running=22, idle=12, down=4, setup=6),
        ),
        StationConfig(
            "capper",
            nominal_speed_per_min=130,
            min_speed_per_min=40,
            max_speed_per_min=145,
            cycle_cv=0.04,
            jam_mtbf_s=15 * 60,
            jam_mttr_s=30,
            breakdown_mtbf_s=10 * 3600,
            breakdown_mttr_s=20 * 60,
            pm_duration_s=25 * 60,
            changeover_s=10 * 60,
            reject_fraction=0.002,
            power_kw=_power(running=6, idle=2.5, down=1, setup=1.5),
        ),
        StationConfig(
            "labeller",
            nominal_speed_per_min=135,
            min_speed_per_min=40,
            max_speed_per_min=150,
            cycle_cv=0.05,
            jam_mtbf_s=10 * 60,
            jam_mttr_s=40,
            breakdown_mtbf_s=12 * 3600,
            breakdown_mttr_s=20 * 60,
            pm_duration_s=30 * 60,
            changeover_s=15 * 60,
            reject_fraction=0.005,
            power_kw=_power(running=9, idle=4, down=1.5, setup=2),
        ),
        StationConfig(
            "packer",
            nominal_speed_per_min=140,
            min_speed_per_min=40,
            max_speed_per_min=160,
            cycle_cv=0.06,
            jam_mtbf_s=12 * 60,
            jam_mttr_s=60,
            breakdown_mtbf_s=10 * 3600,
            breakdown_mttr_s=30 * 60,
            pm_duration_s=30 * 60,
            changeover_s=12 * 60,
            reject_fraction=0.0,
            power_kw=_power(running=16, idle=10, down=3, setup=4),
        ),
    ),
    buffer_capacities=(150, 300, 400),
    products=(
        ProductConfig("0.33 l", cycle_factor=0.9),
        ProductConfig("0.5 l", cycle_factor=1.0),
        ProductConfig("1.0 l", cycle_factor=1.5),
    ),
    lot_size=6000,
)
"""The line of ``worldtwin/packaging-line-v1`` (plausible values, explained in docs/packaging-line.md)."""
