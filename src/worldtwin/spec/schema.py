"""The twin spec as typed pydantic models: the single source of truth for every layer.

A twin spec says what a plant *is* (assets, tags with units and ranges), what may be done to it
(actions with bounds and rate limits), what must never happen (hard limits), what good looks like
(objectives), where its data comes from (sources) and how to learn its world model (model).

Field-level checks live on the fields; checks that relate fields to each other (an objective naming
an unknown tag, action bounds outside the tag's range, ...) live in :mod:`worldtwin.spec.checks`, so
that every problem in a file is reported at once with its location.

All models are frozen: a loaded spec, and the hard limits in it, cannot be mutated in place. Edits
make a new spec (``spec.model_copy(update=...)``) that is validated again.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from worldtwin.spec.units import seconds

TAG_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.:\-]*$"
METADATA_NAME_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"
RESERVED_COLUMNS = ("time", "episode")

TagKind = Literal["observation", "action", "disturbance", "kpi"]
AssetLevel = Literal["enterprise", "site", "area", "line", "unit", "equipment"]
ASSET_LEVEL_ORDER: tuple[str, ...] = ("enterprise", "site", "area", "line", "unit", "equipment")
ResampleMethod = Literal["mean", "last", "interpolate"]
Severity = Literal["warning", "alarm", "trip"]
CalendarFeature = Literal["time_of_day", "day_of_week", "shift"]


def _to_seconds(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float | str):
        return seconds(value)
    return value


Duration = Annotated[float, BeforeValidator(_to_seconds), Field(gt=0)]
"""Seconds; YAML may also say ``"500 ms"`` or ``"5 min"``."""


class _SpecModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Metadata(_SpecModel):
    """Who and what the twin is."""

    name: str = Field(pattern=METADATA_NAME_PATTERN, description="Short id: lowercase, digits, '-', '_'.")
    title: str = Field("", description="Human-readable name.")
    description: str = Field("", description="What the plant is and does.")
    version: str = Field("1", description="Version of this spec; bump it when the plant changes.")
    owner: str = Field("", description="Responsible engineer or team.")


class Asset(_SpecModel):
    """One node of the ISA-95 equipment hierarchy (enterprise → site → area → line → unit → equipment)."""

    id: str = Field(pattern=TAG_NAME_PATTERN, description="Unique asset id.")
    level: AssetLevel = Field(description="ISA-95 level: enterprise, site, area, line, unit or equipment.")
    parent: str | None = Field(None, description="Id of the parent asset; must sit at a higher level.")
    name: str = Field("", description="Human-readable name.")
    description: str = Field("", description="Free text.")


class Tag(_SpecModel):
    """A named signal: measured, manipulated, or a disturbance or KPI, in engineering units."""

    name: str = Field(pattern=TAG_NAME_PATTERN, description="Unique tag name; the column name in datasets.")
    unit: str = Field(
        "", description="Engineering unit understood by pint, e.g. 'K', 'kmol/m^3', '%', 'EUR/MWh'."
    )
    kind: TagKind = Field(
        "observation",
        description="observation (measured state), action (manipulated), disturbance (measured, not "
        "manipulated) or kpi (derived performance figure).",
    )
    range: tuple[float, float] | None = Field(
        None,
        description="[min, max] physically plausible values; readings outside are flagged by validation.",
    )
    sampling_period: Duration | None = Field(
        None,
        description="Seconds between fresh readings when slower than the twin's sample_period (e.g. an "
        "analyzer); the value is held between readings.",
    )
    resample: ResampleMethod = Field("mean", description="How to bring this tag onto the twin's time grid.")
    known_ahead: bool = Field(
        False,
        description="Disturbances only: future values are known or forecast (a schedule, a price), so "
        "the world model is conditioned on them like an action.",
    )
    asset: str | None = Field(None, description="Id of the asset this tag belongs to.")
    description: str = Field("", description="What the tag measures or sets.")

    @field_validator("range")
    @classmethod
    def _range_ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError(f"range min {value[0]} must be below max {value[1]}")
        return value


class Action(_SpecModel):
    """What the planner may move, and how far and how fast."""

    tag: str = Field(description="Name of a tag of kind 'action'.")
    bounds: tuple[float, float] = Field(description="[min, max] allowed set-point, in the tag's unit.")
    max_rate: float | None = Field(
        None, gt=0, description="Largest allowed change per second, in tag units per second."
    )
    default: float | None = Field(None, description="Value at start-up; the middle of bounds when omitted.")

    @field_validator("bounds")
    @classmethod
    def _bounds_ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError(f"bounds min {value[0]} must be below max {value[1]}")
        return value

    @property
    def start_value(self) -> float:
        return self.default if self.default is not None else 0.5 * (self.bounds[0] + self.bounds[1])


class HardLimit(_SpecModel):
    """A limit no proposal may cross. Checked when a proposal is made and again when it is applied."""

    tag: str = Field(description="Tag the limit applies to.")
    min: float | None = Field(None, description="Lowest allowed value.")
    max: float | None = Field(None, description="Highest allowed value.")
    severity: Severity = Field("trip", description="warning, alarm or trip.")
    description: str = Field("", description="Why the limit exists (shown with violations).")


class Objective(_SpecModel):
    """What good operation means. Several objectives are summed with their weights."""

    kind: Literal["setpoint", "minimize", "maximize"] = Field(description="setpoint, minimize or maximize.")
    tag: str = Field(description="Tag the objective is about.")
    target: float | None = Field(None, description="Setpoint value (setpoint objectives only).")
    weight: float = Field(1.0, gt=0, description="Relative weight against the other objectives.")


class FileSource(_SpecModel):
    """A historian export on disk."""

    type: Literal["csv", "parquet"] = Field(description="File format.")
    path: str = Field(description="File path, relative to the spec file.")
    layout: Literal["wide", "long"] = Field(
        "wide", description="wide: one column per tag; long: tag, time, value rows."
    )
    time_column: str = Field("time", description="Column holding the timestamp.")
    timezone: str | None = Field(None, description="IANA zone of naive timestamps, e.g. 'Europe/Berlin'.")
    columns: dict[str, str] = Field(
        default_factory=dict, description="File column → tag name, when they differ."
    )
    units: dict[str, str] = Field(
        default_factory=dict, description="Tag → unit used in the file, converted on import."
    )


class OpcUaSource(_SpecModel):
    """A live OPC UA server."""

    type: Literal["opcua"] = Field(description="'opcua'.")
    endpoint: str = Field(description="Server URL, e.g. opc.tcp://127.0.0.1:4840/worldtwin/")
    nodes: dict[str, str] = Field(description="Tag name → OPC UA node id, e.g. 'ns=2;s=Reactor.T'.")
    publishing_interval: Duration = Field(1.0, description="Subscription publishing interval, seconds.")
    security: str = Field(
        "None",
        description="'None' (loopback and test servers only), or an asyncua security string "
        "'Policy,Mode,client-cert.pem,client-key.pem[,server-cert.pem]', e.g. "
        "'Basic256Sha256,SignAndEncrypt,cert.pem,key.pem'.",
    )
    username: str | None = Field(None, description="User name, when the server requires one.")
    password_env: str | None = Field(
        None, description="Name of the environment variable holding the password (never the password itself)."
    )


class MqttSource(_SpecModel):
    """A live MQTT broker carrying JSON or Sparkplug B payloads."""

    type: Literal["mqtt"] = Field(description="'mqtt'.")
    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port.")
    topic: str = Field(description="Topic filter, e.g. 'plant/reactor/#' or 'spBv1.0/plant/#'.")
    payload: Literal["json", "sparkplug"] = Field("json", description="Payload encoding.")
    tags: dict[str, str] = Field(
        default_factory=dict, description="Payload metric name → tag name, when they differ."
    )
    qos: int = Field(
        1,
        ge=0,
        le=2,
        description="Subscription QoS. With 1 or 2 the broker keeps a session and holds messages while we "
        "reconnect; 0 loses what is published while the connection is down.",
    )
    username: str | None = Field(None, description="User name, when the broker requires one.")
    password_env: str | None = Field(
        None, description="Name of the environment variable holding the password (never the password itself)."
    )
    tls: bool = Field(False, description="Connect with TLS (use port 8883 on most brokers).")
    ca_file: str | None = Field(None, description="CA certificate file for TLS; the system CAs when omitted.")


class SimulatorSource(_SpecModel):
    """A registered simulator twin, e.g. 'worldtwin/cstr-v1'."""

    type: Literal["simulator"] = Field(description="'simulator'.")
    twin: str = Field(description="Registered twin id.")


Source = Annotated[FileSource | OpcUaSource | MqttSource | SimulatorSource, Field(discriminator="type")]


class ModelConfig(_SpecModel):
    """How to learn this twin's world model; defaults were chosen by measurement (docs/world-model.md)."""

    latent_dim: int = Field(32, ge=2, le=1024, description="Size of the latent state z.")
    history: int = Field(3, ge=1, le=64, description="Past samples the encoder sees.")
    predictor: Literal["mlp", "transformer"] = Field("mlp", description="Latent predictor architecture.")
    rollout_steps: int = Field(
        16, ge=1, le=256, description="Open-loop steps in the multi-step training loss."
    )
    sigreg_weight: float = Field(0.01, ge=0, description="λ of the SIGReg anti-collapse term.")
    ensemble: int = Field(5, ge=1, le=32, description="Predictors in the ensemble (epistemic spread).")
    anchored: Literal["auto", "on", "off"] = Field(
        "auto", description="Decode relative to the last observation; 'auto' picks by validation."
    )
    calendar: list[CalendarFeature] = Field(
        default_factory=list, description="Calendar features fed to the predictor as known future inputs."
    )
    band: float = Field(0.9, gt=0, lt=1, description="Coverage of the reported prediction band.")


class Twin(_SpecModel):
    """A plant: the root of a twin spec file."""

    spec_version: Literal[1] = Field(1, description="Version of the spec format.")
    metadata: Metadata = Field(description="Name, title, owner and version of the twin.")
    sample_period: Duration = Field(description="Seconds between rows of the twin's time grid (Δt).")
    assets: list[Asset] = Field(default_factory=list, description="Equipment hierarchy the tags belong to.")
    tags: list[Tag] = Field(
        min_length=1, description="Every signal of the plant; their order is the vector order."
    )
    actions: list[Action] = Field(
        default_factory=list, description="Bounds and rate limits of the action tags."
    )
    limits: list[HardLimit] = Field(default_factory=list, description="Hard limits no proposal may cross.")
    objectives: list[Objective] = Field(default_factory=list, description="What good operation means.")
    sources: list[Source] = Field(default_factory=list, description="Where the plant's data comes from.")
    model: ModelConfig = Field(default_factory=ModelConfig, description="World-model settings.")

    # --- lookups -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.metadata.name

    def tag(self, name: str) -> Tag:
        for tag in self.tags:
            if tag.name == name:
                return tag
        raise KeyError(name)

    def action(self, tag: str) -> Action:
        for action in self.actions:
            if action.tag == tag:
                return action
        raise KeyError(tag)

    def names(self, *kinds: TagKind) -> list[str]:
        """Tag names of the given kinds, in spec order."""
        return [t.name for t in self.tags if t.kind in kinds]

    @property
    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]

    @property
    def action_names(self) -> list[str]:
        """Manipulated tags, in spec order: the action vector of the environment."""
        return self.names("action")

    @property
    def measured_names(self) -> list[str]:
        """Every tag that is not an action, in spec order: the observation vector of the environment."""
        return [t.name for t in self.tags if t.kind != "action"]

    @property
    def known_input_names(self) -> list[str]:
        """Disturbances whose future is known or forecast: they condition the world model like actions."""
        return [t.name for t in self.tags if t.kind == "disturbance" and t.known_ahead]

    @property
    def predicted_names(self) -> list[str]:
        """Tags the world model forecasts: everything measured except known-ahead inputs."""
        known = set(self.known_input_names)
        return [n for n in self.measured_names if n not in known]

    def spec_hash(self) -> str:
        """SHA-256 over the canonical JSON of the spec; stored beside every artifact built from it."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


SPEC_MODELS: tuple[type[BaseModel], ...] = (
    Twin,
    Metadata,
    Asset,
    Tag,
    Action,
    HardLimit,
    Objective,
    ModelConfig,
    FileSource,
    OpcUaSource,
    MqttSource,
    SimulatorSource,
)
