from __future__ import annotations

import gymnasium
import pytest

from worldtwin.errors import UnknownTwinError
from worldtwin.sim import registry
from worldtwin.spec import Twin

from .test_env import Tank


@pytest.fixture
def tank_id(tank_spec: Twin, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    twin_id = "tests/tank-v1"
    registry.register(twin_id, lambda **kw: Tank(tank_spec, **kw), description="test tank")
    yield twin_id
    gymnasium.registry.pop(twin_id, None)


def test_make_builds_the_env_with_overrides(tank_id: str) -> None:
    env = registry.make(tank_id, max_episode_steps=5)
    assert isinstance(env, Tank) and env.max_episode_steps == 5
    assert registry.spec_of(tank_id).name == "tank"
    assert tank_id in registry.registered()


def test_gymnasium_make_works_too(tank_id: str) -> None:
    env = gymnasium.make(tank_id)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3,)


def test_unknown_id_suggests_close_ones(tank_id: str) -> None:
    with pytest.raises(UnknownTwinError, match="did you mean 'tests/tank-v1'"):
        registry.make("tests/tnak-v1")
    with pytest.raises(UnknownTwinError, match="did you mean 'tests/tank-v1'"):
        registry.make("tank")


@pytest.mark.parametrize("bad", ["Tank", "tests/tank", "tests/Tank-v1"])
def test_ids_must_be_namespaced_and_versioned(bad: str) -> None:
    with pytest.raises(ValueError, match="namespace/name-v1"):
        registry.register(bad, Tank)


def test_duplicate_registration_is_refused(tank_id: str) -> None:
    with pytest.raises(ValueError, match="already registered"):
        registry.register(tank_id, Tank)
