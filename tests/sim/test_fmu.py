"""The FMU adapter against real FMI 2.0 co-simulation FMUs, built here with pythonfmu (nothing downloaded)."""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pythonfmu.builder import FmuBuilder  # dev extra; fmpy comes with it through worldtwin[fmu]

from worldtwin.errors import SimulationError
from worldtwin.sim import check_twin_env
from worldtwin.sim.fmu import FmuTwinEnv

# A lumped electric heater: C·dT/dt = P − UA·(T − T_amb), stepped with its exact solution.
HEATER_SOURCE = """
import math
from pythonfmu import Fmi2Causality, Fmi2Slave, Fmi2Variability, Real


class WtHeater(Fmi2Slave):
    author = "worldtwin tests"
    description = "Lumped electric heater"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.power = 0.0
        self.temperature = 293.15
        self.ambient = 293.15
        self.capacity = 5.0e4
        self.ua = 10.0
        self.register_variable(Real("power", causality=Fmi2Causality.input))
        self.register_variable(Real("temperature", causality=Fmi2Causality.output))
        tunable = Fmi2Variability.tunable
        self.register_variable(Real("ambient", causality=Fmi2Causality.parameter, variability=tunable))

    def do_step(self, current_time, step_size):
        settled = self.ambient + self.power / self.ua
        decay = math.exp(-self.ua * step_size / self.capacity)
        self.temperature = settled + (self.temperature - settled) * decay
        return True
"""
CAPACITY, UA, AMBIENT = 5.0e4, 10.0, 293.15
UNIT_DEFINITIONS = (
    '<UnitDefinitions><Unit name="W"><BaseUnit kg="1" m="2" s="-3"/></Unit>'
    '<Unit name="K"><BaseUnit K="1"/></Unit></UnitDefinitions>'
)


@pytest.fixture(scope="module")
def heater_fmu(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fmu")
    script = folder / "WtHeater.py"
    script.write_text(HEATER_SOURCE, encoding="utf-8")
    return Path(FmuBuilder.build_FMU(script, dest=folder))


@pytest.fixture(scope="module")
def declared_fmu(heater_fmu: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same FMU with units, bounds and a default step size declared, as modelling tools export them."""
    target = tmp_path_factory.mktemp("declared") / "WtHeater.fmu"
    declarations = {"power": 'unit="W" min="0" max="2000"', "temperature": 'unit="K" min="250" max="450"'}
    with zipfile.ZipFile(heater_fmu) as source, zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "modelDescription.xml":
                text = data.decode()
                for name, attributes in declarations.items():
                    text = re.sub(rf'(name="{name}".*?<Real)', rf"\1 {attributes}", text, count=1, flags=re.S)
                text = text.replace("<LogCategories>", UNIT_DEFINITIONS + "<LogCategories>")
                text = text.replace("<ModelVariables>", '<DefaultExperiment stepSize="30"/><ModelVariables>')
                data = text.encode()
            out.writestr(item, data)
    return target


def expected_temperature(power: float, seconds: float, start: float = AMBIENT) -> float:
    settled = AMBIENT + power / UA
    return settled + (start - settled) * math.exp(-UA * seconds / CAPACITY)


def test_spec_from_the_model_description(heater_fmu: Path) -> None:
    env = FmuTwinEnv(heater_fmu, sample_period=60.0, action_bounds={"power": (0.0, 1500.0)})
    try:
        twin = env.twin
        assert twin.name == "fmu-wtheater"
        assert twin.tag_names == ["temperature", "power"]
        assert twin.action_names == ["power"] and twin.action("power").bounds == (0.0, 1500.0)
        assert twin.action("power").default == 0.0  # the FMU's start value
        assert twin.sample_period == 60.0
    finally:
        env.close()


def test_steps_follow_the_fmus_dynamics(heater_fmu: Path) -> None:
    env = FmuTwinEnv(heater_fmu, sample_period=60.0, action_bounds={"power": (0.0, 1500.0)})
    try:
        obs, _ = env.reset(seed=0)
        assert obs[0] == pytest.approx(AMBIENT)
        temperature = AMBIENT
        for _ in range(30):
            obs, *_ = env.step(np.array([1000.0]))
            temperature = expected_temperature(1000.0, 60.0, temperature)
            assert obs[0] == pytest.approx(temperature, rel=1e-12)
        assert env.time == 1800.0
        obs, _ = env.reset(seed=1)  # fmi2Reset brings the FMU back to its start
        assert obs[0] == pytest.approx(AMBIENT)
    finally:
        env.close()


def test_start_values_set_parameters(heater_fmu: Path) -> None:
    env = FmuTwinEnv(
        heater_fmu,
        sample_period=60.0,
        action_bounds={"power": (0.0, 1500.0)},
        start_values={"ambient": 280.0},
    )
    try:
        obs, _ = env.reset(seed=0)
        obs, *_ = env.step(np.array([0.0]))
        assert obs[0] < AMBIENT  # cooling toward the colder ambient
    finally:
        env.close()


def test_conformance(heater_fmu: Path) -> None:
    check_twin_env(lambda: FmuTwinEnv(heater_fmu, sample_period=10.0, action_bounds={"power": (0.0, 1500.0)}))


def test_declared_units_and_bounds_carry_over(declared_fmu: Path) -> None:
    env = FmuTwinEnv(declared_fmu)
    try:
        assert env.twin.sample_period == 30.0  # the FMU's default experiment step size
        assert env.twin.tag("power").unit == "W" and env.twin.action("power").bounds == (0.0, 2000.0)
        assert env.twin.tag("temperature").unit == "K" and env.twin.tag("temperature").range == (250.0, 450.0)
    finally:
        env.close()


def test_inputs_without_bounds_need_action_bounds(heater_fmu: Path) -> None:
    with pytest.raises(SimulationError, match=r"input 'power' declares no min/max; pass action_bounds"):
        FmuTwinEnv(heater_fmu, sample_period=60.0)


def test_bad_arguments_are_reported(heater_fmu: Path, tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="declares no default step size; pass sample_period"):
        FmuTwinEnv(heater_fmu, action_bounds={"power": (0.0, 1.0)})
    with pytest.raises(SimulationError, match=r"\['flow'\] are not inputs"):
        FmuTwinEnv(heater_fmu, sample_period=1.0, inputs=["flow"])
    with pytest.raises(SimulationError, match="start_values names unknown variables"):
        FmuTwinEnv(
            heater_fmu, sample_period=1.0, action_bounds={"power": (0.0, 1.0)}, start_values={"x": 1.0}
        )
    not_fmu = tmp_path / "broken.fmu"
    not_fmu.write_text("not a zip", encoding="utf-8")
    with pytest.raises(SimulationError, match="cannot read the FMU's model description"):
        FmuTwinEnv(not_fmu, sample_period=1.0)
    with pytest.raises(SimulationError, match="not found"):
        FmuTwinEnv(tmp_path / "missing.fmu", sample_period=1.0)
