"""An FMU (FMI 2.0 co-simulation) as a worldtwin twin, its spec read from the model description.

    from worldtwin.sim.fmu import FmuTwinEnv
    env = FmuTwinEnv("Heater.fmu", sample_period=10.0, action_bounds={"power": (0, 5000)})

Generated spec: Real inputs become ``action`` tags (bounds from the FMU's ``min``/``max``, or from
``action_bounds`` when the FMU declares none; start from the FMU's ``start``), Real and Integer
outputs become ``observation`` tags (``min``/``max`` become the tag range), declared units carry over
when pint understands them. Each ``step`` sets the inputs and advances ``fmi2DoStep`` by the sample
period (``sample_period``, else the FMU's default-experiment step size). ``reset`` uses ``fmi2Reset``.
FMUs are deterministic; the seed only matters to FMUs that take one as a parameter (``start_values``).

Needs the ``fmu`` extra (``pip install 'worldtwin[fmu]'``, which installs fmpy).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from worldtwin.errors import SimulationError, SpecError, require
from worldtwin.sim.env import TwinEnv
from worldtwin.spec.checks import check_twin
from worldtwin.spec.schema import TAG_NAME_PATTERN, Twin
from worldtwin.spec.units import is_valid_unit


class FmuTwinEnv(TwinEnv):
    """A co-simulation FMU stepped at the twin's sample period."""

    def __init__(
        self,
        path: str | Path,
        *,
        sample_period: float | None = None,
        action_bounds: Mapping[str, tuple[float, float]] | None = None,
        inputs: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None,
        start_values: Mapping[str, float] | None = None,
        max_episode_steps: int | None = None,
    ) -> None:
        fmpy: Any = require("fmpy", "fmu")
        self.path = Path(path)
        if not self.path.is_file():
            raise SimulationError(f"FMU file {str(self.path)!r} not found; check the path")
        try:
            description = fmpy.read_model_description(str(self.path))
        except Exception as exc:  # fmpy raises plain Exception for malformed archives and XML
            raise SimulationError(
                f"{self.path}: cannot read the FMU's model description ({exc}); "
                "is it an FMI 2.0 .fmu archive?"
            ) from None
        if description.fmiVersion != "2.0" or description.coSimulation is None:
            raise SimulationError(
                f"{self.path}: FMI {description.fmiVersion} FMU without an FMI 2.0 co-simulation "
                "interface; export it as FMI 2.0 co-simulation"
            )
        variables = {v.name: v for v in description.modelVariables}
        self._inputs = _select(variables, inputs, "input", ("Real",), self.path)
        self._outputs = _select(variables, outputs, "output", ("Real", "Integer"), self.path)
        unknown = sorted(set(start_values or {}) - set(variables))
        if unknown:
            raise SimulationError(
                f"{self.path}: start_values names unknown variables {unknown}; "
                f"the FMU has {sorted(variables)}"
            )
        if sample_period is None:
            experiment = description.defaultExperiment
            step = getattr(experiment, "stepSize", None) if experiment is not None else None
            if step is None:
                raise SimulationError(
                    f"{self.path}: the FMU declares no default step size; pass sample_period=<seconds>"
                )
            sample_period = float(step)
        twin = _spec(
            description, self._inputs, self._outputs, dict(action_bounds or {}), sample_period, self.path
        )
        super().__init__(twin, max_episode_steps=max_episode_steps)

        self._start_values = {
            variables[name].valueReference: float(value) for name, value in (start_values or {}).items()
        }
        self._input_refs = [v.valueReference for v in self._inputs]
        self._real_outputs = [v.valueReference for v in self._outputs if v.type == "Real"]
        self._integer_outputs = [v.valueReference for v in self._outputs if v.type == "Integer"]
        self._output_tags = [(_tag_name(v.name), v.valueReference) for v in self._outputs]
        self._unzipped = tempfile.mkdtemp(prefix="worldtwin-fmu-")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._unzipped, True)
        fmpy.extract(str(self.path), self._unzipped)
        from fmpy.fmi2 import FMU2Slave

        self._fmu = FMU2Slave(
            guid=description.guid,
            unzipDirectory=self._unzipped,
            modelIdentifier=description.coSimulation.modelIdentifier,
            instanceName=twin.name,
        )
        self._instantiated = False
        self._clock = 0.0

    def _reset(self, options: dict[str, Any] | None) -> dict[str, float]:
        with _fmi_errors(self.path, "reset"):
            if self._instantiated:
                self._fmu.reset()
            else:
                self._fmu.instantiate()
                self._instantiated = True
            self._fmu.setupExperiment(startTime=0.0)
            if self._start_values:
                self._fmu.setReal(list(self._start_values), list(self._start_values.values()))
            self._fmu.setReal(self._input_refs, self._default_action.tolist())
            self._fmu.enterInitializationMode()
            self._fmu.exitInitializationMode()
        self._clock = 0.0
        return self._read()

    def _advance(self, action: np.ndarray) -> dict[str, float]:
        with _fmi_errors(self.path, f"doStep at t = {self._clock:g} s"):
            self._fmu.setReal(self._input_refs, action.tolist())
            self._fmu.doStep(
                currentCommunicationPoint=self._clock, communicationStepSize=self.twin.sample_period
            )
        self._clock += self.twin.sample_period
        return self._read()

    def _read(self) -> dict[str, float]:
        with _fmi_errors(self.path, "reading outputs"):
            values: dict[int, float] = {}
            if self._real_outputs:
                values.update(zip(self._real_outputs, self._fmu.getReal(self._real_outputs), strict=True))
            if self._integer_outputs:
                values.update(
                    zip(self._integer_outputs, self._fmu.getInteger(self._integer_outputs), strict=True)
                )
        return {name: float(values[ref]) for name, ref in self._output_tags}

    def close(self) -> None:
        if self._instantiated:
            self._fmu.terminate()
            self._fmu.freeInstance()
            self._instantiated = False
        self._cleanup()
        super().close()


@contextmanager
def _fmi_errors(path: Path, doing: str) -> Iterator[None]:
    """Turn an FMI error status (fmpy raises ``FMICallException``) into a SimulationError."""
    from fmpy.fmi1 import FMICallException

    try:
        yield
    except FMICallException as exc:
        raise SimulationError(f"{path}: the FMU failed while {doing}: {exc}") from None


def _select(
    variables: Mapping[str, Any],
    wanted: Sequence[str] | None,
    causality: str,
    types: tuple[str, ...],
    path: Path,
) -> list[Any]:
    """The FMU variables of one causality, all of them or the ``wanted`` ones, all of usable type."""
    candidates = [v for v in variables.values() if v.causality == causality]
    if wanted is not None:
        missing = [name for name in wanted if name not in {v.name for v in candidates}]
        if missing:
            raise SimulationError(
                f"{path}: {missing} are not {causality}s of the FMU; its {causality}s are "
                f"{[v.name for v in candidates]}"
            )
        candidates = [v for v in candidates if v.name in set(wanted)]
    unusable = [f"{v.name} ({v.type})" for v in candidates if v.type not in types]
    if unusable:
        raise SimulationError(
            f"{path}: {causality}s {unusable} are not {' or '.join(types)}; a twin needs numeric "
            f"{causality}s. Pass {causality}s=[...] naming the ones to use"
        )
    if not candidates:
        role = "actions (Real inputs)" if causality == "input" else "observations (outputs)"
        raise SimulationError(
            f"{path}: the FMU has no {causality}s; a twin needs at least one, for its {role}"
        )
    return candidates


def _spec(
    description: Any,
    inputs: list[Any],
    outputs: list[Any],
    bounds: dict[str, tuple[float, float]],
    sample_period: float,
    path: Path,
) -> Twin:
    unknown = sorted(set(bounds) - {v.name for v in inputs})
    if unknown:
        raise SimulationError(
            f"{path}: action_bounds names {unknown}, which are not inputs of the FMU; "
            f"its inputs are {[v.name for v in inputs]}"
        )
    tags: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    for variable in outputs:
        tags.append({**_tag(variable), "kind": "observation", "range": _declared_range(variable)})
    for variable in inputs:
        declared = _declared_range(variable)
        chosen = bounds.get(variable.name) or declared
        if chosen is None:
            raise SimulationError(
                f"{path}: input {variable.name!r} declares no min/max; pass "
                f"action_bounds={{{variable.name!r}: (low, high)}} with its safe bounds"
            )
        lo, hi = float(chosen[0]), float(chosen[1])
        tag_range = [min(lo, declared[0]), max(hi, declared[1])] if declared else [lo, hi]
        tags.append({**_tag(variable), "kind": "action", "range": tag_range})
        action: dict[str, Any] = {"tag": _tag_name(variable.name), "bounds": [lo, hi]}
        start = _number(variable.start)
        if start is not None and lo <= start <= hi:
            action["default"] = start
        actions.append(action)
    name = re.sub(r"[^a-z0-9_\-]+", "-", str(description.modelName).lower()).strip("-_") or "fmu"
    data = {
        "metadata": {
            "name": f"fmu-{name}",
            "title": f"FMU {description.modelName}",
            "description": (description.description or "") + f" (FMU {path.name})",
        },
        "sample_period": sample_period,
        "tags": [{k: v for k, v in tag.items() if v not in (None, "")} for tag in tags],
        "actions": actions,
    }
    twin = Twin.model_validate(data)
    problems = check_twin(twin)
    if problems:
        raise SpecError(problems, source=f"spec generated from {path}")
    return twin


def _tag(variable: Any) -> dict[str, Any]:
    declared = variable.declaredType
    unit = variable.unit or (declared.unit if declared is not None else None) or ""
    note = variable.description or ""
    if unit and not is_valid_unit(unit):
        note = f"{note} (FMU unit {unit!r}, not understood by pint)".strip()
        unit = ""
    return {"name": _tag_name(variable.name), "unit": unit, "description": note}


def _declared_range(variable: Any) -> list[float] | None:
    declared = variable.declaredType
    lo = _number(
        variable.min if variable.min is not None else (declared.min if declared is not None else None)
    )
    hi = _number(
        variable.max if variable.max is not None else (declared.max if declared is not None else None)
    )
    return [lo, hi] if lo is not None and hi is not None and lo < hi else None


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _tag_name(variable: str) -> str:
    """FMI names like ``tank.level`` are tag names already; ``x[1]`` becomes ``x_1``."""
    if re.match(TAG_NAME_PATTERN, variable):
        return variable
    return re.sub(r"[^A-Za-z0-9_.:\-]+", "_", variable).strip("_") or "var"
